"""The link table: what clinicsync believes each calendar holds for each appointment.

One row per (appointment, provider, account, calendar). ``pushed_hash`` is the hash of the
content last confirmed by the calendar; a push happens only when the desired content's
hash differs. A row is written ``pending`` before its first insert, so a crash between
the call and the bookkeeping still leaves a trace that the next run settles.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from sync.model import utc_column

STATES = ("pending", "present", "deleted")  # deleted: the event exists with status cancelled (or not at all)


class CalendarLink(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("appointment_id", "provider", "account", "calendar_id", name="uq_calendarlink_target"),
    )

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id", index=True)
    provider: str = Field(max_length=16)  # google | ics
    account: str = Field(default="", max_length=320)  # the account acted as ("" = the service account / none)
    calendar_id: str = Field(max_length=255)
    event_id: str = Field(max_length=64)
    etag: str | None = Field(default=None, max_length=128)
    pushed_hash: str | None = Field(default=None, max_length=32)
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0  # consecutive failed pushes
    last_error: str | None = Field(default=None, max_length=255)  # a status and reason, never event content
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


LINKS = CalendarLink.__table__  # type: ignore[attr-defined]
