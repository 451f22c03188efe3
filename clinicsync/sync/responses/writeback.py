"""The write-back outbox: answers waiting to reach their source.

Each pending row is handed to its connector's ``writeback``; success marks it done, a
source that does not take write-back marks it unsupported, and any other failure (the
source is down, a conflict, a bad token) keeps it pending with a doubling delay and its
error, shown by `status`. Only the newest answer per appointment is written: older
pending ones are superseded, so a yes-then-no never lands as yes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import and_, func, select, update

from clinicsync.common.timeutil import parse_duration
from clinicsync.common.types import utcnow
from clinicsync.connectors.base import Connector, WritebackAction, WritebackUnsupported
from clinicsync.connectors.registry import build_connector
from clinicsync.sync.checks.stage_probes import WRITEBACK_COUNTS
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.responses.writeback_status import STATES, writeback_status  # noqa: F401 - re-exported
from clinicsync.sync.runs.progress import Ticker, no_ticks
from clinicsync.sync.runs.setaside import Item, run_isolated, take_retries
from clinicsync.sync.runs.stage_locks import stage_lock
from clinicsync.sync.store.locks import BUSY, HeldLock, StageLockLost
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import WRITEBACKS

W = WRITEBACKS
STAGE = "writeback"
BATCH = 200
log = structlog.get_logger("clinicsync.responses")


def backoff(settings: Settings, attempts: int) -> Any:
    config = settings.responses
    base, cap = parse_duration(config.writeback_backoff), parse_duration(config.writeback_backoff_max)
    return min(base * (2 ** max(attempts - 1, 0)), cap)


def process_writebacks(settings: Settings, store: Store, now: datetime | None = None) -> dict[str, int]:
    """Try every due write-back once; returns counts of what happened. Under the stage's lock
    (sync/store/locks.py ``stage_lock``): the rows are read, then written to their sources outside
    any transaction, so two runs overlapping wrote each answer twice (a CSV responses file got
    two lines) and an earlier answer could land after the later one that superseded it. A run
    that finds the stage held skips it (``busy``); the holder writes what is due, and stops
    (:class:`StageLockLost`) if the lock's database session drops meanwhile."""
    report = dict.fromkeys(WRITEBACK_COUNTS, 0)  # sync/checks/stage_probes.py reports them, all 0, when nothing is due
    with stage_lock(store.engine, STAGE) as held:
        if held is None:
            log.info("responses.writeback_skipped", reason="another worker is running the write-back stage")
            return {**report, BUSY: 1}
        return _write_due(settings, store, now or utcnow(), report, held)


def _write_due(settings: Settings, store: Store, now: datetime, report: dict[str, int],
               held: HeldLock) -> dict[str, int]:
    with writer(store.engine) as connection:
        retried = [int(r.item.split(":", 1)[1]) for r in take_retries(connection, STAGE, now)]
        if retried:  # staff fixed what made them fail: due again now
            connection.execute(update(W).where(W.c.id.in_(retried), W.c.status == "set_aside").values(
                status="pending", next_at=now))
        newest = select(W.c.appointment_id, func.max(W.c.id).label("id")).where(
            W.c.status == "pending").group_by(W.c.appointment_id).subquery()
        older = select(W.c.id).join(newest, and_(newest.c.appointment_id == W.c.appointment_id,
                                                 W.c.id < newest.c.id)).where(W.c.status == "pending")
        superseded = [row.id for row in connection.execute(older)]
        if superseded:
            connection.execute(update(W).where(W.c.id.in_(superseded)).values(
                status="superseded", done_at=now, last_error=None))
        report["superseded"] = len(superseded)
        due = list(connection.execute(select(W).where(W.c.status == "pending", W.c.next_at <= now)
                                      .order_by(W.c.next_at, W.c.id).limit(BATCH)))
    configs = {c.name: c for c in settings.connectors}
    connectors: dict[str, Connector] = {}
    try:
        for row in due:  # one that cannot be handled is set aside; the others go on
            if held.lost():  # its session dropped: another run may be writing now
                raise StageLockLost("the write-back stage lost its lock (its database connection dropped): "
                                    "stopped before its next write; the next run goes on")

            def handle(row: Any = row) -> None:
                outcome, error = _write(row, configs, connectors)
                values: dict[str, Any] = {"last_error": error}
                if outcome == "retrying":
                    values.update(attempts=row.attempts + 1, next_at=now + backoff(settings, row.attempts + 1))
                else:
                    values.update(status=outcome, done_at=now, attempts=row.attempts + 1)
                with store.engine.begin() as connection:
                    connection.execute(update(W).where(W.c.id == row.id, W.c.status == "pending").values(values))
                report[outcome] += 1

            def failed(connection: Any, reason: str, row: Any = row) -> None:
                connection.execute(update(W).where(W.c.id == row.id, W.c.status == "pending").values(
                    status="set_aside", last_error=f"set aside: {reason}"))

            if run_isolated(store.engine, Item(STAGE, f"writeback:{row.id}", row.appointment_id, row.connector,
                                               row.external_id), handle, failed, now).failed:
                report["set_aside"] += 1
    finally:
        for connector in connectors.values():
            connector.close()
    if due or superseded:
        log.info("responses.writeback", **report)
    return report


def _write(row: Any, configs: dict[str, Any], connectors: dict[str, Connector]) -> tuple[str, str | None]:
    config = configs.get(row.connector)
    if config is None:
        return "retrying", f"connector {row.connector!r} is not configured"
    try:
        if row.connector not in connectors:
            connectors[row.connector] = build_connector(config)
        connectors[row.connector].writeback(WritebackAction(
            row.external_id, row.participant_status, row.appointment_status, row.patient_ref))
    except WritebackUnsupported as exc:
        return "unsupported", str(exc)
    except Exception as exc:  # the source is down or refused: retried with backoff, shown in status
        log.warning("responses.writeback_failed", writeback_id=row.id, connector=row.connector,
                    error=type(exc).__name__)
        return "retrying", f"{type(exc).__name__}: {exc}"
    return "done", None


def writeback_stage(settings: Settings, store: Store, run_id: str, progress: Ticker = no_ticks) -> dict[str, int]:
    """The pipeline stage: after each sync, push the answers that are due."""
    return process_writebacks(settings, store)
