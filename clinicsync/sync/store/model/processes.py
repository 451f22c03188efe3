"""The service processes on this store: each `clinicsync run` notes where it runs,
when it started, the settings file it runs and since when a file it read has changed
(sync/runs/settings_watch.py), so that `status` in any process sees a service left on old settings.
And who holds a stage lock, so that `status` names a worker hung inside the stage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from clinicsync.common.types import UtcDateTime


class ServiceProcess(SQLModel, table=True):
    __tablename__ = "service_process"

    process: str = Field(primary_key=True, max_length=300)  # host:pid
    host: str = Field(max_length=255)
    pid: int
    command: str = Field(max_length=32)
    started_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    seen_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))  # refreshed at each look
    settings_path: str = Field(max_length=500)
    settings_digest: str = Field(max_length=16)  # of the settings file as read (no secret file's)
    stale_since: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    stale_files: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))  # paths, one a line


class LockHolder(SQLModel, table=True):
    """Who holds a stage lock now: written when the lock is taken, deleted when it is
    released (sync/store/locks.py ``calendar_lock``), so `status` in any process can name a worker hung
    inside the stage. A holder that died leaves its row behind, but not its lock (the database
    or the kernel releases it): `status` asks the lock itself before it believes the row."""

    __tablename__ = "lock_holder"

    name: str = Field(primary_key=True, max_length=64)  # the lock's name, e.g. "stage/calendar"
    host: str = Field(max_length=255)
    pid: int
    command: str = Field(max_length=64)  # what took it: "sync", "run", "calendar push", …
    since: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
