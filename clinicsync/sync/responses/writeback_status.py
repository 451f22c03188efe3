"""The write-back section of `status`: counts per state and the failing rows.

Apart from ``writeback.py`` (which imports the connectors, the set-aside machinery and the
reminders' transactions to do the writing) so that `status` reads two queries on the Core
table (sync/store/tables.py) and nothing else, so it stays quick."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from clinicsync.common.timeutil import iso_z
from clinicsync.common.types import utcnow
from clinicsync.sync.store.tables import RECENT, HasEngine, by_state
from clinicsync.sync.store.tables import WRITEBACKS as W

STATES = ("pending", "done", "unsupported", "superseded", "set_aside")
LIVE = ("pending", "set_aside")  # still to be written (or waiting for a person)


def writeback_figures(connection: Connection, now: datetime) -> dict[tuple[Any, ...], int]:
    """Write-backs per state: every one still to be written, and the settled ones (done,
    unsupported, superseded) last due in the last ``RECENT``, through ``(status, next_at)``."""
    return by_state(connection, W.c.status, LIVE, tuple(s for s in STATES if s not in LIVE), W.c.next_at,
                    now - RECENT)


def writeback_status(store: HasEngine, now: datetime | None = None) -> dict[str, Any]:
    """Counts per state (:func:`writeback_figures`) and the failing ones (attempts, next try,
    last error) for `status`."""
    with store.engine.connect() as connection:
        counts = {state: count for (state,), count in writeback_figures(connection, now or utcnow()).items()}
        failing = connection.execute(select(W).where(W.c.status == "pending", W.c.attempts > 0)
                                     .order_by(W.c.next_at).limit(20)).all()
    return {**{state: int(counts.get(state, 0)) for state in STATES},
            "failing": [{"id": r.id, "appointment": f"{r.connector}:{r.external_id}", "attempts": r.attempts,
                         "next_at": iso_z(r.next_at), "last_error": r.last_error} for r in failing]}
