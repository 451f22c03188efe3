"""The shared poll schedule of `clinicsync run`: one row per polled source, with
when it is next due and which worker holds it while it polls. Workers claim due rows
(``FOR UPDATE SKIP LOCKED``, SQLite ``BEGIN IMMEDIATE``) and put a lease on them, so two
workers poll a source once per interval in all, and a dead worker's lease runs out within one
interval (sync/service/leases.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from clinicsync.common.types import UtcDateTime


class PollSchedule(SQLModel, table=True):
    __tablename__ = "poll_schedule"

    connector: str = Field(primary_key=True, max_length=64)
    next_due: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    # The worker polling it now ("host:pid:random") and until when its lease holds unless renewed;
    # both empty between polls.
    holder: str | None = Field(default=None, max_length=300)
    lease_expires: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    last_started: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    last_finished: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
