"""What a run is doing right now, one row per stage (each connector's import, calendar,
reminders, …): written while it works, so `status` in another process can show a running
stage as running, with its rows so far, and tell a crashed run (no heartbeat) from a live one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from clinicsync.common.types import utc_column


class RunStage(SQLModel, table=True):
    """One stage of one run: running -> ok | failed. ``heartbeat_at`` moves with its rows;
    a running row whose heartbeat stopped (or whose process is gone) is shown as stale."""

    __tablename__ = "run_stage"
    __table_args__ = (Index("ix_run_stage_status_started", "status", "started_at"),
                      Index("ix_run_stage_stage_started", "stage", "started_at"))

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=32)
    stage: str = Field(max_length=96)  # "import <connector>", "calendar", "reminders", …
    status: str = Field(max_length=16)  # running | ok | failed
    rows: int = 0  # rows done so far (fetched for an import)
    total: int | None = None  # rows to do, when the stage knows
    error: str | None = Field(default=None, sa_column=Column(Text))
    host: str | None = Field(default=None, max_length=255)  # where the run's process lives
    pid: int | None = None
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    heartbeat_at: datetime = Field(sa_column=utc_column(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column())
