"""The clinic simulation with waitlist entries and the waiting list's actors (the stage, patients
taking offers, the desk booking by hand and undoing): every offer checked by the waitlist
oracles (tests/simulation/waitlist.py, waitlist_messages.py), and the oracles' own checks:
each rule catches what breaks it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from tests.simulation.mailbag import Identity, Sent
from tests.simulation.scenario import TZ, generate, local
from tests.simulation.waitlist import LEAD_TIME, entries_for, expected_slots, freed_by_whom, judge_waitlist
from tests.simulation.waitlist_actors import Happened
from tests.simulation.waitlist_messages import judge_messages
from tests.simulation.waitlist_run import simulate_waitlist

SEED, DAYS = 7, 8


def test_a_week_with_waitlist_entries_every_offer_checked(tmp_path: Path) -> None:
    scenario = generate(SEED, DAYS)
    reminders, waitlist = simulate_waitlist(scenario, f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    assert waitlist.ok, waitlist.report()
    assert waitlist.expected_slots > 0, waitlist.report()  # the week freed slots someone waited for
    # the reminders unchanged by the waitlist, and every offer message as waitlist_messages.py wants it
    assert reminders.ok, reminders.report()
    [steps] = [n for n in reminders.notes if n.startswith("waitlist:")]
    assert "book booked" in steps and "offers taken" in steps and "waitlist offer" in steps, steps


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
                              "practitioner_ref": change.version.doctor, "freed_at": change.at, "status": "open",
                              "taken_offer_id": None, "booking_status": None})
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


def test_the_oracle_wants_an_offer_that_went_out_not_one_that_failed_or_waits() -> None:
    """A failed offer (the product marks ``failed`` a patient it cannot reach) is no offer made:
    the slot is missing, unless nobody waiting for it can be reached in the scenario; an offer
    still pending is missing unless the run ended in the quiet night it was chosen in."""
    from dataclasses import replace

    scenario, entries, first, rows = _case()
    slot = rows["slots"][0]
    offer = _offer(rows, first, None, "failed")
    rows["offers"].append(offer)
    assert "none of which went out" in " ".join(judge_waitlist(scenario, entries, rows).problems)
    offer["sent_at"] = slot["freed_at"]  # sent, then refused for good by every channel's provider: it went out
    assert judge_waitlist(scenario, entries, rows).ok
    offer.update(sent_at=None, status="pending", created_at=slot["freed_at"])
    chosen_at_noon = local(slot["freed_at"].astimezone(TZ).date(), time(12, 0))
    offer["created_at"] = chosen_at_noon
    assert "none of which went out" in " ".join(judge_waitlist(scenario, entries, rows).problems)
    offer["created_at"] = scenario.end - timedelta(hours=8)  # 22:00 on the last night: not due yet
    assert judge_waitlist(scenario, entries, rows).ok

    fits = expected_slots(scenario, entries)[slot["external_id"]]
    failed = [{**_offer(rows, f, None, "failed", offer_id=50 + n), "created_at": chosen_at_noon}
              for n, f in enumerate(fits)]  # each patient waiting for it offered, and none reached
    rows["offers"] = [o for o in rows["offers"] if o["slot_id"] != 1] + failed
    assert "none of which went out" in " ".join(judge_waitlist(scenario, entries, rows).problems)
    patients = {e.patient for e in entries if e.external_id in fits}
    known = min(c.at for c in scenario.changes if c.version.source == "front" and c.version.patient in patients)
    for o in failed:  # offered before the front desk's source named any of them: no channel yet
        o["created_at"] = known
    verdict = judge_waitlist(scenario, entries, rows)
    assert verdict.ok and "rightly: nobody waiting for it had a channel" in verdict.notes[0], verdict.report()
    for o in failed:
        o["created_at"] = chosen_at_noon
    scenario.patients = [replace(p, phone="", email="") if p.id in patients else p for p in scenario.patients]
    verdict = judge_waitlist(scenario, entries, rows)
    assert verdict.ok and "rightly: nobody waiting for it had a channel" in verdict.notes[0], verdict.report()


def test_the_oracle_judges_the_slot_of_the_cancelled_doctors_time() -> None:
    """A visit declined under one doctor, then given to another and cancelled at the source,
    holds a slot per doctor: the one judged is the cancelled version's doctor's."""
    scenario, entries, first, rows = _case()
    slot = rows["slots"][0]
    rows["slots"].append({**slot, "id": 99, "practitioner_ref": "D-other"})  # listed last: the visit names neither
    rows["offers"].append(_offer(rows, first, slot["freed_at"]))  # slot 1, the cancelled doctor's, offered
    assert judge_waitlist(scenario, entries, rows).ok
    rows["offers"][-1]["slot_id"] = 99  # only the other doctor's time offered: slot 1 got none
    assert "slot 1 " in " ".join(judge_waitlist(scenario, entries, rows).problems)


def test_the_oracle_judges_the_slot_the_freeing_made_not_an_older_one_of_the_same_time() -> None:
    """The desk cancelled the visit while another shared its doctor's time (a slot filled at
    once, offered to nobody); the source's cancel after that visit left frees the time anew, a
    later row: that one is judged (seed 9997's F00001). Freed before the cancel (the patient's
    own, the source's following it), the last row before it is."""
    scenario, entries, first, rows = _case()
    slot = rows["slots"][0]
    filled = {**slot, "id": 0, "freed_at": slot["freed_at"] - timedelta(days=1), "status": "filled_by_source"}
    rows["slots"].insert(0, filled)  # the older row, read first
    rows["offers"].append(_offer(rows, first, slot["freed_at"]))  # the time offered once freed again
    assert judge_waitlist(scenario, entries, rows).ok, judge_waitlist(scenario, entries, rows).report()
    rows["offers"][-1]["slot_id"] = 0  # only the filled row offered: the freed time got none
    assert "slot 1 " in " ".join(judge_waitlist(scenario, entries, rows).problems)
    rows["slots"].remove(slot)  # freed only before the source's cancel: that row stands for it
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


# -- the oracle of the waitlist's messages: each rule catches what breaks it ------------------
def _bag() -> tuple[list[Sent], dict[str, Any], Happened]:
    """Slot 1 (D1's, freed by P9) offered to P1 (priority 2) and P2 (priority 1) in one batch;
    P2 took it at 12:00 and P1 was told at the next cycle. Every message as it must be."""
    freed, at = datetime(2027, 3, 15, 9, tzinfo=UTC), datetime(2027, 3, 15, 10, tzinfo=UTC)
    rows: dict[str, Any] = {
        "slots": [{"id": 1, "external_id": "F00001", "start_utc": freed + timedelta(days=3), "freed_at": freed,
                   "practitioner_ref": "D1", "freed_patient": "P9", "taken_offer_id": 12,
                   "taken_at": at + timedelta(hours=2), "appointment_id": 5}],
        "entries": [{"id": n, "external_id": f"WL{n}", "patient_ref": f"P{n}", "practitioner_ref": None,
                     "priority": 3 - n, "waiting_since": freed - timedelta(days=n), "status": "waiting"}
                    for n in (1, 2, 3)],
        "offers": [{"id": 10 + n, "slot_id": 1, "entry_id": n, "rank": n, "created_at": at, "sent_at": at,
                    "status": "accepted" if n == 2 else "expired"} for n in (1, 2)]}
    sent = [Sent(Identity("P1", "offer/11", "waitlist offer", ""), at),
            Sent(Identity("P2", "offer/12", "waitlist offer", ""), at),
            Sent(Identity("P1", "offer/11", "waitlist taken", ""), at + timedelta(hours=3))]
    return sent, rows, Happened(won={1: at + timedelta(hours=2)})


def _found(sent: list[Sent], rows: dict[str, Any], happened: Happened) -> str:
    return " | ".join(text for _, text in judge_messages(sent, rows, happened))


def test_the_message_oracle_passes_the_messages_as_they_must_be() -> None:
    assert _found(*_bag()) == ""


def test_the_message_oracle_sees_the_wrong_person_twice_after_taken_and_a_lost_offer() -> None:
    sent, rows, happened = _bag()
    later = happened.won[1] + timedelta(hours=1)
    wrong = [Sent(Identity("P3", "offer/11", "waitlist offer", ""), sent[0].at), *sent[1:]]
    assert "reached P3, its entry is P1's" in _found(wrong, rows, happened)
    assert "sent 2 times" in _found([*sent, sent[0]], rows, happened)
    rows["offers"].append({"id": 13, "slot_id": 1, "entry_id": 3, "rank": 3, "created_at": later, "sent_at": later,
                           "status": "sent"})
    found = _found([*sent, Sent(Identity("P3", "offer/13", "waitlist offer", ""), later)], rows, happened)
    assert "offered to P3 after it was taken" in found
    assert "recorded as sent, and nobody got it" in _found(sent, rows, happened)  # offer 13's message lost
    rows["offers"].pop()
    twice = {"id": 14, "slot_id": 1, "entry_id": 1, "rank": 3, "created_at": later, "sent_at": later, "status": "sent"}
    rows["offers"].append(twice)
    assert "offered 2 times to P1" in _found([*sent, Sent(Identity("P1", "offer/14", "waitlist offer", ""), later)],
                                             rows, happened)


def test_the_message_oracle_sees_a_misfit_the_winner_offered_again_a_bad_rank_and_a_wrong_notice() -> None:
    sent, rows, happened = _bag()
    rows["slots"][0]["freed_patient"] = "P1"
    assert "whose entry does not fit it" in _found(sent, rows, happened)
    sent, rows, happened = _bag()
    rows["slots"].append({**rows["slots"][0], "id": 2, "external_id": "F00002", "taken_offer_id": None})
    later = happened.won[1] + timedelta(hours=1)
    rows["offers"].append({"id": 20, "slot_id": 2, "entry_id": 2, "rank": 1, "created_at": later, "sent_at": later,
                           "status": "sent"})
    assert "P2, who took a slot" in _found([*sent, Sent(Identity("P2", "offer/20", "waitlist offer", ""), later)],
                                           rows, happened)
    sent, rows, happened = _bag()
    rows["offers"][0]["rank"], rows["offers"][1]["rank"] = 2, 1
    assert "out of the ranking's order" in _found(sent, rows, happened)
    sent, rows, happened = _bag()
    winner_told = [*sent, Sent(Identity("P2", "offer/12", "waitlist taken", ""), sent[-1].at)]
    assert "'just been taken' for offer 12" in _found(winner_told, rows, happened)


def test_the_message_oracle_reads_who_freed_a_slot_when_it_was_freed() -> None:
    """The source gives the visit to another patient after its time was offered (PATIENT_CHANGES):
    the store names the later patient; the offer is judged by the patient who freed it."""
    scenario = generate(SEED, DAYS)
    booked = next(c for c in scenario.changes if c.version.patient not in ("P1", "P2", "P3"))
    sent, rows, happened = _bag()
    rows["slots"][0].update(external_id=booked.version.external_id, freed_at=booked.at + timedelta(minutes=1),
                            freed_patient="P2")  # the store's visit, corrected to the winner's after the offer
    assert "P2, whose entry does not fit it" in _found(sent, rows, happened)
    assert _found(sent, freed_by_whom(scenario, rows), happened) == ""


def test_the_oracle_wants_no_offer_for_a_time_another_visit_of_the_doctor_still_holds() -> None:
    """Two patients booked with one doctor at one time, one cancelled: the doctor's time is not
    free (the waiting list closes the slot as filled by the source), so no offer is wanted."""
    from dataclasses import replace

    from tests.simulation.scenario import Change

    scenario = generate(SEED, DAYS)
    entries = entries_for(scenario)
    external_id = next(iter(expected_slots(scenario, entries)))
    cancel = next(c for c in scenario.changes
                  if c.version.external_id == external_id and c.kind in ("cancel", "delete"))
    twin = replace(cancel.version, external_id="F09999", status="booked", deleted=False)
    scenario.changes.insert(0, Change(scenario.golive - timedelta(days=1), "book", twin))
    assert external_id not in expected_slots(scenario, entries)


def test_the_oracle_wants_no_offer_to_a_patient_booked_earlier_all_the_while_the_slot_is_offered() -> None:
    """The waiting list offers no patient a slot that would cost them an earlier visit
    (docs/waitlist.md, "Matching"): a waiting patient booked at the front desk before the freed
    time, that visit not over while the slot may be offered, is not owed an offer; once that
    visit is over within the span, they are again."""
    from dataclasses import replace

    from tests.simulation.scenario import Change

    scenario = generate(SEED, DAYS)
    entries = entries_for(scenario)
    external_id, fits = next(iter(expected_slots(scenario, entries).items()))
    cancel = next(c for c in scenario.changes
                  if c.version.external_id == external_id and c.kind in ("cancel", "delete"))
    patient = next(e.patient for e in entries if e.external_id == fits[0])
    earlier = replace(cancel.version, external_id="F09998", patient=patient, status="booked", deleted=False,
                      start=cancel.version.start - timedelta(hours=1))
    scenario.changes.insert(0, Change(scenario.golive - timedelta(days=1), "book", earlier))
    assert fits[0] not in expected_slots(scenario, entries).get(external_id, [])
    long_before = replace(earlier, start=cancel.at - timedelta(days=2))  # over before the slot is freed
    scenario.changes[0] = Change(scenario.golive - timedelta(days=1), "book", long_before)
    assert fits[0] in expected_slots(scenario, entries)[external_id]


def test_the_oracle_excuses_a_patient_whose_earlier_visits_take_turns_until_the_slot() -> None:
    """The waiting list counts a patient's earlier visit until it ends (sync/waitlist/match.py): a
    second earlier visit booked before the first is over keeps the patient from the slot, and
    the oracle wants no offer then; booked only after the first is over, the patient was free
    in between and an offer is wanted (seed 9947: F00043, then F00046, before slot F00040)."""
    from dataclasses import replace

    from tests.simulation.scenario import Change

    scenario = generate(SEED, DAYS)
    entries = entries_for(scenario)
    external_id, fits = next((k, f) for k, f in expected_slots(scenario, entries).items()
                             if next(c for c in scenario.changes if c.version.external_id == k
                                     and c.kind in ("cancel", "delete")).version.start
                             - next(c for c in scenario.changes if c.version.external_id == k
                                    and c.kind in ("cancel", "delete")).at > timedelta(hours=12))
    cancel = next(c for c in scenario.changes
                  if c.version.external_id == external_id and c.kind in ("cancel", "delete"))
    patient = next(e.patient for e in entries if e.external_id == fits[0])
    first_ends = cancel.at + (cancel.version.start - cancel.at) / 3  # over well before the slot's lead time
    first = replace(cancel.version, external_id="F09997", patient=patient, status="booked", deleted=False,
                    start=first_ends - timedelta(minutes=30))
    second = replace(first, external_id="F09996", start=cancel.version.start - timedelta(hours=1))
    scenario.changes.insert(0, Change(scenario.golive - timedelta(days=1), "book", first))
    booked_second = Change(first_ends - timedelta(minutes=10), "book", second)  # before the first is over
    scenario.changes.append(booked_second)
    scenario.changes.sort(key=lambda c: c.at)
    assert fits[0] not in expected_slots(scenario, entries).get(external_id, [])
    scenario.changes.remove(booked_second)
    scenario.changes.append(Change(first_ends + timedelta(hours=1), "book", second))  # a free hour between
    scenario.changes.sort(key=lambda c: c.at)
    assert fits[0] in expected_slots(scenario, entries)[external_id]
