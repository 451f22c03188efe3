"""The clinic simulation with waitlist entries (issue 33): every offer checked by the waitlist
oracle (tests/simulation/waitlist.py), and the oracle's own checks: each rule catches what
breaks it."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import Any

from tests.simulation.scenario import TZ, generate, local
from tests.simulation.waitlist import LEAD_TIME, entries_for, expected_slots, judge_waitlist
from tests.simulation.waitlist_run import simulate_waitlist

SEED, DAYS = 7, 8


def test_a_week_with_waitlist_entries_every_offer_checked(tmp_path: Path) -> None:
    scenario = generate(SEED, DAYS)
    reminders, waitlist = simulate_waitlist(scenario, f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    assert waitlist.ok, waitlist.report()
    assert waitlist.expected_slots > 0, waitlist.report()  # the week freed slots someone waited for
    # the reminders are unchanged by the waitlist; the offers themselves are the oracle's above
    # (the message oracle knows no offer, so each shows there as an extra "waitlist:offer:N")
    assert not [p for p in reminders.problems if " waitlist:offer:" not in p[1]], reminders.report()


# -- the oracle itself: each rule catches what breaks it --------------------------------------
def _case() -> tuple[Any, Any, str, dict[str, Any]]:
    """Seed 7's week as the oracle expects it: slot 1 is the one each test breaks; every other
    expected slot gets a proper offer so that only slot 1's problems show."""
    scenario = generate(SEED, DAYS)
    entries = entries_for(scenario)
    expected = expected_slots(scenario, entries)
    assert expected, "seed 7's week frees a slot someone waits for"
    rows: dict[str, Any] = {"slots": [], "offers": [], "entries": [
        {"id": n, "external_id": e.external_id, "patient_ref": e.patient, "status": "waiting"}
        for n, e in enumerate(entries, start=1)]}
    for slot_id, (external_id, fits) in enumerate(expected.items(), start=1):
        change = next(c for c in scenario.changes
                      if c.version.external_id == external_id and c.kind in ("cancel", "delete"))
        rows["slots"].append({"id": slot_id, "external_id": external_id, "start_utc": change.version.start,
                              "freed_at": change.at, "status": "open", "taken_offer_id": None,
                              "booking_status": None})
        if slot_id > 1:
            rows["offers"].append(_offer(rows, fits[0], change.at, offer_id=100 + slot_id, slot_id=slot_id))
    return scenario, entries, next(iter(expected.values()))[0], rows


def _offer(rows: dict[str, Any], entry_key: str, sent: Any, status: str = "sent", offer_id: int = 1,
           slot_id: int = 1) -> dict[str, Any]:
    entry_id = next(e["id"] for e in rows["entries"] if e["external_id"] == entry_key)
    return {"id": offer_id, "slot_id": slot_id, "entry_id": entry_id, "sent_at": sent, "status": status}


def test_the_oracle_wants_an_offer_for_a_freed_slot_with_someone_waiting() -> None:
    scenario, entries, first, rows = _case()
    missing = judge_waitlist(scenario, entries, rows)
    assert not missing.ok and "got no offer" in missing.problems[0]
    freed_at = rows["slots"][0]["freed_at"]
    rows["offers"].append(_offer(rows, first, freed_at))
    assert judge_waitlist(scenario, entries, rows).ok


def test_the_oracle_refuses_twice_quiet_hours_late_offers_and_two_winners() -> None:
    scenario, entries, first, rows = _case()
    slot = rows["slots"][0]
    night = local(slot["start_utc"].astimezone(TZ).date() - timedelta(days=1), time(22, 30))
    others = list(rows["offers"])
    rows["offers"] = [*others, _offer(rows, first, slot["freed_at"], "accepted", 1),
                      _offer(rows, first, slot["freed_at"], "accepted", 2)]
    slot.update(status="taken", taken_offer_id=1, booking_status="pending")
    problems = " | ".join(judge_waitlist(scenario, entries, rows).problems)
    assert "twice" in problems and "two winners" in problems and "winner:" in problems
    rows["offers"] = [*others, _offer(rows, first, night)]
    slot.update(status="open", taken_offer_id=None, booking_status=None)
    assert "quiet hours" in " ".join(judge_waitlist(scenario, entries, rows).problems)
    rows["offers"] = [*others, _offer(rows, first, slot["start_utc"] - LEAD_TIME + timedelta(minutes=1))]
    assert "too late" in " ".join(judge_waitlist(scenario, entries, rows).problems)
    slot["freed_at"] = slot["start_utc"] - LEAD_TIME
    assert "inside the lead time" in " ".join(judge_waitlist(scenario, entries, rows).problems)
    slot.update(booking_status="written")
    assert "booked but not taken" in " ".join(judge_waitlist(scenario, entries, rows).problems)
