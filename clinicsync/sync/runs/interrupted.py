"""Push runs a crash left `running`: closed as failed, with the reason, before each run.

Apart from sync/checks/stalls.py (what `status`, /ui and /metrics report: orphans, set-aside counts,
listeners, certificates, ~28 M instructions to import): every `sync --once` asks this, and one
with no push source asks nothing else of it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update

from clinicsync.common.types import utcnow
from clinicsync.connectors.registry import is_polled
from clinicsync.sync.store.tables import SYNC_RUNS, HasEngine

if TYPE_CHECKING:
    from clinicsync.sync.config.settings import Settings

# A push is one transaction: a run of a push source still `running` after this is dead.
PUSH_RUN_LIMIT = timedelta(minutes=10)
INTERRUPTED = ("interrupted: the process stopped during this push (crash or kill) and never closed its run; "
               "the push was not stored unless the source sends it again")


def close_interrupted_runs(store: HasEngine, settings: Settings, now: datetime | None = None) -> int:
    """Close the runs of push sources left `running` by a crash (a push commits in one
    transaction, so one older than PUSH_RUN_LIMIT is dead): failed, with the reason."""
    now = now or utcnow()
    push = [c.name for c in settings.connectors if not is_polled(c)]
    if not push:
        return 0
    with store.engine.begin() as connection:
        result = connection.execute(update(SYNC_RUNS).where(
            SYNC_RUNS.c.connector.in_(push), SYNC_RUNS.c.status == "running",
            SYNC_RUNS.c.started_at < now - PUSH_RUN_LIMIT)
            .values(status="failed", finished_at=now, error=INTERRUPTED))
    return int(result.rowcount or 0)
