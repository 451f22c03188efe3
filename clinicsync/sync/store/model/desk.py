"""The front desk's actions on appointments: who did what, when, to which
version of the appointment, and what became of it at the source. A row removes the
appointment from the desk's work list until the appointment changes again (a new version),
and shows in the appointment's history. Never patient data: the user is a staff login."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from clinicsync.common.model_table import table_of
from clinicsync.common.types import utc_column

DESK_ACTIONS_KINDS = ("confirmed_by_phone", "left_message", "no_show", "cancel", "reschedule_handled", "arrived")


class DeskAction(SQLModel, table=True):
    __tablename__ = "desk_action"
    __table_args__ = (Index("ix_desk_action_appointment", "appointment_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id")
    version: int  # the appointment's version it was taken on: a later change brings the row back
    action: str = Field(max_length=24)  # one of DESK_ACTIONS_KINDS
    user: str = Field(max_length=64)  # the staff login (ui.users name)
    role: str = Field(max_length=16)
    source: str = Field(max_length=16)  # queued (written back by the write-back stage) | by_hand | none
    at: datetime = Field(sa_column=utc_column(nullable=False))
    # Why the desk cancelled (one of sync/responses/history.py CANCEL_REASONS); staff words, no PHI.
    reason: str | None = Field(default=None, max_length=64)
    # What an undo puts back: the answer before the action, and the patient's
    # reminders it cancelled (their ids, comma-separated).
    prior_answer: str | None = Field(default=None, max_length=16)
    prior_answer_at: datetime | None = Field(default=None, sa_column=utc_column())
    cancelled_reminders: str | None = Field(default=None, sa_column=Column(Text))
    # Taken back by the desk within the undo window: the row stays, as the record of both.
    undone_at: datetime | None = Field(default=None, sa_column=utc_column())
    undone_by: str | None = Field(default=None, max_length=64)


DESK_ACTIONS = table_of(DeskAction)
