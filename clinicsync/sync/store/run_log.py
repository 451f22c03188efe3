"""The run log: a run's row from start to finish, the runs a dead worker left
running, and the pruning of old history."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import orjson
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from clinicsync.common.types import utcnow
from clinicsync.sync.store.base import StoreBase
from clinicsync.sync.store.db import one_statement
from clinicsync.sync.store.records import Counts
from clinicsync.sync.store.tables import SYNC_RUNS as RUNS

RUNS_PRUNED_PER_CALL = 5_000  # run rows deleted per connector per prune_runs call
# The key of a run's counts that marks a row standing for idle polls, and how many (note_idle_poll).
IDLE_POLLS = "idle_polls"


# A run's two writes, built once (every poll makes them, idle or not): a statement built per call
# costs SQLAlchemy its construction and cache key each time; these compile once.
_RUN_STARTED = insert(RUNS).values(run_id=bindparam("run_id"), connector=bindparam("connector"), status="running",
                                   counts="{}", started_at=bindparam("now"))
_IDLE_RUN = insert(RUNS).values(run_id=bindparam("run_id"), connector=bindparam("connector"), status="ok",
                                counts=bindparam("counts"), started_at=bindparam("started"),
                                finished_at=bindparam("now"))
_IDLE_FOLDED = update(RUNS).where(RUNS.c.id == bindparam("row_id"), RUNS.c.status == "ok").values(
    counts=bindparam("counts"), started_at=bindparam("started"), finished_at=bindparam("now"))
_RUN_FINISHED = update(RUNS).where(RUNS.c.id == bindparam("row_id")).values(
    status=bindparam("status"), counts=bindparam("counts"), error=bindparam("error"), finished_at=bindparam("now"))


class RunLog(StoreBase):
    """Starts, finishes, abandons and prunes runs."""

    def start_run(self, run_id: str, connector: str, started: datetime | None = None) -> int:
        """``started``: when the run began, if before now (a poll writes its row only once it has
        something to store)."""
        with one_statement(self.engine) as connection:
            return self._insert_run(connection, run_id, connector, started)

    def note_idle_poll(self, run_id: str, connector: str, started: datetime, counts: Counts,
                       idle_run: tuple[int, int] | None) -> None:
        """A poll that found nothing new, stored nothing, failed nothing: one statement. When the
        connector's latest run row already stands for idle polls (``idle_run``: its id and how
        many, sync/runs/poll_state.py), that row is moved to this poll (its start, end and counts,
        ``idle_polls`` one more); otherwise one finished ``ok`` row is written, marked so.

        Why: a poll a minute wrote a run row and an import stage row, each inserted then updated
        (four writes), for nothing. What the readers take from the run history stays true: the
        latest run (when it started, ok), the last success (when it finished), the failures since
        (none: an idle row follows a failed one, never replaces it), so `status`, /metrics,
        the silent-source stall and its alert see a source polled now. A run that stored or
        failed anything keeps its own full row, never folded over."""
        now = utcnow()
        with one_statement(self.engine) as connection:
            if idle_run is not None:
                row_id, polls = idle_run
                folded = connection.execute(_IDLE_FOLDED, {
                    "row_id": row_id, "counts": _idle_counts(counts, polls + 1), "started": started, "now": now})
                if folded.rowcount == 1:
                    return
            connection.execute(_IDLE_RUN, {"run_id": run_id, "connector": connector, "started": started,
                                           "counts": _idle_counts(counts, 1), "now": now})

    def polls_recorded(self, connectors: Collection[str]) -> dict[str, int]:
        """How many polls the kept run history records for each of ``connectors`` (each named,
        0 when none): a row is one poll, except a row standing for idle polls, which counts
        them (``idle_polls``, :meth:`note_idle_poll`). A source that pushes has a row per push.

        The polls since a moment are this read then, subtracted from this read now. Why not the
        rows started since: an idle row is moved to each later idle poll, so the history keeps
        no time for a run of idle polls but its latest; counting rows started since a moment
        misses the earlier ones, and an idle row started since may count polls from before.
        Rows older than ``run_keep`` are pruned (:meth:`prune_runs`): across a prune the
        difference falls short. For each poll's time, read the workers' ``job.finished`` log
        lines (one per poll, at its end)."""
        names = list(connectors)
        polls = dict.fromkeys(names, 0)
        if not names:
            return polls
        idle = RUNS.c.counts.like(f'%"{IDLE_POLLS}":%')
        with self.engine.connect() as connection:
            for connector, rows in connection.execute(
                    select(RUNS.c.connector, func.count()).where(RUNS.c.connector.in_(names), ~idle)
                    .group_by(RUNS.c.connector)):
                polls[connector] += int(rows)
            for connector, counts in connection.execute(
                    select(RUNS.c.connector, RUNS.c.counts).where(RUNS.c.connector.in_(names), idle)):
                polls[connector] += int(orjson.loads(counts).get(IDLE_POLLS, 1))
        return polls

    def restart_run(self, run_id: str, connector: str) -> tuple[int, int]:
        """``abandon_runs`` then ``start_run``, in one transaction instead of two (a poll's first
        touch of the store): the new run's row id and how many runs were abandoned. Call it only
        while holding the connector's poll lock, as ``abandon_runs``."""
        with self.engine.begin() as connection:
            abandoned = self._abandon(connection, connector)
            return self._insert_run(connection, run_id, connector), abandoned

    @staticmethod
    def _insert_run(connection: Connection, run_id: str, connector: str, started: datetime | None = None) -> int:
        result = connection.execute(_RUN_STARTED, {"run_id": run_id, "connector": connector,
                                                   "now": started or utcnow()})
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def finish_run(self, row_id: int, counts: Counts, error: str | None) -> None:
        with one_statement(self.engine) as connection:
            connection.execute(_RUN_FINISHED, {"row_id": row_id, "status": "failed" if error else "ok",
                                               "counts": orjson.dumps(counts.as_dict()).decode(), "error": error,
                                               "now": utcnow()})

    def prune_runs(self, connectors: Sequence[str], now: datetime | None = None) -> int:
        """Delete the run history older than ``run_keep``: each connector's finished runs
        (polls and pushes) started before the cutoff, except its newest run and its newest
        successful run, which the status page, the stall checks and the metrics read (last
        run, last success, failures since).
        Why: a poll a minute and a run per push add ~500,000 rows a year a source, and
        nothing read them after a few weeks. At most RUNS_PRUNED_PER_CALL rows a connector a
        call, through ``(connector, started_at)``: a store upgraded after years catches up
        over a few passes without holding the write lock long, and a pass with nothing to
        delete costs two index probes a connector."""
        cutoff = (now or utcnow()) - self.run_keep
        removed = 0
        for connector in connectors:
            with self.engine.begin() as connection:
                # Its last run as connector_health reads it (the latest start: a probe of
                # ix_syncrun_connector_started; max(id) walked all its runs, 31-45 ms at 130k on
                # SQLite) and its last success (max id among its ok runs: a probe too).
                newest = [connection.execute(select(RUNS.c.id).where(RUNS.c.connector == connector)
                                             .order_by(RUNS.c.started_at.desc(), RUNS.c.id.desc()).limit(1)).scalar(),
                          connection.execute(select(func.max(RUNS.c.id)).where(
                              RUNS.c.connector == connector, RUNS.c.status == "ok")).scalar()]
                old = select(RUNS.c.id).where(RUNS.c.connector == connector, RUNS.c.started_at < cutoff,
                                              RUNS.c.status != "running",
                                              RUNS.c.id.not_in([i for i in newest if i is not None]))
                ids = list(connection.execute(old.order_by(RUNS.c.started_at).limit(RUNS_PRUNED_PER_CALL)).scalars())
                if ids:
                    connection.execute(delete(RUNS).where(RUNS.c.id.in_(ids)))
                    removed += len(ids)
        return removed

    def abandon_runs(self, connector: str) -> int:
        """Close the runs a dead worker left `running`. Call it only while holding the
        connector's poll lock: then no live worker can own them."""
        with self.engine.begin() as connection:
            return self._abandon(connection, connector)

    @staticmethod
    def _abandon(connection: Connection, connector: str) -> int:
        result = connection.execute(
            update(RUNS).where(RUNS.c.connector == connector, RUNS.c.status == "running")
            .values(status="failed", finished_at=utcnow(),
                    error="abandoned: the worker stopped before finishing (crash or kill); "
                          "the next run resumed from the last stored batch"))
        return int(result.rowcount)


def _idle_counts(counts: Counts, polls: int) -> str:
    return orjson.dumps({**counts.as_dict(), IDLE_POLLS: polls}).decode()
