"""The oracle of the waiting list's messages (WAITLIST): every offer and every "just been taken"
notice that reached a patient, read back from the outbox (mailbag.py, stamped with the tick it
went), against what the waiting list must send:

1. an offer goes to the patient of its entry (the right person), and that entry fits the slot:
   its doctor or any, and not the patient whose visit freed it (the visit's patient then:
   waitlist.py ``freed_by_whom``);
2. one slot, one offer to a patient: never twice (a second message of one offer, or a second
   offer of the slot to the same patient);
3. no offer of a slot after a patient took it (its winner, from the patients' own record), and
   none to a patient after they took a slot (their booking is under way, by the booking stage
   or the desk's "Booked by hand", undone or not: the slot stays theirs to book);
4. every offer the store records as sent reached its patient (none lost), none reached anyone
   without its row;
5. one batch's offers follow the ranking: priority first, then who waited longest;
6. a "just been taken" notice goes once, to a patient whose offer of a taken slot was out when
   another took it, never to the winner, not before the slot was taken.

The rows (tests/simulation/waitlist.py ``read_rows``) say which offer is whose; the people's
side (who took what, when) is the actors' record (waitlist_actors.py ``Happened``)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from tests.simulation.mailbag import Sent
from tests.simulation.scenario import TZ
from tests.simulation.waitlist_actors import Happened


def _when(moment: datetime) -> str:
    return moment.astimezone(TZ).strftime("%a %Y-%m-%d %H:%M")


def judge_messages(sent: list[Sent], rows: dict[str, list[Any]], happened: Happened) -> list[tuple[datetime, str]]:
    """The problems, each with its moment (empty: every waitlist message as it must be)."""
    problems: list[tuple[datetime, str]] = []
    offers = {o["id"]: o for o in rows["offers"]}
    slots = {s["id"]: s for s in rows["slots"]}
    entries = {e["id"]: e for e in rows["entries"]}
    messages = [m for m in sent if m.identity.kind.startswith("waitlist ")]
    took: dict[str, datetime] = {}  # patient -> when they first took a slot
    for slot_id, at in happened.won.items():
        taken = slots[slot_id].get("taken_offer_id")
        if taken is not None:
            patient = entries[offers[taken]["entry_id"]]["patient_ref"]
            took[patient] = min(at, took.get(patient, at))
    per_offer: Counter[tuple[str, int]] = Counter()
    per_slot_patient: Counter[tuple[int, str]] = Counter()
    for m in messages:
        kind, offer_id = m.identity.kind.split()[1], int(m.identity.subject.split("/")[1])
        offer = offers.get(offer_id)
        if offer is None:
            problems.append((m.at, f"waitlist: {m.identity} has no offer row"))
            continue
        entry, slot = entries[offer["entry_id"]], slots[offer["slot_id"]]
        where = f"offer {offer_id} of slot {slot['id']} ({slot['external_id']}, {_when(slot['start_utc'])})"
        per_offer[(kind, offer_id)] += 1
        if m.identity.person != entry["patient_ref"]:
            problems.append((m.at, f"waitlist: {where} reached {m.identity.person}, its entry is "
                                   f"{entry['patient_ref']}'s"))
        if kind == "taken":
            won = happened.won.get(slot["id"])
            if won is None or slot.get("taken_offer_id") == offer_id or m.at < won:
                problems.append((m.at, f"waitlist: 'just been taken' for {where} to {m.identity.person}, "
                                       f"the slot taken {_when(won) if won else 'by nobody'}"))
            continue
        per_slot_patient[(slot["id"], m.identity.person)] += 1
        if entry["practitioner_ref"] not in (None, slot["practitioner_ref"]) or \
                entry["patient_ref"] == slot["freed_patient"]:
            problems.append((m.at, f"waitlist: {where} to {m.identity.person}, whose entry does not fit it"))
        won = happened.won.get(slot["id"])
        if won is not None and m.at > won:
            problems.append((m.at, f"waitlist: {where} offered to {m.identity.person} after it was taken "
                                   f"({_when(won)})"))
        if m.identity.person in took and m.at > took[m.identity.person]:
            problems.append((m.at, f"waitlist: {where} offered to {m.identity.person}, who took a slot "
                                   f"{_when(took[m.identity.person])}"))
    for (kind, offer_id), count in per_offer.items():
        if count > 1:
            problems.append((offers[offer_id]["sent_at"] or offers[offer_id]["created_at"],
                             f"waitlist: {kind} message of offer {offer_id} sent {count} times"))
    for (slot_id, person), count in per_slot_patient.items():
        if count > 1:
            problems.append((slots[slot_id]["freed_at"], f"waitlist: slot {slot_id} offered {count} times to {person}"))
    for offer in offers.values():
        if offer["sent_at"] is not None and per_offer[("offer", offer["id"])] == 0:
            problems.append((offer["sent_at"], f"waitlist: offer {offer['id']} recorded as sent, and nobody got it"))
    problems += _ranking(rows, entries)
    return problems


def _ranking(rows: dict[str, list[Any]], entries: dict[int, Any]) -> list[tuple[datetime, str]]:
    """Within one batch (a slot's offers chosen at one cycle), a better rank never goes to a
    patient the ranking puts after another of the batch."""
    batches: dict[tuple[int, datetime], list[Any]] = defaultdict(list)
    for offer in rows["offers"]:
        batches[(offer["slot_id"], offer["created_at"])].append(offer)
    out = []
    for (slot_id, at), batch in batches.items():
        keys = [(-entries[o["entry_id"]]["priority"], entries[o["entry_id"]]["waiting_since"], o["entry_id"])
                for o in sorted(batch, key=lambda o: o["rank"])]
        if keys != sorted(keys):
            out.append((at, f"waitlist: slot {slot_id}'s offers of {_when(at)} out of the ranking's order"))
    return out
