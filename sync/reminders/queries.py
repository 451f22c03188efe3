"""Read-side queries behind `reminders list` and the reminders part of `status`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from clinicsync.common.timeutil import iso_z
from clinicsync.sync.tables import REMINDER_STATUSES as STATUSES
from clinicsync.sync.tables import REMINDERS as R
from clinicsync.sync.tables import HasEngine

# The model is imported by `reminders list` alone: `status` reads the Core table (sync/tables.py).


def reminder_counts(store: HasEngine) -> dict[str, int]:
    """How many reminders are in each state (every state listed, `unknown` included)."""
    with store.engine.connect() as connection:
        found: dict[str, int] = dict(
            connection.execute(select(R.c.status, func.count()).group_by(R.c.status)).all())
    return {status: int(found.get(status, 0)) for status in STATUSES}


def list_reminders(store: HasEngine, status: str | None = None, limit: int = 10_000) -> list[dict[str, Any]]:
    from clinicsync.sync.model import Appointment

    A = Appointment.__table__  # type: ignore[attr-defined]
    query = (select(R, A.c.external_id.label("appointment_external_id"))
             .outerjoin(A, A.c.id == R.c.appointment_id)
             .order_by(R.c.due_at, R.c.id).limit(limit))
    if status:
        query = query.where(R.c.status == status)
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    return [{
        "id": r.id,
        "key": r.key,
        "appointment": f"{r.connector}:{r.appointment_external_id}" if r.appointment_external_id else None,
        "recipient": r.recipient,
        "channel": r.channel,
        "kind": r.kind,
        "offset": r.offset,
        "due_at": iso_z(r.due_at),
        "status": r.status,
        "reason": r.reason,
        "note": r.note,
        "attempts": r.attempts,
        "sent_at": iso_z(r.sent_at) if r.sent_at else None,
    } for r in rows]
