"""A mapping's per-patient memo holds what it counts: the JSON text of a source value is kept
at its own size, not in the buffer orjson wrote it into (a Cal.com payload of 2.5 KB
kept 16 KB, so the memo's 8 MB bound on text was ~50 MB of keys)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from clinicsync.mappings.codememo import GROUP_TRIAL, GroupMemo, group_key, keep_group
from clinicsync.mappings.engine import load_mapping

FIXTURE = Path(__file__).parents[1] / "fixtures" / "calcom" / "booking_created.json"
BODY = json.loads(FIXTURE.read_bytes())
PAYLOAD = BODY["payload"]


def _booking(n: int) -> dict[str, object]:
    """Cal.com's BOOKING_CREATED for booking ``n``, the same attendee each time (the connector
    adds ``appointment_id``)."""
    return {**BODY, "appointment_id": f"booking-{n}", "payload": {**PAYLOAD, "uid": f"booking-{n}"}}


def _group_memos(mapping: object) -> list[GroupMemo]:
    """The compiled mapping's group memos, emptied (a mapping is compiled once per process)."""
    namespace = mapping._generated.__globals__  # type: ignore[attr-defined]
    memos = [value for value in namespace.values() if isinstance(value, GroupMemo)]
    for memo in memos:
        memo.clear()
        memo.text = memo.hits = 0
    return memos


def test_a_kept_key_costs_about_its_text() -> None:
    values = [{**PAYLOAD, "uid": f"booking-{n}"} for n in range(300)]
    memo = GroupMemo()
    memo.hits = 1  # a memo that pays: it grows past GROUP_TRIAL (see below)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for value in values:
            key = group_key(value)
            assert key is not None
            keep_group(memo, key, [value, (), (), None, None])
            del key
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(memo) == 300 and memo.text == sum(map(len, memo))
    text = memo.text
    assert held < 1.5 * text, (held, text)  # before: ~6.5x the text
    hit = memo.get(group_key({**PAYLOAD, "uid": "booking-7"}))
    assert hit is not None and hit[0] is values[7]  # looked up by a fresh key: same bytes, same entry


def test_a_memo_whose_key_never_repeats_stays_at_its_trial() -> None:
    """Cal.com's patient and organizer groups are keyed by the whole ``payload``: every webhook
    differs (uid, times), so no entry is ever found again, and on main each memo kept every
    payload up to its 8 MB of text, ~50 MB with the parsed payloads (1,000 bookings: 1,000
    entries each). Now a memo with no hit in GROUP_TRIAL entries starts over."""
    mapping = load_mapping("calcom", "Europe/Madrid", "ES")
    memos = _group_memos(mapping)
    assert len(memos) == 2  # patient, practitioner
    for n in range(1_000):
        appointment = mapping.apply(_booking(n))
        assert appointment.external_id == f"booking-{n}"
        assert appointment.patient is not None and appointment.patient.email == "guest@example.com"
    assert all(0 < len(memo) <= GROUP_TRIAL for memo in memos), [len(memo) for memo in memos]
    assert all(memo.hits == 0 for memo in memos)


def test_a_memo_that_finds_its_entries_grows_past_its_trial() -> None:
    """The same payload mapped again (a retried webhook, a FHIR patient on each of their visits)
    is found: such a memo keeps every value up to its usual limits."""
    mapping = load_mapping("calcom", "Europe/Madrid", "ES")
    memos = _group_memos(mapping)
    for n in range(600):
        first, again = mapping.apply(_booking(n)), mapping.apply(_booking(n))
        assert again == first
    assert all(len(memo) == 600 and memo.hits == 600 for memo in memos), [(len(m), m.hits) for m in memos]
