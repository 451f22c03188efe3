"""Read-side queries behind `appointments list`, `status` and `quarantine list`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import and_, func, select

from mappings.timeutil import iso_z
from sync.model import Appointment, Location, Patient, Practitioner, Quarantine, SyncRun
from sync.store import Store

A = Appointment.__table__.c  # type: ignore[attr-defined]
P = Patient.__table__.c  # type: ignore[attr-defined]
D = Practitioner.__table__.c  # type: ignore[attr-defined]
L = Location.__table__.c  # type: ignore[attr-defined]
Q = Quarantine.__table__.c  # type: ignore[attr-defined]
R = SyncRun.__table__.c  # type: ignore[attr-defined]


def list_appointments(store: Store, start: datetime | None = None, end: datetime | None = None,
                      doctor_email: str | None = None, include_deleted: bool = False) -> list[dict[str, Any]]:
    query = (
        select(A.connector, A.external_id, A.status, A.start_utc, A.end_utc, A.timezone, A.type,
               A.version, A.deleted_at, P.external_id.label("p_id"), P.name.label("p_name"),
               P.phone, P.email.label("p_email"), P.language, P.channel, D.external_id.label("d_id"),
               D.name.label("d_name"), D.email.label("d_email"), L.name.label("location"))
        .select_from(Appointment.__table__)  # type: ignore[attr-defined]
        .outerjoin(Patient.__table__, and_(P.connector == A.connector,  # type: ignore[attr-defined]
                                           P.external_id == A.patient_ref))
        .outerjoin(Practitioner.__table__, and_(D.connector == A.connector,  # type: ignore[attr-defined]
                                                D.external_id == A.practitioner_ref))
        .outerjoin(Location.__table__, and_(L.connector == A.connector,  # type: ignore[attr-defined]
                                            L.external_id == A.location_ref))
        .order_by(A.start_utc, A.connector, A.external_id)
    )
    if start is not None:
        query = query.where(A.start_utc >= start)
    if end is not None:
        query = query.where(A.start_utc < end)
    if doctor_email:
        query = query.where(func.lower(D.email) == doctor_email.lower())
    if not include_deleted:
        query = query.where(A.deleted_at.is_(None))
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
    } for r in rows]


def connector_status(store: Store) -> list[dict[str, Any]]:
    """Per connector: its last run, when it last succeeded, and its quarantine size."""
    with store.engine.connect() as connection:
        last_ids = select(func.max(R.id).label("id")).group_by(R.connector).subquery()
        last_runs = connection.execute(select(R).where(R.id.in_(select(last_ids.c.id)))).all()
        last_ok: dict[str, Any] = dict(connection.execute(
            select(R.connector, func.max(R.finished_at)).where(R.status == "ok").group_by(R.connector)).all())
        quarantined: dict[str, int] = dict(connection.execute(
            select(Q.connector, func.count()).group_by(Q.connector)).all())
        # Failed runs since the last good one: what "failing N runs in a row" alerts on.
        ok = (select(R.connector.label("connector"), func.max(R.id).label("ok_id"))
              .where(R.status == "ok").group_by(R.connector).subquery())
        failing: dict[str, int] = dict(connection.execute(
            select(R.connector, func.count())
            .select_from(SyncRun.__table__.outerjoin(ok, ok.c.connector == R.connector))  # type: ignore[attr-defined]
            .where(R.status == "failed", R.id > func.coalesce(ok.c.ok_id, 0)).group_by(R.connector)).all())
    out = []
    for run in sorted(last_runs, key=lambda r: r.connector):
        out.append({
            "connector": run.connector,
            "last_run_id": run.run_id,
            "last_status": run.status,
            "last_started": iso_z(run.started_at),
            "last_finished": iso_z(run.finished_at) if run.finished_at else None,
            "last_success": iso_z(last_ok[run.connector]) if last_ok.get(run.connector) else None,
            "counts": orjson.loads(run.counts),
            "error": run.error,
            "quarantined": quarantined.get(run.connector, 0),
            "failing_runs": failing.get(run.connector, 0),
        })
    return out


def list_quarantine(store: Store, connector: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    query = select(Q).order_by(Q.id.desc()).limit(limit)
    if connector:
        query = query.where(Q.connector == connector)
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    return [{"id": r.id, "run_id": r.run_id, "connector": r.connector, "position": r.position,
             "record_id": r.record_id, "field": r.field, "reason": r.reason,
             "created_at": iso_z(r.created_at)} for r in rows]
