"""A run's stage progress in the store (table run_stage), so that `status` in another
process shows what is running now: which stage, since when, rows so far. A stage whose
process is gone (same host, pid not alive) or whose heartbeat stopped for STALE_AFTER is
shown as stale, never as running forever."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.common.logs import get_logger
from clinicsync.common.timeutil import iso_z
from clinicsync.common.types import utcnow
from clinicsync.sync.runs.progress import ProgressObserver, import_stage
from clinicsync.sync.store.db import one_statement
from clinicsync.sync.store.tables import RUN_STAGES, HasEngine, loose_scan

log = get_logger("clinicsync.progress")  # imports structlog when it first logs, not with `status`
STAGES = RUN_STAGES  # the Core table (sync/store/tables.py): `status` reads it without the model
S = STAGES.c
# The two statements every stage writes, built once: a statement built per call costs SQLAlchemy
# its construction and cache key (most of an idle poll's bookkeeping CPU); these compile once.
_STARTED = insert(STAGES).values(run_id=bindparam("run_id"), stage=bindparam("stage"), status="running", rows=0,
                                 total=bindparam("total"), host=bindparam("host"), pid=bindparam("pid"),
                                 started_at=bindparam("now"), heartbeat_at=bindparam("now"))
_FINISHED = update(STAGES).where(S.id == bindparam("row")).values(
    status=bindparam("status"), error=bindparam("error"), heartbeat_at=bindparam("now"), finished_at=bindparam("now"))
STALE_AFTER = timedelta(minutes=10)  # no heartbeat for this long: the run is taken for dead
KEEP_FINISHED = timedelta(days=7)  # stages' rows older than this are deleted (prune_stages), each stage's newest aside
PRUNED_PER_CALL = 5_000  # rows prune_stages deletes at most per call
WRITE_EVERY = 2.0  # seconds between two writes of a stage's rows (its first rows and its end always go)


class RunRecorder(ProgressObserver):
    """Writes each stage's start, rows (at most every WRITE_EVERY seconds) and end. A store
    error is logged once and recording stops: the run itself goes on."""

    def __init__(self, store: HasEngine, run_id: str) -> None:
        self.store, self.run_id = store, run_id
        self.rows: dict[str, int] = {}  # stage -> its row id
        self.written: dict[str, float] = {}
        self.done: dict[str, tuple[int, int | None]] = {}  # stage -> (rows, total) as last told
        self.lazy: dict[str, datetime] = {}  # stage -> its start, not written until it stores (stage_storing)
        self.broken = False
        self.host, self.pid = socket.gethostname()[:255], os.getpid()

    def _write(self, action: str, stage: str, statement: Any, rows: list[dict[str, Any]] | dict[str, Any] | None = None
               ) -> Any:
        """``rows``: the statement's parameters (several rows: one execution of them all)."""
        if self.broken:
            return None
        try:
            with one_statement(self.store.engine) as connection:
                return connection.execute(statement, rows) if rows else connection.execute(statement)
        except SQLAlchemyError as exc:
            self.broken = True
            log.warning("progress.not_recorded", action=action, stage=stage, error=type(exc).__name__)
            return None

    def stage_started(self, stage: str, total: int | None = None) -> None:
        self._start(stage, total, utcnow())

    def _start(self, stage: str, total: int | None, now: datetime) -> None:
        result = self._write("start", stage, _STARTED, {
            "run_id": self.run_id, "stage": stage[:96], "total": total, "host": self.host, "pid": self.pid,
            "now": now})
        if result is not None:
            self.rows[stage] = int(result.inserted_primary_key[0])

    def stage_started_lazily(self, stage: str) -> None:
        """No row yet: a poll that stores nothing writes none (its run row says it polled:
        sync/store/run_log.py ``note_idle_poll``); ``stage_storing`` writes it, dated from now."""
        self.lazy[stage] = utcnow()

    def stage_storing(self, stage: str) -> None:
        started = self.lazy.pop(stage, None)
        if started is not None:
            self._start(stage, None, started)  # the rows counted meanwhile go with its next write

    def stages_skipped(self, stages: Sequence[str]) -> None:
        """One row each, written finished (``ok``, 0 rows of 0) in one statement: `status` shows
        that the run looked at the stage and found nothing to do, for a write, not a stage's two."""
        if not stages:
            return
        now = utcnow()
        self._write("skip", stages[0], insert(STAGES), [
            {"run_id": self.run_id, "stage": stage[:96], "status": "ok", "rows": 0, "total": 0, "host": self.host,
             "pid": self.pid, "started_at": now, "heartbeat_at": now, "finished_at": now}
            for stage in stages])

    def stage_advanced(self, stage: str, done: int, total: int | None = None) -> None:
        row = self.rows.get(stage)
        self.done[stage] = (done, total)  # a lazy stage's too: its row gets them when written
        last = self.written.get(stage)
        if row is None or (last is not None and time.monotonic() - last < WRITE_EVERY):
            return
        self.written[stage] = time.monotonic()
        values: dict[str, Any] = {"rows": done, "heartbeat_at": utcnow()}
        if total is not None:
            values["total"] = total
        self._write("advance", stage, update(STAGES).where(S.id == row).values(**values))

    def stage_finished(self, stage: str, error: str | None = None) -> None:
        if stage in self.lazy:
            if error is None:  # stored nothing, failed nothing: no row (its run's row tells)
                del self.lazy[stage]
                self.done.pop(stage, None)
                return
            self.stage_storing(stage)  # a failure is always recorded
        row = self.rows.pop(stage, None)
        if row is None:
            return
        now = utcnow()
        status = "failed" if error else "ok"
        if stage not in self.done:  # nothing counted: the statement built once
            self._write("finish", stage, _FINISHED, {"row": row, "status": status, "error": error, "now": now})
            return
        values: dict[str, Any] = {"status": status, "error": error, "heartbeat_at": now, "finished_at": now}
        values["rows"], total = self.done.pop(stage)
        if total is not None:
            values["total"] = total
        self._write("finish", stage, update(STAGES).where(S.id == row).values(**values))


