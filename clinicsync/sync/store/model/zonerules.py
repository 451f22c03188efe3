"""The time-zone rules the store's times were computed with.

A visit is booked at a local wall time; the store keeps it as UTC plus its IANA zone, worked out
with the tz database of the day it was mapped. When that database changes a zone's rules (a
country abolishes or brings back daylight saving), every stored visit past the change would
be an hour off. One row per zone in use keeps the UTC-offset transitions its stored times were
computed with (sync/store/zonerules.py), so a run can tell that the rules changed and move those
visits back to their local time (a correction, not a reschedule)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from clinicsync.common.types import UtcDateTime


class ZoneRules(SQLModel, table=True):
    __tablename__ = "zonerules"

    zone: str = Field(primary_key=True, max_length=64)
    # JSON {"from": epoch s, "to": epoch s, "offsets": [[epoch s, UTC offset s], ...]}: the offsets
    # in force from each instant, over the span from..to. NULL: not recorded yet (a store that
    # existed before this table: the next run records the rules of the day).
    transitions: str | None = Field(default=None, sa_column=Column(Text))
    # The transitions before the last correction: a re-mapped record equal to the stored one
    # but for times the old rules gave is recognized as unchanged (sync/store/appointments.py).
    previous: str | None = Field(default=None, sa_column=Column(Text))
    recorded_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    corrected_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    corrected: int = 0  # visits the last correction moved back to their local time
    left: int = 0  # visits it could not (their local time is in a new gap or overlap)
