"""Waitlist entries in the simulated clinic (issue 33), and the oracle of every offer.

The waitlist is driven through ``clinicsync.sync.waitlist.stage.run_waitlist(settings, store, now)``:
one pass of everything between a cancellation and a booking that is not the booking itself:
freed-slot detection from the store's cancellations and deletions (lead time), matching,
offers out (quiet hours), holds and expiries. The driver calls it at every tick after that
tick's sync, then lets simulated patients accept, then runs the booking stage
(sync/waitlist/book.py ``run_booking``).

Acceptance goes through ``clinicsync.sync.waitlist.accept.accept(engine, offer_id, now, lead)``,
what the offer page calls.

The entries come from their own ``random.Random`` (seeded from the scenario's seed and a
label), so adding them changes nothing in the scenario the reminder oracle replays: the
default simulation tests and their runtime stay as they were.

What the oracle checks, from the scenario alone and the rows the run left (``judge_waitlist``):

1. every slot freed further ahead than the lead time, at the front desk's source, for which a
   matching patient was waiting (same doctor or any; not the patient who cancelled; not booked
   by an earlier slot of the run), got at least one offer that went out (``_went_out``): an
   offer ``failed`` before any send (the patient has no channel) reached nobody and leaves the
   slot missing, unless every patient waiting for it had no channel in the scenario when it was
   offered (none at all, or not yet known at the front desk's source), and then the verdict
   notes that failing was right; an offer still ``pending`` only when the run ended
   in the quiet night it was chosen in;
2. never two offers to one patient for one slot;
3. no offer sent inside quiet hours (21:00-08:00, the slot's local time);
4. no offer sent later than the lead time before the slot starts, none for a slot freed closer;
5. at most one accepted offer per slot, and a taken slot's winner is that one; at most one
   booking per slot (``booking_status`` set only on taken slots).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, select

from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.accept import accept as accept_offer
from tests.simulation.scenario import TZ, ZONE, Scenario, Version

LEAD_TIME = timedelta(hours=2)
QUIET_FROM, QUIET_UNTIL = time(21, 0), time(8, 0)
SOURCE = "front"  # the CSV drop: entries wait for its doctors' slots
# The settings the waitlist runs with in the simulation (wl-offers' `waitlist:` section; the
# merger aligns the key names with sync/config/settings/waitlist.py).
SETTINGS_YAML = ('waitlist:\n  enabled: true\n  lead_time: 2h\n  strategy: batch\n  batch_size: 2\n'
                 '  hold: 30m\n'
                 # offers carry a signed one-tap link: the server's public address and key
                 'server:\n  public_url: https://clinic.example.org\n'
                 '  secret_key: simulation-secret-key-0123456789abcdef\n')


@dataclass(frozen=True)
class Entry:
    external_id: str
    patient: str  # the scenario's patient id (= patient.external_id at the front desk's source)
    doctor: str | None  # None: any doctor
    priority: int
    waiting_since: datetime


def entries_for(scenario: Scenario) -> list[Entry]:
    """A handful of waiting patients, from a generator of their own (the scenario is untouched)."""
    rng = random.Random(f"waitlist-{scenario.seed}")
    chosen = rng.sample(scenario.patients, k=min(len(scenario.patients), rng.randint(3, 6)))
    return [Entry(f"WL{n:03d}", p.id, rng.choice([None, *[d.id for d in scenario.doctors]]), rng.randint(0, 2),
                  scenario.golive - timedelta(days=rng.randint(1, 60)))
            for n, p in enumerate(chosen, start=1)]


def seed_entries(store: Store, entries: list[Entry], now: datetime) -> None:
    """The entries as the front desk's waitlist would hold them (wl-sources' rows)."""
    with store.engine.begin() as connection:
        for e in entries:
            connection.execute(insert(WAITLIST_ENTRIES).values(
                connector=SOURCE, external_id=e.external_id, patient_ref=e.patient, practitioner_ref=e.doctor,
                timezone=ZONE, priority=e.priority, waiting_since=e.waiting_since, status="waiting",
                content_hash=e.external_id, updated_at=now))


def accept(store: Store, offer_id: int, now: datetime) -> bool:
    """The patient takes the slot, as the offer page does; True for the one winner."""
    return accept_offer(store.engine, offer_id, now, LEAD_TIME) == "won"


def quiet(moment: datetime) -> bool:
    local = moment.astimezone(TZ).time()
    return local >= QUIET_FROM or local < QUIET_UNTIL


@dataclass
class WaitlistVerdict:
    expected_slots: int = 0
    offers: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what passed only by a rule worth saying

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self) -> str:
        head = f"waitlist: {self.expected_slots} slot(s) expected to get offers, {self.offers} offer(s) made"
        return "\n".join([head, *(f"  {p}" for p in self.problems[:25]), *(f"  note: {n}" for n in self.notes[:25])])


QUIET_NIGHT = timedelta(hours=11)  # QUIET_FROM to QUIET_UNTIL


def _went_out(offer: Any, end: datetime) -> bool:
    """Whether an offer went out to its patient, as far as the waiting list could send it: sent
    (``sent_at``: a provider that then refused every channel for good still had it), or past
    being sent (answered, expired, taken by another, withdrawn). ``failed`` without a send is
    an offer that reached nobody (sync/waitlist/offers.py: no channel), and ``pending`` one not
    sent yet, which counts only when the run ended in the quiet night it was chosen in."""
    if offer["sent_at"] is not None or offer["status"] not in ("failed", "pending"):
        return True
    chosen = offer.get("created_at")
    return (offer["status"] == "pending" and chosen is not None and quiet(chosen) and quiet(end)
            and end - chosen <= QUIET_NIGHT)


# How long before an offer the front desk's source must have named a patient for the product to
# know how to reach them: the CSV drop is read at the next sync, later when a fault delays it.
KNOWN_WITHIN = timedelta(days=1)


def _unreachable(scenario: Scenario, patient_id: str, offered_at: datetime | None) -> bool:
    """A patient no offer can reach in the scenario when it was made: no channel, or no address
    for any; or not yet known at the front desk's source (the product knows a patient's phone and
    email from their visits at the entry's source, and the simulation's entries name only the
    patient's id: a patient whose first visit there comes later has no channel yet)."""
    patient = next((p for p in scenario.patients if p.id == patient_id), None)
    if patient is None or patient.channel not in ("sms", "email", "whatsapp") or not (patient.phone or patient.email):
        return True
    return offered_at is not None and not any(
        c.version.source == SOURCE and c.version.patient == patient_id and c.at <= offered_at - KNOWN_WITHIN
        for c in scenario.changes)


