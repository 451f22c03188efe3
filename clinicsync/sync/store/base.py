"""The state every part of the store shares: its engine and rules, a run's memory of
what it stored, the tz rules it noted, and the reads and bookkeeping more than one part uses
(``_stored``, ``_grown``).

The parts (run log, source state, people, appointments, deletions, housekeeping, the batch) are
classes over :class:`StoreBase`, and ``Store`` (store.py) is composed of them: one object with
one engine and one memory, each concern in its own module."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from clinicsync.sync.store.bulk import select_in
from clinicsync.sync.store.changes import Stored
from clinicsync.sync.store.tables import APPOINTMENTS
from clinicsync.sync.store.zonerules import Rules, previous_rules

# Statistics are refreshed when a table got this many rows from the store, then at each doubling.
_ANALYZE_FROM = 20_000


_STORED_COLUMNS = tuple(f.name for f in fields(Stored))


class StoredIds:
    """The external ids a sole writer's run inserted into a connector that had no appointment
    when the run began, as a one-hash bit filter (1 MB, whatever the run's size): an id it
    never set is not stored, so a first import looks up only the ids that may be its own
    (one it inserted earlier, or a false positive: ~1 % of ids at 100,000 rows), not each
    batch's ~500 ids that find nothing (~4,000 instructions an id). Never forgets
    (only ever more lookups); what a rolled-back batch set is a false positive too."""

    __slots__ = ("bits",)
    _MASK = (1 << 23) - 1  # bit positions: 2^23 bits

    def __init__(self) -> None:
        self.bits = bytearray((self._MASK + 1) >> 3)

    def add(self, external_ids: Iterable[str]) -> None:
        bits, mask = self.bits, self._MASK
        for external_id in external_ids:
            at = hash(external_id) & mask
            bits[at >> 3] |= 1 << (at & 7)

    def maybe(self, external_ids: Iterable[str]) -> list[str]:
        """Those of ``external_ids`` that may be stored (the others are not)."""
        bits, mask = self.bits, self._MASK
        return [external_id for external_id in external_ids
                if bits[(at := hash(external_id) & mask) >> 3] >> (at & 7) & 1]


class StoreBase:
    """The store's engine, rules and per-process memory, shared by its parts."""

    def __init__(self, engine: Engine, *, future_tolerance: timedelta = timedelta(minutes=5),
                 tombstone_keep: timedelta = timedelta(days=30), run_keep: timedelta = timedelta(days=90),
                 patient_keep: timedelta = timedelta(days=365)) -> None:
        """``future_tolerance``: how far ahead of this clock a source's ``updated_at`` may be
        (sync/ingest/push.py refuses or clamps beyond it); ``tombstone_keep``: how long an explicit
        delete refuses copies that are not newer (``_tombstoned``); ``run_keep``: how long the
        run history is kept (:meth:`prune_runs`); ``patient_keep``: how long after a visit its
        patient data is kept (:meth:`forget_patient_data`)."""
        self.engine = engine
        self.future_tolerance, self.tombstone_keep = future_tolerance, tombstone_keep
        self.run_keep, self.patient_keep = run_keep, patient_keep
        self._people_scope: tuple[str, str] | None = None  # (run id, connector) of _people
        self._people: dict[str, dict[str, Any]] = {}  # kind ("patient", "practitioner") -> id -> person
        # Kinds ("patient", "practitioner") of which the connector had no row when _people's run
        # began, while _people has not started over: every stored one of them is in _people.
        self._people_all: set[str] = set()
        # The ids _people's run inserted, when the connector had no appointment as it began.
        self._stored_ids: StoredIds | None = None
        self._inserted: dict[str, int] = {}  # rows inserted by this store, per table (see _grown)
        self._zones_noted: set[str] = set()  # zones whose tz rules the store has recorded (sync/store/zonerules.py)
        self._previous: dict[str, Rules] | None = None  # the rules before each zone's last correction, once read
        self._analyzed_at: dict[str, int] = {}
        self._orphans_cutoff: datetime | None = None  # the window whose orphaned patients were looked for

    def forget_zone_rules(self) -> None:
        """A correction was made (sync/store/zonerules.py): read the rules before it again when asked.
        Another process's correction is seen by this store after its restart; until then a record
        it re-maps is an ``updated`` change without a move (no notice), not a rehash."""
        self._previous = None

    def _previous_rules(self, connection: Connection) -> dict[str, Rules]:
        if self._previous is None:
            self._previous = previous_rules(connection)
        return self._previous

    def _grown(self, connection: Connection, table: Any, inserted: int) -> None:
        """On PostgreSQL, refresh a table's planner statistics each time the rows this store
        inserted into it doubled (from _ANALYZE_FROM on). A first import outruns autovacuum:
        with the statistics of a near-empty table the planner answered each batch's lookup
        by scanning all of the connector's rows (100,000 appointments: 7 s of the server's
        time waiting, the lookups growing with the table). A role that does not own the
        table gets a warning from PostgreSQL, not an error: the batch goes on."""
        if not inserted or connection.dialect.name != "postgresql":
            return
        total = self._inserted[table.name] = self._inserted.get(table.name, 0) + inserted
        if total >= self._analyzed_at.get(table.name, _ANALYZE_FROM // 2) * 2:
            connection.exec_driver_sql(f"ANALYZE {connection.dialect.identifier_preparer.quote(table.name)}")
            self._analyzed_at[table.name] = total

    @staticmethod
    def _stored(connection: Connection, connector: str, external_ids: Sequence[str]) -> dict[str, Stored]:
        return {row[0]: Stored(*row[1:]) for row in select_in(
            connection, APPOINTMENTS, ("external_id", *_STORED_COLUMNS), connector, external_ids)}
