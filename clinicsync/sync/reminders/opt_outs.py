"""A patient's opt-out of a channel: recorded when a provider says the number opted out (or a
reply says STOP), lifted when the patient asks for messages again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select

from clinicsync.sync.store.model.reminders import OPT_OUTS
from clinicsync.sync.store.reminder_rows import ReminderRows
from clinicsync.sync.store.store import Store


def opt_in(store: Store, channel: str, address: str) -> bool:
    """Lift an opt-out (the patient asked again for messages on this channel)."""
    return store.reminder_rows.lift_opt_out(channel, address)


def lift_opt_out(connection: Connection, channel: str, address: str) -> bool:
    """`opt_in` inside the caller's transaction."""
    return ReminderRows.lift_opt_out_in(connection, channel, address)


def record_opt_out(connection: Connection, channel: str, address: str, source: str, now: datetime) -> bool:
    """Record an opt-out inside the caller's (write-locked) transaction; False if already there."""
    exists = connection.execute(select(OPT_OUTS.c.address).where(
        OPT_OUTS.c.channel == channel, OPT_OUTS.c.address == address)).first()
    if exists is None:
        connection.execute(insert(OPT_OUTS).values(channel=channel, address=address, source=source, created_at=now))
    return exists is None