def prune_stages(store: HasEngine, now: datetime | None = None) -> int:
    """The stages' rows past KEEP_FINISHED (the history past a week is noise), each stage's newest
    row aside: `status`, the stalls and the stage-failing gauge read it (sync/checks/stalls.py
    ``_latest_stage_rows``). A row still `running` goes once its heartbeat is that old too (a
    worker killed mid-stage). Called by the retention pass (sync/ingest/after_run.py ``retention_pass``).
    Why not as a stage ends, as on main: a stage that never runs again (a removed source's
    import) kept its week of rows for ever, and every row a killed worker left `running` stayed
    too. Per stage through ix_run_stage_stage_started (the names by a loose index scan, then its
    newest row and its rows before the cutoff): no read of the week's rows. At most
    PRUNED_PER_CALL rows a call, oldest first."""
    cutoff = (now or utcnow()) - KEEP_FINISHED
    removed = 0
    with store.engine.begin() as connection:
        for stage in list(connection.execute(_STAGE_NAMES).scalars()):
            newest = connection.execute(select(S.id).where(S.stage == stage)
                                        .order_by(S.started_at.desc(), S.id.desc()).limit(1)).scalar()
            ids = list(connection.execute(select(S.id).where(
                S.stage == stage, S.started_at < cutoff, S.id != newest,
                or_(S.status != "running", S.heartbeat_at < cutoff))
                .order_by(S.started_at).limit(PRUNED_PER_CALL - removed)).scalars())
            for start in range(0, len(ids), 500):
                connection.execute(delete(STAGES).where(S.id.in_(ids[start:start + 500])))
            removed += len(ids)
            if removed >= PRUNED_PER_CALL:
                break
    return removed


_STAGE_NAMES = loose_scan("run_stage", "stage")  # one probe each of ix_run_stage_stage_started


@dataclass(frozen=True)
class StageActivity:
    """A stage that is running now, or that was running when its process died (stale)."""

    run_id: str
    stage: str
    state: str  # running | stale
    rows: int
    total: int | None
    started_at: datetime
    heartbeat_at: datetime
    why_stale: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "stage": self.stage, "state": self.state, "rows": self.rows,
                "total": self.total, "started_at": iso_z(self.started_at), "heartbeat_at": iso_z(self.heartbeat_at),
                "why_stale": self.why_stale}


def _process_gone(host: str | None, pid: int | None) -> bool:
    """Only a process on this host can be checked; elsewhere the heartbeat decides."""
    if host != socket.gethostname()[:255] or pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def stale_reason(host: str | None, pid: int | None, heartbeat_at: datetime, now: datetime) -> str | None:
    if _process_gone(host, pid):
        return f"its process ({pid} on {host}) is gone: crashed or killed"
    if now - heartbeat_at > STALE_AFTER:
        return f"no progress for over {int(STALE_AFTER.total_seconds() // 60)} minutes"
    return None


def running_stages(store: HasEngine, now: datetime | None = None) -> list[StageActivity]:
    """Each stage running now (several polls may run the same stage at once), and each stale
    one unless a later run of the same stage started since (then it is history, not news)."""
    now = now or utcnow()
    with store.engine.connect() as connection:
        rows = connection.execute(select(STAGES).where(S.status == "running").order_by(S.started_at, S.id)).all()
        if not rows:
            return []
        latest: dict[str, datetime] = dict(connection.execute(select(S.stage, func.max(S.started_at)).where(
            S.stage.in_({r.stage for r in rows})).group_by(S.stage)).all())
    out = []
    for r in rows:
        why = stale_reason(r.host, r.pid, r.heartbeat_at, now)
        if why and r.started_at < latest[r.stage]:
            continue  # a dead run's stage, run again since: history (live ones all show: parallel polls)
        out.append(StageActivity(r.run_id, r.stage, "stale" if why else "running", r.rows, r.total, r.started_at,
                                 r.heartbeat_at, why))
    return out


def connector_state(last_status: str, run_id: str, started_at: datetime, connector: str,
                    activity: list[StageActivity], now: datetime | None = None) -> str:
    """A connector's last run as `status` shows it: a `running` run row whose import is stale
    (or that has no progress row and started longer than STALE_AFTER ago) is `stale`."""
    if last_status != "running":
        return last_status
    mine = next((a for a in activity if a.run_id == run_id and a.stage == import_stage(connector)), None)
    if mine is not None:
        return mine.state
    return "stale" if (now or utcnow()) - started_at > STALE_AFTER else "running"
