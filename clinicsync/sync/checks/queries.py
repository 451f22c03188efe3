"""Read-side queries behind `appointments list`, `status` and `quarantine list`."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from clinicsync.common.model_table import table_of
from clinicsync.common.timeutil import iso_z
from clinicsync.sync.store.tables import POLL_SCHEDULE, QUARANTINE, ZONE_RULES, HasEngine
from clinicsync.sync.store.tables import SYNC_RUNS as RUNS

# Runs and quarantine: the Core tables (sync/store/tables.py), so `status` reads them without
# importing the model; the appointment lists import the model's tables when they run.
Q = QUARANTINE.c
R = RUNS.c


def _people_columns() -> tuple[Any, Any, Any, Any]:
    """The columns of appointment, patient, practitioner and location (the model's tables)."""
    from clinicsync.sync.store.model import Appointment, Location, Patient, Practitioner

    models: list[Any] = [Appointment, Patient, Practitioner, Location]
    a, p, d, place = (table_of(model).c for model in models)
    return a, p, d, place


def _appointment_filters(start: datetime | None, end: datetime | None, doctor_email: str | None,
                         include_deleted: bool, connector: str | None, external_id: str | None,
                         connectors: Collection[str] | None = None) -> list[Any]:
    """The WHERE of `appointments list`, shared by the page and its count so they never disagree."""
    A, _P, D, _L = _people_columns()
    where: list[Any] = []
    if start is not None:
        where.append(A.start_utc >= start)
    if end is not None:
        where.append(A.start_utc < end)
    if doctor_email:
        where.append(func.lower(D.email) == doctor_email.lower())
    if not include_deleted:
        where.append(A.deleted_at.is_(None))
    if connector is not None:
        where.append(A.connector == connector)
    if external_id is not None:
        where.append(A.external_id == external_id)
    if connectors is not None:  # one site's sources (`--site`)
        where.append(A.connector.in_(sorted(connectors)))
    return where


def count_appointments(store: HasEngine, start: datetime | None = None, end: datetime | None = None,
                       doctor_email: str | None = None, include_deleted: bool = False,
                       connectors: Collection[str] | None = None) -> int:
    """How many appointments `list_appointments` would return without a limit: one COUNT,
    so a list can say "showing 200 of 48,832" without reading the 48,832 rows."""
    from clinicsync.sync.store.model import Appointment
    from clinicsync.sync.store.model.joins import with_people

    where = _appointment_filters(start, end, doctor_email, include_deleted, None, None, connectors)
    query = select(func.count()).select_from(table_of(Appointment))
    if doctor_email:  # only the doctor filter needs the join
        query = select(func.count()).select_from(with_people())
    with store.engine.connect() as connection:
        return int(connection.execute(query.where(*where)).scalar_one())


def list_appointments(store: HasEngine, start: datetime | None = None, end: datetime | None = None,
                      doctor_email: str | None = None, include_deleted: bool = False,
                      connector: str | None = None, external_id: str | None = None,
                      limit: int | None = None, connectors: Collection[str] | None = None) -> list[dict[str, Any]]:
    from clinicsync.sync.store.model.joins import with_people

    A, P, D, L = _people_columns()
    query = (
        select(A.connector, A.external_id, A.status, A.start_utc, A.end_utc, A.timezone, A.type,
               A.version, A.deleted_at, A.participation, A.quality_notes, P.external_id.label("p_id"),
               P.name.label("p_name"),
               P.phone, P.email.label("p_email"), P.language, P.channel, D.external_id.label("d_id"),
               D.name.label("d_name"), D.email.label("d_email"), L.name.label("location"),
               A.visit_mode, A.join_url, A.dial_in)
        .select_from(with_people())
        .where(*_appointment_filters(start, end, doctor_email, include_deleted, connector, external_id, connectors))
        .order_by(A.start_utc, A.connector, A.external_id)
        .limit(limit)
    )
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    return [{
        "connector": r.connector,
        "external_id": r.external_id,
        "status": r.status,
        "start": iso_z(r.start_utc),
        "end": iso_z(r.end_utc),
        "timezone": r.timezone,
        "type": r.type,
        "version": r.version,
        "deleted": r.deleted_at is not None,
        "patient": None if r.p_id is None else {
            "id": r.p_id, "name": r.p_name, "phone": r.phone, "email": r.p_email,
            "language": r.language, "channel": r.channel},
        "practitioner": None if r.d_id is None else {"id": r.d_id, "name": r.d_name, "email": r.d_email},
        "location": r.location,
        # How the visit happens: in_person (also when the source says nothing), video or phone,
        # with the patient's join link and a number to dial in when the source gave them.
        "visit_mode": r.visit_mode or "in_person",
        "join_url": r.join_url,
        "dial_in": r.dial_in,
        "answer": r.participation,  # the patient's answer (a reply, a link, or the source's own record)
        "notes": quality_notes(r.quality_notes),
    } for r in rows]


def quality_notes(stored: str | None) -> list[str]:
    """An appointment's data-quality notes (what its import dropped or stood in for)."""
    return [line for line in (stored or "").splitlines() if line]


@dataclass(frozen=True)
class ConnectorHealth:
    last_run_id: int  # the row id of its latest run
    last_started: datetime
    last_success: datetime | None  # when its last good run finished
    failing_runs: int  # failed runs since the last good one: what "failing N runs in a row" alerts on


RUN_STATUSES = ("running", "ok", "failed")


def connector_names() -> Any:
    """The connectors that have runs, as a recursive CTE (``name``; its last row is NULL): a
    skip scan of (connector, status, id), one index probe per name rather than the run history."""
    first = select(func.min(R.connector).label("name")).cte("names", recursive=True)
    step = select(R.connector).where(R.connector > first.c.name).order_by(R.connector).limit(1).scalar_subquery()
    return first.union_all(select(step).where(first.c.name.is_not(None)))


def run_figures(connection: Connection, since: datetime) -> dict[tuple[str, str], int]:
    """Runs per (connector, status): every one still running (however old: a dead process's),
    and the finished ones from the connector's first run started since ``since`` on (ids follow
    the order runs start in). The history holds `store.run_history_days` of runs (262k at a run
    a minute): counting it cost 42-81 ms a scrape. Per connector, one probe of
    (connector, started_at) finds the window's first id, and each status is a range of the
    covering (connector, status, id): no row of the table is read."""
    names = connector_names()
    found: dict[tuple[str, str], int] = {}
    for (name,) in connection.execute(select(names.c.name).where(names.c.name.is_not(None))):
        first = connection.execute(select(R.id).where(R.connector == name, R.started_at >= since)
                                   .order_by(R.started_at).limit(1)).scalar()
        for status in RUN_STATUSES:
            where = [R.connector == name, R.status == status]
            if status != "running":
                if first is None:
                    continue
                where.append(R.id >= first)
            count = connection.execute(select(func.count()).where(*where)).scalar_one()
            if count:
                found[(name, status)] = int(count)
    return found


def connector_health(connection: Connection) -> dict[str, ConnectorHealth]:
    """Per connector that ever ran: its latest run, last success and the failed runs since.

    The run history holds a row per poll and per push for `store.run_history_days` (Store.prune_runs),
    hundreds of thousands a source, so nothing here scans it: the connector names come
    from a skip scan of (connector, status, id) (a recursive CTE, one index probe per name),
    and each figure is an index probe or a range over the failures since the last success."""
    names = connector_names()
    mine = R.connector == names.c.name
    oks = RUNS.alias("oks")
    ok_id = (select(func.max(oks.c.id)).where(oks.c.connector == names.c.name, oks.c.status == "ok")
             .correlate(names).scalar_subquery())
    done = RUNS.alias("done")
    if connection.dialect.name == "postgresql":
        # The recursive CTE's row estimate tips the plan over jit_above_cost: JIT would spend
        # ~90 ms compiling a query that runs in ~1 ms. Transaction-scoped.
        connection.exec_driver_sql("SET LOCAL jit = off")
    rows = connection.execute(select(
        names.c.name,
        select(R.id).where(mine).order_by(R.started_at.desc()).limit(1).scalar_subquery().label("last_id"),
        select(func.max(R.started_at)).where(mine).scalar_subquery().label("last_started"),
        select(done.c.finished_at).where(done.c.id == ok_id).scalar_subquery().label("last_success"),
        select(func.count()).select_from(RUNS).where(mine, R.status == "failed", R.id > func.coalesce(ok_id, 0))
        .scalar_subquery().label("failing"),
    ).where(names.c.name.is_not(None))).all()
    return {row.name: ConnectorHealth(row.last_id, row.last_started, row.last_success,
                                      int(row.failing)) for row in rows}


def connector_status(store: HasEngine) -> list[dict[str, Any]]:
    """Per connector: its last run, when it last succeeded, the failed runs since, and its open quarantine items."""
    with store.engine.connect() as connection:
        health = connector_health(connection)
        last_runs = connection.execute(select(RUNS).where(R.id.in_([h.last_run_id for h in health.values()]))).all()
        quarantined: dict[str, int] = dict(connection.execute(
            select(Q.connector, func.count()).where(Q.status == "open").group_by(Q.connector)).all())
    out = []
    for run in sorted(last_runs, key=lambda r: r.connector):
        last_ok = health[run.connector].last_success
        out.append({
            "connector": run.connector,
            "last_run_id": run.run_id,
            "last_status": run.status,
            "last_started": iso_z(run.started_at),
            "last_finished": iso_z(run.finished_at) if run.finished_at else None,
            "last_success": iso_z(last_ok) if last_ok else None,
            "counts": orjson.loads(run.counts),
            "error": run.error,
            "quarantined": quarantined.get(run.connector, 0),
            "failing_runs": health[run.connector].failing_runs,
        })
    return out


def _quarantine_filters(connector: str | None, everything: bool,
                        connectors: Collection[str] | None = None) -> list[Any]:
    where: list[Any] = [] if everything else [Q.status == "open"]
    if connector:
        where.append(Q.connector == connector)
    if connectors is not None:  # one site's sources
        where.append(Q.connector.in_(sorted(connectors)))
    return where


def count_quarantine(store: HasEngine, connector: str | None = None, everything: bool = False,
                     connectors: Collection[str] | None = None) -> int:
    """How many items `list_quarantine` would return without a limit (one COUNT)."""
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(QUARANTINE)
                                      .where(*_quarantine_filters(connector, everything, connectors))).scalar_one())


