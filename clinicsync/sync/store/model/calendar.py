"""The link table: what clinicsync believes each calendar holds for each appointment.

One row per (appointment, provider, account, calendar). ``pushed_hash`` is the hash of the
content last confirmed by the calendar; a push happens only when the desired content's
hash differs. A row is written ``pending`` before its first insert, so a crash between
the call and the bookkeeping still leaves a trace that the next run settles. ``rendered_from``
lets a run skip rendering an appointment whose inputs are those of its last push.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from clinicsync.common.model_table import table_of
from clinicsync.common.types import utc_column

STATES = ("pending", "present", "deleted")  # deleted: the event exists with status cancelled (or not at all)
# The links still to be settled, and those whose last push failed: the live work, which the
# status page and /metrics count. Partial indexes of exactly these rows (the queries' own
# terms, so SQLite sees they serve them; MySQL: an index of the column); before them each
# count read every link ever written (82-93 ms at 140k links).
PENDING = "state = 'pending'"
FAILING = "attempts > 0"


class CalendarLink(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("appointment_id", "provider", "account", "calendar_id", name="uq_calendarlink_target"),
        Index("ix_calendarlink_pending", "state", postgresql_where=text(PENDING), sqlite_where=text(PENDING)),
        Index("ix_calendarlink_failing", "attempts", postgresql_where=text(FAILING), sqlite_where=text(FAILING)),
    )

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id", index=True)
    provider: str = Field(max_length=16)  # google | ics
    account: str = Field(default="", max_length=320)  # the account acted as ("" = the service account / none)
    calendar_id: str = Field(max_length=255)
    event_id: str = Field(max_length=64)
    etag: str | None = Field(default=None, max_length=128)
    pushed_hash: str | None = Field(default=None, max_length=32)
    # The digest of what that content was rendered from (sync/calendar/desired.py source_digest):
    # equal next run, the appointment is not rendered again. None: not known (render and compare).
    rendered_from: str | None = Field(default=None, max_length=32)
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0  # consecutive failed pushes
    last_error: str | None = Field(default=None, max_length=255)  # a status and reason, never event content
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


LINKS = table_of(CalendarLink)


class IcsEvent(SQLModel, table=True):
    """One VEVENT of a `.ics` file, as written: the file is these rows joined, so a run
    re-renders only the events it changes and never parses the file it wrote."""

    __tablename__ = "icsevent"
    __table_args__ = (UniqueConstraint("calendar_id", "uid", name="uq_icsevent_uid"),
                      Index("ix_icsevent_calendar_ends", "calendar_id", "ends_at"))

    id: int | None = Field(default=None, primary_key=True)
    calendar_id: str = Field(max_length=255)  # the file's name (Target.calendar_id)
    uid: str = Field(max_length=255)
    sequence: int = 0
    cancelled: bool = False
    tzid: str | None = Field(default=None, max_length=64)  # the zone its times are shown in (VTIMEZONE)
    vevent: str = Field(sa_column=Column(Text, nullable=False))  # BEGIN:VEVENT … END:VEVENT, CRLF lines, as in the file
    # When the visit it shows ends (UTC): it leaves the file calendar.ics.keep_past_days later
    # (retirement). None: an event clinicsync does not own (adopted from a file edited by hand):
    # kept as it is.
    ends_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


class IcsFile(SQLModel, table=True):
    """A `.ics` file clinicsync owns: whether the store holds changes the file does not show
    yet (``dirty``), and the digest of the bytes last written, to notice a file edited or
    replaced outside clinicsync (its events are then adopted once)."""

    __tablename__ = "icsfile"

    calendar_id: str = Field(primary_key=True, max_length=255)
    dirty: bool = False
    digest: str | None = Field(default=None, max_length=64)
    # When its past events were last retired (ics.py: at each write, else at most once a day).
    retired_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


ICS_EVENTS = table_of(IcsEvent)
ICS_FILES = table_of(IcsFile)
