"""The waiting list's people in the simulated clinic (WAITLIST): the stage offering freed slots,
patients taking their offers, and the front desk answering the tasks that follow, each through
the code the product runs:

- the waitlist stage (``run_waitlist``) at every tick, after the tick's reminders: freed slots
  found, offers chosen and sent (their messages read back at once, stamped with the tick);
- a patient holding an offer takes it at the next tick (ACCEPT_CHANCE), through what the offer
  page calls (``accept``), or lets it run out; the booking stage (``run_booking``) follows;
- the desk reads its waitlist tasks as Today shows them (``book_tasks.tasks``) and answers
  them: *Booked by hand* for a slot clinicsync does not book into (the CSV source), *Booked*
  or *Dropped* for a refused booking, *Released* for a later visit; a *Booked by hand* is
  sometimes taken back on its "Recorded" line (``book_undo.undo_offer``, ``undo_booked``) and
  booked again at a later tick.

Each draws from a ``random.Random`` of its own (seeded from the scenario's seed and a label),
so the scenario the reminder oracle replays is untouched. What every actor did is kept
(``Happened``) for the oracle of the waitlist's messages (waitlist_messages.py)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from clinicsync.sync.desk.actions import UNDO_WINDOW
from clinicsync.sync.responses.history import visit_history
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_OFFERS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist import book_tasks, book_undo
from clinicsync.sync.waitlist.book import run_booking
from clinicsync.sync.waitlist.stage import run_waitlist
from tests.simulation.clinic import Worker
from tests.simulation.mailbag import Mailbag, Sent
from tests.simulation.scenario import Scenario
from tests.simulation.waitlist import accept, entries_for, seed_entries

ACCEPT_CHANCE = 0.7  # a patient who holds an offer takes it at the next tick, or lets it run
ANSWER_CHANCE = 0.6  # the desk answers an open task at this tick (else at a later one)
UNDO_CHANCE = 0.3  # a "Booked by hand" taken back at once (booked again at a later tick)
DROP_CHANCE = 0.3  # a refused booking: the patient did not want it after all
DESK_USER, ROLE = "deskmain", "front_desk"
ANSWERS = {"book": "booked", "release": "released"}


@dataclass
class Happened:
    """What the actors did, with the tick: the oracle's record of the patients' and desk's side."""

    won: dict[int, datetime] = field(default_factory=dict)  # slot id -> when its winner took it
    booked: list[tuple[int, datetime, datetime | None]] = field(default_factory=list)  # (slot, at, undone at)
    tally: Counter[str] = field(default_factory=Counter)


