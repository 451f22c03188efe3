"""The front desk's side of DESK: each DeskAct pressed through the code the status page runs
(sync/desk/actions.py: ``seen_of`` as the page draws a visit, ``record_action`` on its post,
``undo_offer`` and ``undo_action`` for the Undo on the "Recorded" line), and, at the end, each
visit's History (responses/history.py ``visit_history``, what the page and `appointments show`
read) compared with the oracle's ``desk_record``."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy import select

from clinicsync.sync.desk.actions import Refused, record_action, seen_of, undo_action, undo_offer
from clinicsync.sync.responses.history import visit_history
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.store import Store
from tests.simulation.clinic import Worker
from tests.simulation.scenario import DESK_UNDO_LATER, TZ, DeskAct, Scenario

A = Appointment.__table__  # type: ignore[attr-defined]
DESKS = ("deskmain", "desk2")  # two logins of the front_desk role
ROLE = "front_desk"
WAITLIST_STEPS = "waitlist_"  # the desk's answers to waitlist tasks, checked by the waitlist actors
OTHER_WORDS = "will call back to rebook"  # "another reason" in the desk's words


def appointment_id(store: Store, external_id: str) -> int | None:
    """The stored visit of a scenario's external id (ids are unique across its sources)."""
    with store.engine.connect() as connection:
        found = connection.execute(select(A.c.id).where(A.c.external_id == external_id,
                                                        A.c.deleted_at.is_(None))).scalar()
    return int(found) if found is not None else None


class DeskActors:
    def __init__(self, scenario: Scenario) -> None:
        self.acts: dict[datetime, list[DeskAct]] = {}
        for act in scenario.desk:
            self.acts.setdefault(act.at, []).append(act)
        self.drawn: dict[int, str] = {}  # a stale act's page: the digest drawn before the tick's sync
        self.problems: list[tuple[datetime, str]] = []
        self.later: dict[datetime, list[int]] = {}  # "undo-later": the desk action to take back then
        self.tally: Counter[str] = Counter()  # what the desk's steps came to: recorded, undone, refused (why)

    def draw_pages(self, store: Store, now: datetime) -> None:
        """Before the tick's sync: the pages the stale acts will be pressed on."""
        for act in self.acts.get(now, []):
            found = appointment_id(store, act.external_id) if act.stale else None
            if found is not None:
                self.drawn[id(act)] = seen_of(store, [found])[found].digest

    def act(self, worker: Worker, now: datetime) -> None:
        """The tick's acts, after its sync and replies; first the Undos pressed a few minutes
        after their step ("undo-later"), if the page still offers them."""
        for action_id in self.later.pop(now, []):
            self._undo(worker, action_id, now, f"desk action {action_id}")
        for act in self.acts.get(now, []):
            found = appointment_id(worker.store, act.external_id)
            if found is None or (act.stale and id(act) not in self.drawn):
                continue
            self._steps(worker, act, found, now)

    def _record(self, worker: Worker, found: int, step: str, act: DeskAct, user: str, now: datetime,
                seen: str) -> dict[str, Any] | Refused | None:
        try:
            return record_action(worker.settings, worker.store, found, step, user, ROLE, now, seen=seen,
                                 reason=act.reason if step == "cancel" else None,
                                 note=OTHER_WORDS if step == "cancel" and act.reason == "other" else None)
        except Refused as refused:
            return refused

    def _steps(self, worker: Worker, act: DeskAct, found: int, now: datetime) -> None:
        store, last = worker.store, None
        where = f"{act.external_id} at {now.astimezone(TZ):%Y-%m-%d %H:%M}"
        for n, step in enumerate(act.steps):
            if step == "undo-later":
                if last is not None:
                    self.later.setdefault(now + DESK_UNDO_LATER, []).append(last)
                continue
            if step == "undo":
                if last is not None:
                    self._undo(worker, last, now, where)
                last = None
                continue
            seen = self.drawn[id(act)] if act.stale and n == 0 else seen_of(store, [found])[found].digest
            if act.race and n == 0:
                with ThreadPoolExecutor(2) as pool:  # two desks press on the same page at once
                    outcomes = list(pool.map(lambda user: self._record(worker, found, step, act, user, now, seen),
                                             DESKS))
            else:
                outcomes = [self._record(worker, found, step, act, DESKS[0], now, seen)]
            recorded = [o for o in outcomes if isinstance(o, dict)]
            self.tally[f"recorded {step}"] += len(recorded)
            self.tally["refused as changed"] += sum(isinstance(o, Refused) and o.changed for o in outcomes)
            self.tally["refused as not fitting"] += sum(isinstance(o, Refused) and not o.changed for o in outcomes)
            if len(recorded) > 1:
                self.problems.append((now, f"desk: two desks at once on {where} both recorded {step}"))
            if recorded and len(outcomes) > 1 and not any(isinstance(o, Refused) and o.changed for o in outcomes):
                self.problems.append((now, f"desk: the second desk on {where} was not told the visit changed"))
            if act.stale:
                return  # one step on a page drawn before the sync (recorded: the History comparison names it)
            last = int(recorded[0]["id"]) if recorded else None

    def _undo(self, worker: Worker, action_id: int, now: datetime, where: str) -> None:
        """The Undo on the "Recorded" line, pressed if the page offers it (undo_offer)."""
        offer = undo_offer(worker.store, action_id, now)
        if offer is None:
            return
        try:
            undo_action(worker.settings, worker.store, action_id, DESKS[0], now, str(offer["seen"]))
            self.tally["undone"] += 1
        except Refused as refused:
            self.problems.append((now, f"desk: Undo offered on {where} and refused: {refused.why}"))

    def check(self, store: Store, expected: dict[tuple[str, str], list[tuple[str, str, str, bool]]],
              now: datetime) -> None:
        """Each visit's History as it must read: the desk's steps and the patient's replies, each
        by its own actor (no answer inferred from another row), undone where it was undone."""
        with store.engine.connect() as connection:
            rows = connection.execute(select(A.c.id, A.c.external_id).where(A.c.deleted_at.is_(None))).all()
            for row in rows:
                story = [(e.actor, e.action, e.how, e.undone) for e in visit_history(connection, row.id, full=True)
                         if not e.action.startswith(WAITLIST_STEPS)]  # the waitlist actors' (waitlist_actors.py)
                wanted = next((v for k, v in expected.items() if k[1] == row.external_id), None)
                if wanted is None:
                    if any(entry[0] == "front desk" for entry in story):
                        self.problems.append((now, f"desk: {row.external_id} has desk actions nobody took: {story}"))
                    continue
                if story != wanted:
                    self.problems.append((now, f"desk: {row.external_id}'s History reads {story}, "
                                               f"and what happened was {wanted}"))
