"""Items a post-sync stage could not handle: one row per (stage, item), so one
appointment that breaks planning, a calendar push, a send, an agenda or a write-back is
set aside with its reason while the stage goes on with everything else."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from clinicsync.common.types import utc_column


class SetAside(SQLModel, table=True):
    """open -> retry (staff asked, after a fix) -> resolved (the stage handled it) or open
    again (it failed again: ``attempts`` grows, the newest reason is kept)."""

    __tablename__ = "set_aside"
    __table_args__ = (UniqueConstraint("stage", "item", name="uq_set_aside_item"),
                      Index("ix_set_aside_status", "status", "stage"))

    id: int | None = Field(default=None, primary_key=True)
    stage: str = Field(max_length=32)  # reminders | calendar | dispatch | agenda | writeback
    item: str = Field(max_length=96)  # what the stage handles: "appointment:12", "reminder:34", …
    appointment_id: int | None = None  # no foreign key: the row outlives a deleted appointment
    connector: str | None = Field(default=None, max_length=64)
    external_id: str | None = Field(default=None, max_length=255)
    reason: str = Field(sa_column=Column(Text, nullable=False))  # the error's kind and scrubbed text, never PHI
    status: str = Field(default="open", max_length=16)  # open | retry | resolved
    attempts: int = 1
    first_at: datetime = Field(sa_column=utc_column(nullable=False))
    last_at: datetime = Field(sa_column=utc_column(nullable=False))
    resolved_at: datetime | None = Field(default=None, sa_column=utc_column())
