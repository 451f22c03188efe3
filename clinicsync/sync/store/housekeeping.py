"""Housekeeping: forgetting patient data past ``patient_keep``
(retention.py does the work), and the chores a process records as done for a window."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select

from clinicsync.common.types import utcnow
from clinicsync.sync.store import retention
from clinicsync.sync.store.base import StoreBase
from clinicsync.sync.store.db import upsert_statement
from clinicsync.sync.store.tables import HOUSEKEEPING

ORPHANS_CHORE = "retention: patients no visit names"  # Store.forget_patient_data's daily look


class Housekeeping(StoreBase):
    """Forgets old patient data, once per window for the slow part."""

    def forget_patient_data(self, now: datetime | None = None, limit: int | None = None,
                            consumers: Collection[str] | None = None) -> retention.Forgotten:
        """Forget the patient data of visits that ended more than ``patient_keep`` ago, a bounded
        number a call (sync/store/retention.py): called at each sync pass, as :meth:`prune_runs`.
        ``consumers``: the outbox consumers switched on (sync/store/tables.py ``live_consumers``)."""
        now = now or utcnow()
        cutoff = retention.window_start(now, self.patient_keep)
        orphans = cutoff != self._orphans_cutoff and cutoff != self._chore_done_for(ORPHANS_CHORE)
        done = retention.forget(self.engine, self.patient_keep, now, limit, orphans=orphans, consumers=consumers)
        if done.patients < (retention.FORGOTTEN_PER_CALL if limit is None else limit):
            # Patients no visit names: looked for once per window (a day), by whichever process
            # comes first: in a process, cron's `sync --once` would redo it at every run.
            self._orphans_cutoff = cutoff
            if orphans:
                self._chore_done(ORPHANS_CHORE, cutoff)
        return done

    def _chore_done_for(self, task: str) -> datetime | None:
        """The window (or day) ``task`` last ran for (model/housekeeping.py), None before."""
        with self.engine.connect() as connection:
            value: datetime | None = connection.execute(
                select(HOUSEKEEPING.c.done_for).where(HOUSEKEEPING.c.task == task)).scalar_one_or_none()
            return value

    def _chore_done(self, task: str, done_for: datetime) -> None:
        with self.engine.begin() as connection:
            connection.execute(upsert_statement(connection, HOUSEKEEPING, ("task",), ("done_for",)),
                               {"task": task, "done_for": done_for})
