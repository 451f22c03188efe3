"""Sources the clinic's admin retired (`clinicsync source retire`): gone for good from the
settings. Their rows stay for retention to forget; their visits leave the doctors' calendars
and they are no longer reported as orphaned (sync/ingest/orphans.py). One row per source."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from clinicsync.common.types import UtcDateTime


class RetiredSource(SQLModel, table=True):
    __tablename__ = "retired_source"

    connector: str = Field(primary_key=True, max_length=64)
    retired_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    cancelled: int = 0  # the pending messages the retirement cancelled