def _when(moment: datetime) -> str:
    return moment.astimezone(TZ).strftime("%a %Y-%m-%d %H:%M")


VISIT = timedelta(minutes=30)  # every front-desk visit's length (clinic.export_csv)


def freed_versions(scenario: Scenario) -> dict[str, Version]:
    """Per front-desk appointment cancelled or deleted at the source further ahead than the lead
    time: the version that freed it (its doctor's time at its start). None while another booked
    visit of that doctor at that source overlaps it: the doctor's time is not free (the scenario
    books two patients at one time now and then), and the waiting list closes such a slot at once,
    ``filled_by_source`` (docs/waitlist.md; seed 8803: F00003 deleted, F00004 booked with the same
    doctor at the same start since before it)."""
    out: dict[str, Version] = {}
    current: dict[str, Version] = {}
    for change in scenario.changes:
        v = change.version
        current[v.external_id] = v
        if v.source != SOURCE or change.kind not in ("cancel", "delete") or change.at <= scenario.golive:
            continue
        held = any(o.source == SOURCE and o.external_id != v.external_id and o.doctor == v.doctor
                   and o.status == "booked" and not o.deleted and abs(o.start - v.start) < VISIT
                   for o in current.values())
        if v.start - change.at > LEAD_TIME and not held:
            out[v.external_id] = v
    return out


def _freed_at(scenario: Scenario, v: Version) -> datetime:
    """When the cancel or delete that left ``v`` came."""
    return next(c.at for c in scenario.changes if c.version is v and c.kind in ("cancel", "delete"))


def _booked_earlier_throughout(scenario: Scenario, patient: str, v: Version) -> bool:
    """Whether ``patient`` held, at every moment ``v``'s slot could be offered (from its freeing
    to the lead time before its start, or the run's end), a booked front-desk visit starting
    before ``v``'s time ends and not over at that moment: the waiting list offers no patient a
    slot that would cost them an earlier visit (docs/waitlist.md, "Matching";
    sync/waitlist/match.py counts a visit until it ends), so no offer to them is wanted. The
    visits may take turns: one booked before the first is over keeps the patient excused
    (seed 9947: WL002's patient had F00043 on 04-06, and F00046 on 04-07 booked on 04-04, before
    slot F00040's 04-08). A gap, a moment no such visit covers, makes an offer wanted again.
    Seed 8903: WL001's patient had F00063 on 04-21, before slot F00039's 04-24, past the run's end."""
    since, until = _freed_at(scenario, v), min(scenario.end, v.start - LEAD_TIME)
    current: dict[str, Version] = {}

    def covered(moment: datetime, *, strictly: bool) -> bool:
        """Whether a current earlier visit is not over at ``moment`` (at a change's own moment
        the change is applied before the waiting list runs, so a visit ending then may hand over)."""
        ends = [o.start + VISIT for o in current.values()
                if o.source == SOURCE and o.patient == patient and o.status == "booked" and not o.deleted
                and o.start < v.start + VISIT]
        return any(end > moment if strictly else end >= moment for end in ends)

    for change in scenario.changes:
        if change.at > since:
            if change.at >= until:
                return covered(until, strictly=True)
            if not covered(change.at, strictly=False):
                return False
        current[change.version.external_id] = change.version
    return covered(until, strictly=True)