def list_quarantine(store: HasEngine, connector: str | None = None, limit: int | None = 1000,
                    everything: bool = False, connectors: Collection[str] | None = None) -> list[dict[str, Any]]:
    """The quarantine work list: open items, newest sighting first (``everything``: the
    resolved and dismissed ones too). Never the raw record: that is patient data.
    ``retryable``: the raw input was stored as a record (a JSON object) that `quarantine
    retry` can map again; a row the connector could not read whole can only be fixed at
    the source."""
    query = (select(Q.id, Q.run_id, Q.connector, Q.position, Q.record_id, Q.field, Q.reason, Q.status,
                   Q.seen_count, Q.created_at, Q.last_seen, Q.resolved_at, Q.resolution,
                   Q.raw.like("{%").label("has_raw")).where(*_quarantine_filters(connector, everything, connectors))
             .order_by(Q.last_seen.desc(), Q.id.desc()).limit(limit))
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    return [{"id": r.id, "run_id": r.run_id, "connector": r.connector, "position": r.position,
             "record_id": r.record_id, "field": r.field, "reason": r.reason, "status": r.status,
             "count": r.seen_count, "created_at": iso_z(r.created_at), "first_seen": iso_z(r.created_at),
             "last_seen": iso_z(r.last_seen), "resolved_at": iso_z(r.resolved_at) if r.resolved_at else None,
             "resolution": r.resolution, "retryable": bool(r.has_raw)} for r in rows]


