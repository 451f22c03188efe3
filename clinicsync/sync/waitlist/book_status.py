"""What `clinicsync status` shows of waitlist booking: kept apart from the booking stage so that
`status` reads a few counts without importing the connectors and the push path (and, on the
Core table of sync/store/tables.py, without the store's ORM model)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from clinicsync.common.timeutil import iso_z
from clinicsync.common.waitlist_states import BOOKING_STATUSES, BookingStatus
from clinicsync.sync.store.tables import FREED_SLOTS as S
from clinicsync.sync.store.tables import HasEngine


def booking_status(store: HasEngine) -> dict[str, Any]:
    """For `clinicsync status` and the status page: slots per booking state, and the failing
    ones (slot, source, attempts, error: never patient data)."""
    with store.engine.connect() as connection:
        counts: dict[str, int] = dict(connection.execute(select(S.c.booking_status, func.count()).where(
            S.c.booking_status.is_not(None)).group_by(S.c.booking_status)).all())
        failing = connection.execute(select(S).where(
            (S.c.booking_status == BookingStatus.FAILED)
            | ((S.c.booking_status == BookingStatus.PENDING) & S.c.booking_error.is_not(None)))
            .order_by(S.c.taken_at, S.c.id).limit(20)).all()
    return {**{state: int(counts.get(state, 0)) for state in BOOKING_STATUSES},
            "failing": [{"slot": r.id, "connector": r.connector, "status": r.booking_status,
                         "attempts": r.booking_attempts, "start": iso_z(r.start_utc), "error": r.booking_error}
                        for r in failing]}
