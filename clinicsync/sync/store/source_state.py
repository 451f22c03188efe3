"""What the store keeps of each source between runs: its cursor, its
go-live baseline (DESIGN invariant 7), the fingerprints of its live records and its open
quarantine items."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from clinicsync.common.types import utcnow
from clinicsync.sync.store import quarantine
from clinicsync.sync.store.base import StoreBase
from clinicsync.sync.store.bulk import bind_value, insert_rows, select_in, select_where, update_where
from clinicsync.sync.store.db import insert_ignoring_duplicates
from clinicsync.sync.store.known_prints import KnownPrints, read_known
from clinicsync.sync.store.options import HeldUntil
from clinicsync.sync.store.tables import APPOINTMENTS, BASELINES, STATES


class SourceState(StoreBase):
    """A source's cursor, baseline, fingerprints and open quarantine, read and written."""

    def load_cursor(self, connector: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            value = connection.execute(
                select(STATES.c.cursor).where(STATES.c.connector == connector)).scalar_one_or_none()
        return orjson.loads(value) if value is not None else None

    @staticmethod
    def _save_cursor(connection: Connection, connector: str, cursor: dict[str, Any]) -> None:
        """Driver-level statements (bulk.py): a batch writes its cursor each time, and three
        SQLAlchemy Core statements cost more than the rest of a small batch's bookkeeping."""
        encoded = orjson.dumps(cursor, option=orjson.OPT_SORT_KEYS).decode()
        stored = select_where(connection, STATES, ("cursor",), {"connector": connector})
        if stored and stored[0][0] == encoded:
            return  # unchanged input writes nothing, not even a timestamp
        when = bind_value(connection, STATES.c.updated_at, utcnow())
        if not stored:
            insert_rows(connection, STATES, ("connector", "cursor", "updated_at"), [(connector, encoded, when)],
                        bound=True)
        else:
            update_where(connection, STATES, ("cursor", "updated_at"), (encoded, when), {"connector": connector})

    def baseline_done(self, connector: str) -> bool:
        """Has the connector finished its first successful sync (its baseline)?"""
        with self.engine.connect() as connection:
            return connection.execute(select(BASELINES.c.connector)
                                      .where(BASELINES.c.connector == connector)).first() is not None

    def go_live(self, connector: str) -> datetime | None:
        """The connector's go-live moment: when its first successful sync finished (the
        baseline was recorded); None before. A record that enters the store later is
        announced only if clinicsync first saw it after this moment (docs/operations.md):
        what the baseline run itself quarantined was seen before it."""
        with self.engine.connect() as connection:
            recorded: datetime | None = connection.execute(
                select(BASELINES.c.recorded_at).where(BASELINES.c.connector == connector)).scalar()
        return recorded

    def finish_baseline(self, connector: str, run_id: str) -> None:
        """Record that the connector is live: what it finds from now on is announced."""
        with self.engine.begin() as connection:
            connection.execute(insert_ignoring_duplicates(connection, BASELINES).values(
                connector=connector, run_id=run_id, recorded_at=utcnow()))

    def held_until(self, connector: str) -> HeldUntil:
        """The newest source change stamp among the connector's stored visits and the newest
        visit it stored (None: none): a row stamped no later, or unstamped but booked no later
        than that visit was stored, was in the source when it was last read."""
        with self.engine.connect() as connection:
            changed, stored = connection.execute(
                select(func.max(APPOINTMENTS.c.source_updated_at), func.max(APPOINTMENTS.c.created_at))
                .where(APPOINTMENTS.c.connector == connector)).one()
        return HeldUntil(changed, stored)

    def fingerprints(self, connector: str, external_ids: Sequence[str]) -> dict[str, str]:
        """The stored raw-record fingerprints of these live appointments (deleted rows have
        none that counts: a record that comes back must be applied)."""
        if not external_ids:
            return {}
        with self.engine.connect() as connection:
            return dict(select_in(connection, APPOINTMENTS, ("external_id", "source_fingerprint"), connector,
                                  external_ids, condition="deleted_at IS NULL AND source_fingerprint IS NOT NULL"))

    def known_fingerprints(self, connector: str, limit: int, wanted: Iterable[str] = ()) -> KnownPrints | None:
        """The raw-record fingerprints of the connector's live appointments with their external
        ids, read once for a whole run into a compact index (sync/store/known_prints.py; used by
        sync/ingest/fingerprint.py LineRecognizer); None when the connector has more than ``limit``
        rows (then each batch looks its ids up instead). ``wanted``: ids whose rows the index
        notes (the open quarantine items' record ids)."""
        with self.engine.connect() as connection:
            return read_known(connection, APPOINTMENTS, connector, limit, wanted)

    def open_quarantine(self, connector: str) -> tuple[dict[str, tuple[int, str | None]], set[str]]:
        """The connector's open quarantine items, read once for a run (quarantine.open_items)."""
        with self.engine.connect() as connection:
            return quarantine.open_items(connection, connector)

    @staticmethod
    def save_cursor(connection: Connection, connector: str, cursor: dict[str, Any]) -> None:
        """The connector's cursor, in the caller's transaction (a waitlist source's batch)."""
        SourceState._save_cursor(connection, connector, cursor)