class WaitlistActors:
    def __init__(self, scenario: Scenario) -> None:
        self.entries = entries_for(scenario)
        self.seeded = False
        self.patients = random.Random(f"waitlist-accept-{scenario.seed}")
        self.desk = random.Random(f"waitlist-desk-{scenario.seed}")
        self.happened = Happened()
        self.taken_since = False  # a slot taken since the stage last ran

    def tick(self, worker: Worker, now: datetime, mailbag: Mailbag, stirred: bool, synced: bool) -> None:
        """The tick's waitlist: the stage, patients taking offers, the booking stage, the desk.
        The stage runs when the tick may have freed a slot (``stirred``: a sync, a push, a
        reply, a desk step), an offer is out, or a slot was taken since its last run (the
        others are told); at the other ticks it would find nothing to do, and a month of them
        costs seconds. What changes with time alone (a patient's earlier visit now past) is
        found by the waitlist stage of the next sync, as with cron's `sync --once`."""
        if not self.seeded:
            seed_entries(worker.store, self.entries, now)
            self.seeded = True
        if synced:  # the sync's own waitlist stage may have sent offers: stamped with this tick
            mailbag.collect(worker.store, now)
        if stirred or self.taken_since or self.offers_out(worker):
            self.taken_since = False
            cycle = run_waitlist(worker.settings, worker.store, now)
            if cycle.get("sent") or cycle.get("told_taken"):
                mailbag.collect(worker.store, now)  # the offers and "taken" notices sent now
        with worker.store.engine.connect() as connection:
            held = connection.execute(
                select(WAITLIST_OFFERS.c.id, WAITLIST_OFFERS.c.slot_id)
                .join(FREED_SLOTS, FREED_SLOTS.c.id == WAITLIST_OFFERS.c.slot_id)
                .where(WAITLIST_OFFERS.c.status == "sent", FREED_SLOTS.c.status == "open")
                .order_by(WAITLIST_OFFERS.c.slot_id, WAITLIST_OFFERS.c.rank)).all()
        for offer_id, slot_id in held:
            if self.patients.random() < ACCEPT_CHANCE:
                won = accept(worker.store, offer_id, now)
                self.happened.tally["offers taken" if won else "offers taken too late"] += 1
                if won:
                    self.happened.won.setdefault(slot_id, now)
                    self.taken_since = True  # the others holding an offer of it are told at the next cycle
        run_booking(worker.settings, worker.store, now)
        if self.desk_has_work(worker):
            self.answer_tasks(worker, now)

    @staticmethod
    def offers_out(worker: Worker) -> bool:
        """Whether an offer is out (held, or waiting for the quiet hours to end): its hold runs
        out, its slot may close, the next patients may be offered it."""
        with worker.store.engine.connect() as connection:
            return connection.execute(select(WAITLIST_OFFERS.c.id).where(
                WAITLIST_OFFERS.c.status.in_(("pending", "sent"))).limit(1)).first() is not None

    @staticmethod
    def desk_has_work(worker: Worker) -> bool:
        """Whether Today shows the desk a waitlist task it can answer (a slot to book by hand,
        or a refused booking): one cheap query at each tick instead of the page's. The entries
        here wait with no later visit, so no "release" task arises."""
        with worker.store.engine.connect() as connection:
            return connection.execute(select(FREED_SLOTS.c.id).where(
                FREED_SLOTS.c.status == "taken", FREED_SLOTS.c.booking_status.in_(("desk_task", "failed")))
                .limit(1)).first() is not None

    def answer_tasks(self, worker: Worker, now: datetime) -> None:
        """The desk's answers to the waitlist tasks Today shows now (in their order)."""
        for task in book_tasks.tasks(worker.settings, worker.store, now, full=True):
            if task.kind == "coming" or self.desk.random() >= ANSWER_CHANCE:
                continue
            answer = ANSWERS.get(task.kind) or ("dropped" if self.desk.random() < DROP_CHANCE else "booked")
            done = book_tasks.answer_task(worker.settings, worker.store, task.kind, task.slot_id, answer,
                                          DESK_USER, ROLE, now)
            self.happened.tally[f"{task.kind} {answer}" if done is not None else f"{task.kind} no longer open"] += 1
            if done is None or answer != "booked":
                continue
            undone = None
            if self.desk.random() < UNDO_CHANCE and book_undo.undo_offer(worker.store, done, now, UNDO_WINDOW):
                try:
                    book_undo.undo_booked(worker.store, done, DESK_USER, now, UNDO_WINDOW)
                    undone = now
                    self.happened.tally["booked undone"] += 1
                except book_undo.NotUndone as refused:
                    self.happened.tally[f"undo refused: {refused.why}"] += 1
            self.happened.booked.append((task.slot_id, now, undone))

    def check_history(self, store: Store, rows: dict[str, list[Any]], now: datetime) -> list[tuple[datetime, str]]:
        """Each freed visit's History holds the desk's *Booked by hand* on its slot, one entry
        per answer, struck through where it was undone, and no other waitlist answer."""
        wanted: dict[int, list[tuple[str, bool]]] = defaultdict(list)
        slots = {s["id"]: s for s in rows["slots"]}
        for slot_id, _, undone in self.happened.booked:
            wanted[slots[slot_id]["appointment_id"]].append(("waitlist_booked", undone is not None))
        problems = []
        with store.engine.connect() as connection:
            visits = {s["appointment_id"] for s in rows["slots"]} | set(wanted)
            for visit in sorted(visits):
                story = [(e.action, e.undone) for e in visit_history(connection, visit, full=True)
                         if e.action.startswith("waitlist_")]
                if story != wanted.get(visit, []):
                    problems.append((now, f"waitlist: the History of visit {visit} reads {story}, and the desk "
                                          f"answered {wanted.get(visit, [])}"))
        return problems

    def notes(self, sent: list[Sent]) -> str:
        """What the actors' steps came to, and the waitlist's messages the oracle checked."""
        messages = Counter(m.identity.kind for m in sent if m.identity.kind.startswith("waitlist "))
        return "waitlist: " + ", ".join(f"{k} {v}" for k, v in sorted((self.happened.tally + messages).items()))
