"""Reminder tables: one row per message we mean to send (unique on its key, so
planning twice plans nothing new), one row per delivery attempt, and opt-outs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from clinicsync.common.model_table import table_of
from clinicsync.common.types import utc_column
from clinicsync.sync.store.tables import REMINDER_STATUSES

STATUSES = REMINDER_STATUSES  # one list, kept in sync/store/tables.py where `status` reads it without the model


class Reminder(SQLModel, table=True):
    """A message to a patient or a doctor, and where it is in its life:
    pending -> sending (claimed, with a lease) -> sent | failed | skipped | cancelled | unknown;
    a provider's receipt later turns sent into delivered (or failed)."""

    __table_args__ = (
        UniqueConstraint("key", name="uq_reminder_key"),
        Index("ix_reminder_status_due", "status", "due_at"),
        Index("ix_reminder_appointment", "appointment_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # appointment id, recipient, kind, offset and the appointment version it was planned for
    key: str = Field(max_length=255)
    appointment_id: int | None = Field(default=None, foreign_key="appointment.id")
    connector: str = Field(max_length=64)
    recipient: str = Field(max_length=16)  # patient | practitioner
    recipient_ref: str | None = Field(default=None, max_length=255)  # their external id in the connector
    kind: str = Field(max_length=16)  # confirmation | reminder | rescheduled | cancelled | agenda
    offset: str | None = Field(default=None, max_length=16)  # "3d" for reminders; the day for an agenda
    version: int = 0  # appointment version it was planned for
    starts_at: datetime | None = Field(default=None, sa_column=utc_column())  # planned for; once sent: told
    due_at: datetime = Field(sa_column=utc_column(nullable=False))
    status: str = Field(default="pending", max_length=16)
    reason: str | None = Field(default=None, sa_column=Column(Text))  # why skipped, failed, cancelled, unknown
    note: str | None = Field(default=None, max_length=255)  # e.g. moved out of quiet hours
    channel: str | None = Field(default=None, max_length=16)  # the channel used (or last tried)
    notifier: str | None = Field(default=None, max_length=64)
    tried: str = Field(default="", max_length=64)  # channels that failed permanently, comma separated
    attempts: int = 0
    claimed_by: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=utc_column())
    send_started_at: datetime | None = Field(default=None, sa_column=utc_column())  # handed to a notifier
    provider_id: str | None = Field(default=None, max_length=255)
    segments: int | None = None  # SMS segments of the body sent
    sent_at: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


class Delivery(SQLModel, table=True):
    """One attempt to hand a reminder to a notifier, and what came back (the receipt)."""

    # The status page's notifier health: each notifier's attempts in a window, and its newest
    # (sync/ui/queries.py notifiers_health), without reading every attempt ever made.
    __table_args__ = (Index("ix_delivery_notifier_created", "notifier", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    reminder_id: int = Field(foreign_key="reminder.id", index=True)
    channel: str = Field(max_length=16)
    notifier: str = Field(max_length=64)
    outcome: str = Field(max_length=16)  # sent | retryable | permanent | opted_out | unknown
    provider_id: str | None = Field(default=None, max_length=255, index=True)
    provider_status: str | None = Field(default=None, max_length=32)
    detail: str | None = Field(default=None, sa_column=Column(Text))  # never the address or the body
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class OptOut(SQLModel, table=True):
    """An address that unsubscribed on a channel: nothing more goes there until an opt-in."""

    channel: str = Field(primary_key=True, max_length=16)
    address: str = Field(primary_key=True, max_length=320)
    source: str | None = Field(default=None, max_length=64)  # the notifier that reported it
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class ReminderPlan(SQLModel, table=True):
    """The reminder settings the pending plans were made with (their fingerprint), so a
    change of offsets, types, channels or quiet hours is noticed and the plans made again."""

    __tablename__ = "reminder_plan"

    name: str = Field(primary_key=True, max_length=32)  # "patients"
    fingerprint: str = Field(max_length=32)
    basis: str | None = Field(default=None, sa_column=Column(Text))  # the settings, as JSON (no secrets)
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


REMINDERS = table_of(Reminder)
DELIVERIES = table_of(Delivery)
OPT_OUTS = table_of(OptOut)
PLANS = table_of(ReminderPlan)
