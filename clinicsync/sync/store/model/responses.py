"""The Response table: every reply a patient sent, what we understood, and what it did.

``sender`` and ``body`` are PHI: stored for staff, never logged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from clinicsync.common.model_table import table_of
from clinicsync.common.types import utc_column
from clinicsync.sync.store.tables import REPLY_OUTCOMES

OUTCOMES = REPLY_OUTCOMES  # one list, kept in sync/store/tables.py


class Response(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("provider_id", name="uq_response_provider_id"),
        Index("ix_response_appointment", "appointment_id"),
        Index("ix_response_outcome", "outcome", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)  # sms | whatsapp | email (link)
    sender: str = Field(max_length=320)  # the phone or address it came from (PHI)
    body: str | None = Field(default=None, sa_column=Column(Text))  # the raw reply (PHI)
    language: str | None = Field(default=None, max_length=35)
    action: str = Field(max_length=16)  # confirm | decline | opt_out | opt_in | help | unknown
    outcome: str = Field(max_length=16)  # see OUTCOMES
    appointment_id: int | None = Field(default=None, foreign_key="appointment.id")
    reminder_id: int | None = Field(default=None, foreign_key="reminder.id")
    provider_id: str | None = Field(default=None, max_length=255)  # e.g. Twilio MessageSid: retries are no-ops
    received_at: datetime = Field(sa_column=utc_column(nullable=False))


RESPONSES = table_of(Response)


class Writeback(SQLModel, table=True):
    """An answer still to be written back to its source: pending -> done, or retried with
    backoff (``next_at``) and visible in `status` until it goes through.

    ``desk_action_id`` links the row to the front desk's action it carries (a confirmation by
    phone, a cancel; sync/desk/actions.py), so that action's Undo and its cancel find their own
    row by the link rather than by the moment it was written: two desk steps in one second, or a
    patient's SMS answer in the same minute, could otherwise be taken for it. NULL for a
    patient's or a source's answer, an undo's restoring row, and every row written before the
    link existed (migration 0046).

    ``freed_slot_id`` links the row that released a patient's later visit to the waitlist slot
    whose booking released it (``waitlist.booking.release_later: auto``, sync/waitlist/release.py),
    so the Undo of that booking by the desk knows the release as its own (sync/waitlist/book_undo.py)
    rather than taking any cancel of the visit written since the booking's moment for it. NULL
    for every other row, and for releases written before the link existed (migration 0047)."""

    __table_args__ = (Index("ix_writeback_status_next", "status", "next_at"),
                      Index("ix_writeback_desk_action", "desk_action_id"),
                      Index("ix_writeback_freed_slot", "freed_slot_id"))

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id")
    connector: str = Field(max_length=64)
    external_id: str = Field(max_length=255)
    patient_ref: str | None = Field(default=None, max_length=255)
    participant_status: str = Field(max_length=16)
    appointment_status: str | None = Field(default=None, max_length=16)
    status: str = Field(default="pending", max_length=16)  # pending | done | unsupported | superseded | set_aside
    attempts: int = 0
    next_at: datetime = Field(sa_column=utc_column(nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text))  # never PHI: connector errors only
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    done_at: datetime | None = Field(default=None, sa_column=utc_column())
    desk_action_id: int | None = Field(default=None, foreign_key="desk_action.id")
    freed_slot_id: int | None = Field(default=None, foreign_key="freed_slot.id")


WRITEBACKS = table_of(Writeback)


class DoctorAnswer(SQLModel, table=True):
    """A doctor's own answer to an appointment, read from their calendar (Google Calendar:
    the doctor's attendee ``responseStatus``). Only declines are kept: accepting is the
    normal state. One row per appointment and doctor; ``cleared_at`` is set when the
    calendar no longer shows the decline (the doctor changed their mind), and emptied again
    if it comes back, without a second notice."""

    __table_args__ = (UniqueConstraint("appointment_id", "practitioner_ref", "answer",
                                       name="uq_doctor_answer_appointment"),
                      Index("ix_doctor_answer_open", "cleared_at", "appointment_id"))

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id")
    connector: str = Field(max_length=64)
    practitioner_ref: str = Field(max_length=255)
    answer: str = Field(max_length=16)  # declined
    source: str = Field(max_length=16)  # google
    calendar: str = Field(max_length=320)  # the calendar it was read from (an email or a calendar id)
    version: int  # the appointment's version when it was first read
    recorded_at: datetime = Field(sa_column=utc_column(nullable=False))
    cleared_at: datetime | None = Field(default=None, sa_column=utc_column())


DOCTOR_ANSWERS = table_of(DoctorAnswer)