def pushes_received(store: HasEngine, connector: str, since: datetime) -> tuple[int, datetime | None]:
    """A push source's deliveries since ``since`` (each push is recorded as a run of its
    own, or in its listener's run) and when the newest arrived: what `sync`'s table says
    for a connector it cannot poll (an index range on (connector, started_at))."""
    with store.engine.connect() as connection:
        count, newest = connection.execute(
            select(func.count(), func.max(R.started_at)).where(R.connector == connector, R.started_at >= since)).one()
        if newest is None:
            newest = connection.execute(select(func.max(R.started_at)).where(R.connector == connector)).scalar()
    return int(count), newest


def zone_rules_status(store: HasEngine) -> dict[str, Any]:
    """The `zone_rules` section of `status`: how many zones have their tz rules recorded, and
    each correction a tz database update made (when, how many visits were moved back to their
    local time, how many were left because that time is in a new gap or overlap):
    sync/store/zonerules.py."""
    with store.engine.connect() as connection:
        rows = connection.execute(select(ZONE_RULES.c.zone, ZONE_RULES.c.corrected_at, ZONE_RULES.c.corrected,
                                         ZONE_RULES.c.left).order_by(ZONE_RULES.c.zone)).all()
    return {"zones": len(rows), "corrections": [
        {"zone": r.zone, "at": iso_z(r.corrected_at), "corrected": r.corrected, "left": r.left}
        for r in rows if r.corrected_at is not None]}


def poll_schedule_status(store: HasEngine, configured: Collection[str] | None = None,
                         shown: Collection[str] | None = None) -> dict[str, Any]:
    """The `polls` section of `status`: the shared poll schedule of the `run` workers (groups of
    practices, sync/service/polls.py): how many sources it holds, which are being polled now and by which
    worker (until when its lease holds), and the earliest next due time. A source due long ago
    that no worker holds means no `run` worker is claiming (none running, or all slots busy).

    ``configured``: the connector names the settings have. A removed source keeps its row (no
    worker claims it; a rollback finds its slot, sync/service/leases.py ``enrol``), so without
    this its old due time would read as "no worker is claiming": its name is listed under
    ``not_in_settings`` instead, out of the counts. ``shown``: only these sources (`--site`)."""
    with store.engine.connect() as connection:
        rows = connection.execute(select(POLL_SCHEDULE.c.connector, POLL_SCHEDULE.c.next_due,
                                         POLL_SCHEDULE.c.holder, POLL_SCHEDULE.c.lease_expires)
                                  .order_by(POLL_SCHEDULE.c.next_due, POLL_SCHEDULE.c.connector)).all()
    removed = sorted(r.connector for r in rows if configured is not None and r.connector not in configured)
    rows = [r for r in rows if (configured is None or r.connector in configured)
            and (shown is None or r.connector in shown)]
    section: dict[str, Any] = {
        "sources": len(rows),
        "next_due": iso_z(rows[0].next_due) if rows else None,
        "polling": {r.connector: {"worker": r.holder, "lease_until": iso_z(r.lease_expires)}
                    for r in rows if r.holder is not None and r.lease_expires is not None}}
    if removed and shown is None:
        section["not_in_settings"] = removed
    return section
