"""The store: applies a batch of normalized appointments with change detection.

Everything a batch causes — rows, outbox events, quarantine entries and the
connector's new cursor — is written in one transaction. Unchanged input writes
nothing at all. Bulk selects and executemany keep it fast on large imports.

``Store`` is the one object importers use; it is composed of parts, each a concern in its own
module over the shared state of base.py (:class:`StoreBase`):

- run_log.py: a run's row from start to finish, abandoned runs, pruning the history;
- source_state.py: a source's cursor, go-live baseline, fingerprints, open quarantine items;
- batch.py: ``apply_batch``, the one transaction a poll, a push or a retry writes through,
  which calls on people.py (patients, practitioners, locations), appointments.py (change
  detection and events), deletions.py (explicit deletes, tombstones, a listing's absent rows);
- housekeeping.py: forgetting old patient data and the chores done per window;
- reminder_rows.py (``Store.reminder_rows``, a step object over the engine): the dispatcher's
  claims, hand-overs and outcomes of reminder rows;
- waitlist_rows.py (``Store.waitlist_rows``, a step object over the engine): a freed slot's booking
  from its claim to its outcome, failed offers, and the reads of the status page's waitlist,
  its add form and the offer page;
- status_rows.py (``Store.status_rows``): the status page's plain reads (notifiers' attempts,
  calendar links waiting, its filters' choices, messages per channel and due in a window).

The batch writer's helpers are modules of their own: records.py (Mapped, Counts, SnapshotEnd,
…), views.py and row_hash.py (what counts as content, and its hash), row_code.py (an
appointment's row and the code generated to build it), events.py (their outbox events),
presence.py (a push's one read), go_live.py (the go-live rule) and fold.py (PostgreSQL's one
statement per push). This module re-exports the names importers have always taken from it.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property

from sqlalchemy import Engine

from clinicsync.common.types import utcnow
from clinicsync.sync.config.settings import StoreSettings
from clinicsync.sync.store.appointments import AppointmentWriter
from clinicsync.sync.store.base import _ANALYZE_FROM, StoreBase, StoredIds
from clinicsync.sync.store.batch import PEOPLE_MEMORY_LIMIT, BatchWriter
from clinicsync.sync.store.bulk import select_in
from clinicsync.sync.store.db import ensure_schema, make_engine
from clinicsync.sync.store.deletions import Deletions
from clinicsync.sync.store.events import _created_by_select
from clinicsync.sync.store.fold import _Fold
from clinicsync.sync.store.housekeeping import ORPHANS_CHORE, Housekeeping
from clinicsync.sync.store.options import STORED_GO_LIVE, BatchOptions, PushOptions, StoredGoLive
from clinicsync.sync.store.people import (
    _PATIENT,
    _PERSON_TAIL,
    _PRACTITIONER,
    PeopleWriter,
    _insert_new,
    _upsert_one,
)
from clinicsync.sync.store.presence import (
    FoldedRead,
    Known,
    Presence,
    presence,
    presence_and_folded,
    presence_and_known,
)
from clinicsync.sync.store.quarantine import QuarantineEntry
from clinicsync.sync.store.records import (
    COUNT_KEYS,
    Counts,
    Mapped,
    SnapshotEnd,
    SnapshotSafetyStop,
    build_mapped,
)
from clinicsync.sync.store.reminder_rows import ReminderRows
from clinicsync.sync.store.row_code import (
    _ALL_UNSET,
    _PLAIN_MASK,
    _ROW_NAMES,
    _all_plain,
    _appointment_values,
    _bound_rows,
    _hashed_rows,
    _inlined,
    _unset_columns,
    notes_text,
)
from clinicsync.sync.store.row_hash import _PERSON_DICTS, HeldJson, _appointment_hash, _batch_hashes
from clinicsync.sync.store.run_log import RUNS_PRUNED_PER_CALL, RunLog
from clinicsync.sync.store.source_state import SourceState
from clinicsync.sync.store.status_rows import StatusRows
from clinicsync.sync.store.tables import APPOINTMENTS, LOCATIONS, PATIENTS, PRACTITIONERS
from clinicsync.sync.store.tables import SYNC_RUNS as RUNS
from clinicsync.sync.store.waitlist_rows import WaitlistRows

# What importers take from this module. Each name lives in the part that owns it: a test that
# patches one (monkeypatch.setattr) patches that module, not this one.
__all__ = [
    "APPOINTMENTS", "COUNT_KEYS", "LOCATIONS", "ORPHANS_CHORE", "PATIENTS", "PEOPLE_MEMORY_LIMIT", "PRACTITIONERS",
    "RUNS", "RUNS_PRUNED_PER_CALL", "STORED_GO_LIVE", "_ALL_UNSET", "_ANALYZE_FROM", "_PATIENT", "_PERSON_DICTS",
    "_PERSON_TAIL", "_PLAIN_MASK", "_PRACTITIONER", "_ROW_NAMES", "AppointmentWriter", "BatchOptions", "BatchWriter",
    "Counts", "Deletions", "FoldedRead", "HeldJson", "Housekeeping", "Known", "Mapped", "PeopleWriter",
    "Presence", "PushOptions", "QuarantineEntry", "ReminderRows", "RunLog", "SnapshotEnd", "SnapshotSafetyStop",
    "SourceState", "StatusRows",
    "Store", "StoreBase", "StoredGoLive", "StoredIds", "WaitlistRows", "_Fold", "_all_plain", "_appointment_hash",
    "_appointment_values", "_batch_hashes", "_bound_rows", "_created_by_select", "_hashed_rows", "_inlined",
    "_insert_new", "_unset_columns", "_upsert_one", "build_mapped", "notes_text", "presence", "presence_and_folded",
    "presence_and_known", "select_in", "utcnow",
]


class Store(BatchWriter, RunLog, Housekeeping):
    """The store, one object: its parts (the module docstring) share one engine and one memory."""

    @classmethod
    def open(cls, settings: StoreSettings) -> Store:
        engine = make_engine(settings.url, settings.pool_size, settings.echo, settings.max_overflow,
                             settings.pool_timeout)
        ensure_schema(engine)
        return cls.on(engine, settings)

    @classmethod
    def on(cls, engine: Engine, settings: StoreSettings) -> Store:
        """A store on ``engine`` with the application rules of ``settings`` (a dry run's engine)."""
        return cls(engine, future_tolerance=timedelta(seconds=settings.future_tolerance_seconds),
                   tombstone_keep=timedelta(days=settings.tombstone_days),
                   run_keep=timedelta(days=settings.run_history_days),
                   patient_keep=timedelta(days=settings.patient_data_days))

    @cached_property
    def reminder_rows(self) -> ReminderRows:
        """The reminder rows as the dispatcher claims, hands over and settles them (reminder_rows.py)."""
        return ReminderRows(self.engine)

    @cached_property
    def status_rows(self) -> StatusRows:
        """The status page's plain reads (status_rows.py)."""
        return StatusRows(self.engine)

    @cached_property
    def waitlist_rows(self) -> WaitlistRows:
        """The waiting list's rows as booking, offers and the desk's page read and write them (waitlist_rows.py)."""
        return WaitlistRows(self.engine)

    def close(self) -> None:
        self.engine.dispose()