def expected_slots(scenario: Scenario, entries: list[Entry]) -> dict[str, list[str]]:
    """Per cancelled or deleted front-desk appointment freed further ahead than the lead time:
    the entries that match it (before bookings: the run removes the booked ones as it goes), but
    for a patient booked earlier all along (``_booked_earlier_throughout``)."""
    out: dict[str, list[str]] = {}
    for external_id, v in freed_versions(scenario).items():
        fits = [e.external_id for e in entries if e.patient != v.patient and e.doctor in (None, v.doctor)
                and not _booked_earlier_throughout(scenario, e.patient, v)]
        if fits:
            out[external_id] = fits
    return out


def _slot_of(slots: list[Any], v: Version, freed_at: datetime) -> Any | None:
    """The freed slot of the time ``v`` frees (at ``freed_at``): its doctor's at its start. A visit
    may hold more than one slot (declined under one doctor, then given to another at the same
    start: each doctor's time is freed, docs/waitlist.md), so the visit's id alone does not name
    it; and more than one of one doctor's time (a slot filled by another visit there, or withdrawn,
    and the time freed again later: a new row). The one found at or after the freeing, else the
    last before it (the patient's or the desk's cancel the source's followed, seed 9997's F00001:
    filled while another visit shared the time, the source's delete after it left a new slot)."""
    mine = sorted((s for s in slots if s["external_id"] == v.external_id), key=lambda s: s["id"])
    times = [s for s in mine if s.get("practitioner_ref") == v.doctor and s["start_utc"] == v.start]
    since = [s for s in times if s["freed_at"] >= freed_at]
    return since[0] if since else times[-1] if times else mine[-1] if mine else None


def judge_waitlist(scenario: Scenario, entries: list[Entry], rows: dict[str, list[Any]]) -> WaitlistVerdict:
    """``rows``: the run's ``slots`` (each with its appointment's ``external_id``), ``offers``
    and ``entries`` (dicts or rows with the tables' columns)."""
    verdict = WaitlistVerdict()
    slots = {s["id"]: s for s in rows["slots"]}
    entry_patient = {e["id"]: e["patient_ref"] for e in rows["entries"]}
    entry_key = {e["id"]: e["external_id"] for e in rows["entries"]}
    booked_entries = {e["external_id"] for e in rows["entries"] if e["status"] == "booked"}
    by_slot: dict[int, list[Any]] = defaultdict(list)
    for offer in rows["offers"]:
        by_slot[offer["slot_id"]].append(offer)
    verdict.offers = len(rows["offers"])

    expected = expected_slots(scenario, entries)
    freed = freed_versions(scenario)
    for external_id, fits in expected.items():
        slot = _slot_of(rows["slots"], freed[external_id], _freed_at(scenario, freed[external_id]))
        still_waiting = [f for f in fits if f not in booked_entries or (
            slot is not None and any(entry_key[o["entry_id"]] == f for o in by_slot.get(slot["id"], [])))]
        if not still_waiting:
            continue
        verdict.expected_slots += 1
        if slot is None:
            verdict.problems.append(f"missing: appointment {external_id} was freed with a patient waiting, "
                                    "but no freed slot was recorded")
        elif not by_slot.get(slot["id"]):
            verdict.problems.append(f"missing: slot {slot['id']} ({external_id}, {_when(slot['start_utc'])}) got no "
                                    f"offer; waiting: {', '.join(still_waiting)}")
        elif not any(_went_out(o, scenario.end) for o in by_slot[slot["id"]]):
            states = ", ".join(sorted({o["status"] for o in by_slot[slot["id"]]}))
            patients = {e.external_id: e.patient for e in entries}
            offered_at = {entry_key[o["entry_id"]]: o.get("created_at") for o in by_slot[slot["id"]]}
            if all(f in offered_at and _unreachable(scenario, patients[f], offered_at[f]) for f in still_waiting):
                verdict.notes.append(f"slot {slot['id']} ({external_id}) offered only as {states}, rightly: nobody "
                                     f"waiting for it had a channel when offered ({', '.join(still_waiting)})")
            else:
                verdict.problems.append(f"missing: slot {slot['id']} ({external_id}, {_when(slot['start_utc'])}) got "
                                        f"offers ({states}) none of which went out; "
                                        f"waiting: {', '.join(still_waiting)}")
    for slot_id, offers in by_slot.items():
        slot = slots.get(slot_id)
        patients = [entry_patient.get(o["entry_id"]) for o in offers]
        twice = sorted({p for p in patients if patients.count(p) > 1 and p is not None})
        if twice:
            verdict.problems.append(f"twice: slot {slot_id} offered more than once to {', '.join(twice)}")
        for o in offers:
            sent = o["sent_at"]
            if sent is not None and quiet(sent):
                verdict.problems.append(f"quiet hours: offer {o['id']} (slot {slot_id}) sent {_when(sent)}")
            if slot is not None and sent is not None and sent > slot["start_utc"] - LEAD_TIME:
                verdict.problems.append(f"too late: offer {o['id']} sent {_when(sent)} for slot {slot_id} at "
                                        f"{_when(slot['start_utc'])} (lead time {LEAD_TIME})")
        accepted = [o for o in offers if o["status"] == "accepted"]
        if len(accepted) > 1:
            verdict.problems.append(f"two winners: slot {slot_id} has {len(accepted)} accepted offers")
        if slot is not None and slot["status"] == "taken" and [o["id"] for o in accepted] != [slot["taken_offer_id"]]:
            verdict.problems.append(f"winner: slot {slot_id} taken by offer {slot['taken_offer_id']}, accepted: "
                                    f"{[o['id'] for o in accepted]}")
    for slot in rows["slots"]:
        if slot["start_utc"] - slot["freed_at"] <= LEAD_TIME and by_slot.get(slot["id"]):
            verdict.problems.append(f"inside the lead time: slot {slot['id']} freed {_when(slot['freed_at'])} for "
                                    f"{_when(slot['start_utc'])} got offers")
        if slot["booking_status"] is not None and slot["status"] != "taken":
            verdict.problems.append(f"booked but not taken: slot {slot['id']} ({slot['booking_status']})")
    return verdict


