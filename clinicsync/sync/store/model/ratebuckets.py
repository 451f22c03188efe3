"""``ratebucket``: the token buckets of the push endpoints' rate limits (per source), shared
by every replica of the server on one PostgreSQL store (sync/server/ratelimits.py), so N replicas
allow a source its configured rate, not N times it. Times are epoch seconds (the replicas'
wall clocks; a skew of a second between them shifts a refill by as much, nothing worse)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from clinicsync.common.model_table import table_of


class RateBucket(SQLModel, table=True):
    __tablename__ = "ratebucket"

    key: str = Field(primary_key=True, max_length=128)  # the limited source (e.g. "website", "fhir:ehr")
    tokens: float
    refilled_at: float  # epoch seconds of the last refill


RATE_BUCKETS = table_of(RateBucket)
