"""Delivery receipts from providers: a status callback moves a reminder's receipt forward
(never back: callbacks may arrive out of order), and a final failure is recorded."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import select, update

from clinicsync.common.types import utcnow
from clinicsync.common.vocabulary import ReminderStatus
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.store.model.reminders import DELIVERIES, REMINDERS
from clinicsync.sync.store.store import Store

# provider status -> (rank, the reminder status it means or None to leave it)
PROGRESS: dict[str, tuple[int, str | None]] = {
    "accepted": (0, None), "scheduled": (0, None), "queued": (1, None), "sending": (2, None),
    "sent": (3, None), "delivered": (4, ReminderStatus.DELIVERED), "read": (5, ReminderStatus.DELIVERED),
    "undelivered": (6, ReminderStatus.FAILED), "failed": (6, ReminderStatus.FAILED),
    "deferred": (2, None), "bounce": (6, ReminderStatus.FAILED), "dropped": (6, ReminderStatus.FAILED),
}
log = structlog.get_logger("clinicsync.responses")


def record_receipt(store: Store, provider_id: str, status: str, detail: str | None = None,
                   now: datetime | None = None) -> bool:
    """Apply a provider's status to the delivery (and its reminder) it names; False if unknown."""
    status = status.lower()
    if status not in PROGRESS:
        return False
    now = now or utcnow()
    rank, reminder_status = PROGRESS[status]
    with writer(store.engine) as connection:
        delivery = connection.execute(select(DELIVERIES.c.id, DELIVERIES.c.reminder_id, DELIVERIES.c.provider_status)
                                      .where(DELIVERIES.c.provider_id == provider_id)
                                      .order_by(DELIVERIES.c.id.desc()).limit(1)).first()
        if delivery is None:
            return False
        current = PROGRESS.get((delivery.provider_status or "").lower(), (-1, None))[0]
        if rank < current:
            return True  # an older status arriving late
        connection.execute(update(DELIVERIES).where(DELIVERIES.c.id == delivery.id).values(provider_status=status))
        if reminder_status is not None:
            values: dict[str, object] = {"status": reminder_status, "updated_at": now}
            if reminder_status == ReminderStatus.FAILED:
                values["reason"] = f"the provider reported {status}" + (f" ({detail})" if detail else "")
            connection.execute(update(REMINDERS).where(
                REMINDERS.c.id == delivery.reminder_id, REMINDERS.c.status.in_((ReminderStatus.SENT,
                                                                                ReminderStatus.DELIVERED))).values(values))
    log.info("responses.receipt", reminder_id=delivery.reminder_id, status=status)
    return True