def read_rows(store: Store) -> dict[str, list[Any]]:
    """What the oracle reads after a run, as plain dicts (the slot with its appointment's id)."""
    from clinicsync.sync.store.model import Appointment

    a = Appointment.__table__  # type: ignore[attr-defined]
    with store.engine.connect() as connection:
        slots = [dict(r._mapping) for r in connection.execute(
            select(FREED_SLOTS, a.c.external_id, a.c.patient_ref.label("freed_patient"))
            .join(a, a.c.id == FREED_SLOTS.c.appointment_id))]
        offers = [dict(r._mapping) for r in connection.execute(select(WAITLIST_OFFERS))]
        entries = [dict(r._mapping) for r in connection.execute(select(WAITLIST_ENTRIES))]
    return {"slots": slots, "offers": offers, "entries": entries}


def freed_by_whom(scenario: Scenario, rows: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """``rows`` with each slot's ``freed_patient`` the patient the visit had when it was freed,
    by the scenario: the one an offer of it must not go to (waitlist_messages.py). The store's
    visit names its patient at the end of the run, and the source may give a visit to another
    patient after its time was offered (PATIENT_CHANGES; seed 8801: F00006 freed by P03's cancel,
    offered to P04, then corrected at the source to P04's)."""
    versions: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for change in scenario.changes:
        versions[change.version.external_id].append((change.at, change.version.patient))
    slots = []
    for slot in rows["slots"]:
        then = [patient for at, patient in versions.get(slot["external_id"], []) if at <= slot["freed_at"]]
        slots.append({**slot, "freed_patient": then[-1]} if then else slot)
    return {**rows, "slots": slots}


def given_away(rows: dict[str, list[Any]]) -> dict[tuple[str, datetime], datetime]:
    """(external id, start) of each freed time -> when it first went out to a waiting patient
    (an offer sent) or was taken: what the desk oracle needs of the waiting list (a cancel whose
    time was given away is not undone)."""
    out: dict[tuple[str, datetime], datetime] = {}
    slots = {s["id"]: s for s in rows.get("slots", [])}
    moments = [(o["slot_id"], o["sent_at"]) for o in rows.get("offers", []) if o["sent_at"] is not None]
    moments += [(s["id"], s["taken_at"]) for s in slots.values() if s["taken_at"] is not None]
    for slot_id, at in moments:
        key = (slots[slot_id]["external_id"], slots[slot_id]["start_utc"])
        out[key] = min(at, out.get(key, at))
    return out
