"""The front desk's actions on appointments (issue 30): who did what, when, to which
version of the appointment, and what became of it at the source. A row removes the
appointment from the desk's work list until the appointment changes again (a new version),
and shows in the appointment's history. Never patient data: the user is a staff login."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from clinicsync.common.types import utc_column

DESK_ACTIONS_KINDS = ("confirmed_by_phone", "left_message", "no_show", "cancel", "reschedule_handled")


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


DESK_ACTIONS = DeskAction.__table__  # type: ignore[attr-defined]
