"""The write-back section of `status`: counts per state and the failing rows.

Apart from ``writeback.py`` (which imports the connectors, the set-aside machinery and the
reminders' transactions to do the writing) so that `status` reads two queries on the Core
table (sync/tables.py) and nothing else (issue 31, obs 6)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from clinicsync.common.timeutil import iso_z
from clinicsync.sync.tables import WRITEBACKS as W
from clinicsync.sync.tables import HasEngine

STATES = ("pending", "done", "unsupported", "superseded", "set_aside")


def writeback_status(store: HasEngine) -> dict[str, Any]:
    """Counts per state and the failing ones (attempts, next try, last error) for `status`."""
    with store.engine.connect() as connection:
        counts: dict[str, int] = dict(connection.execute(select(W.c.status, func.count()).group_by(W.c.status)).all())
        failing = connection.execute(select(W).where(W.c.status == "pending", W.c.attempts > 0)
                                     .order_by(W.c.next_at).limit(20)).all()
    return {**{state: int(counts.get(state, 0)) for state in STATES},
            "failing": [{"id": r.id, "appointment": f"{r.connector}:{r.external_id}", "attempts": r.attempts,
                         "next_at": iso_z(r.next_at), "last_error": r.last_error} for r in failing]}
