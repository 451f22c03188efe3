"""A mapping's per-patient memo holds what it counts: the JSON text of a source value is kept
at its own size, not in the buffer orjson wrote it into (stop 50: a Cal.com payload of 2.5 KB
kept 16 KB, so the memo's 8 MB bound on text was ~50 MB of keys)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from clinicsync.mappings.codegen import GroupMemo, _group_key, _keep

FIXTURE = Path(__file__).parents[1] / "fixtures" / "calcom" / "booking_created.json"
PAYLOAD = json.loads(FIXTURE.read_bytes())["payload"]


def test_a_kept_key_costs_about_its_text() -> None:
    values = [{**PAYLOAD, "uid": f"booking-{n}"} for n in range(300)]
    memo = GroupMemo()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for value in values:
            key = _group_key(value)
            assert key is not None
            _keep(memo, key, [value, (), (), None, None])
            del key
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(memo) == 300 and memo.text == sum(map(len, memo))
    text = memo.text
    assert held < 1.5 * text, (held, text)  # before: ~6.5x the text
    hit = memo.get(_group_key({**PAYLOAD, "uid": "booking-7"}))
    assert hit is not None and hit[0] is values[7]  # looked up by a fresh key: same bytes, same entry
