"""``tombstone``: deletes a source made explicitly (a FHIR ``DELETE``, an HL7 S17, a booking
tool's delete), remembered for ``store.tombstone_days`` so that a copy of the appointment
that is not newer than the delete — a late retry of an earlier ``PUT``, a ``save`` webhook
delivered after its ``delete`` — cannot bring it back. It is kept apart from the
appointment row because a delete may arrive before anything else of the appointment.

``deleted_at``: the delete's own time — the source's when it gave one, else when it arrived
(our clock); a copy dated after it is newer and applies (the source re-created it).
``recorded_at``: our clock, for the expiry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from clinicsync.common.model_table import table_of
from clinicsync.common.types import UtcDateTime


class Tombstone(SQLModel, table=True):
    __tablename__ = "tombstone"
    __table_args__ = (Index("ix_tombstone_recorded", "recorded_at"),)

    connector: str = Field(primary_key=True, max_length=64)
    external_id: str = Field(primary_key=True, max_length=255)
    deleted_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


TOMBSTONES = table_of(Tombstone)
