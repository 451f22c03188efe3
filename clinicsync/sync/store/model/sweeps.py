"""The delete sweep's bookkeeping: when each connector last listed its ids.

An incremental source never shows a deleted row; sync/ lists its ids on a schedule
(connectors/base.py ``sweep_schedule``) and deletes what vanished. This row says when the
last sweep that got to the end ran, so each poll knows whether one is due; a sweep
stopped by the safety stop leaves it as it was, so the next poll tries again and the
stop stays visible until it is dealt with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from clinicsync.common.types import UtcDateTime


class DeleteSweep(SQLModel, table=True):
    __tablename__ = "delete_sweep"

    connector: str = Field(primary_key=True, max_length=64)
    swept_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    listed: int = 0  # ids the source listed
    deleted: int = 0  # appointments that sweep deleted
