"""When the store's periodic chores last ran, shared by every process on the store.

A chore that needs doing once a day (not at each pass) must know when it last ran; kept in a
process, each `sync --once` under cron (a new process every few minutes) would redo it at
every run. One row per chore, by name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from clinicsync.common.model_table import table_of
from clinicsync.common.types import UtcDateTime


class Housekeeping(SQLModel, table=True):
    __tablename__ = "housekeeping"

    task: str = Field(primary_key=True, max_length=64)
    done_for: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))  # the chore's last window or day


HOUSEKEEPING = table_of(Housekeeping)
