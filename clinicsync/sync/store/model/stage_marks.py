"""What a post-sync stage's last idle pass saw, so that the next `sync --once` with the same
inputs need not run it: no work for stages with nothing to do.

One row per stage (calendar, reminders): the digest of the inputs the pass read (the day,
the settings, the store's state: sync/checks/stage_probes.py) and the report it gave. A run whose
inputs digest the same skips the stage and reports that same report; any other digest runs it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from clinicsync.common.model_table import table_of
from clinicsync.common.types import UtcDateTime


class StageMark(SQLModel, table=True):
    __tablename__ = "stage_mark"

    stage: str = Field(primary_key=True, max_length=32)
    digest: str = Field(max_length=64)  # of the inputs the idle pass read (taken before it ran)
    result: str = Field(sa_column=Column(Text(), nullable=False))  # its report, JSON
    marked_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


STAGE_MARKS = table_of(StageMark)
