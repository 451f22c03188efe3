"""What clinicsync knows of each connector's FHIR Subscription, as its notifications told it:
when the server was last heard from, the highest event counter seen (to notice a missed
or reset one), and the reconcile poll such a gap asked for. Written by
clinicsync.sync.ingest.subscriptions; one row per connector, never patient data."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from clinicsync.common.model_table import table_of
from clinicsync.common.types import utc_column


class FhirSubscription(SQLModel, table=True):
    __tablename__ = "fhir_subscription"

    connector: str = Field(primary_key=True, max_length=64)
    subscription: str | None = Field(default=None, max_length=255)  # the server's reference to it
    status: str | None = Field(default=None, max_length=16)  # requested | active | error | off
    last_type: str | None = Field(default=None, max_length=24)  # handshake | heartbeat | event-notification | …
    last_seen_at: datetime | None = Field(default=None, sa_column=utc_column())
    events_seen: int | None = None  # events-since-subscription-start, as last reported
    notifications: int = 0
    reconcile_at: datetime | None = Field(default=None, sa_column=utc_column())  # a reconcile poll asked for
    reconcile_reason: str | None = Field(default=None, max_length=255)
    reconciled_at: datetime | None = Field(default=None, sa_column=utc_column())  # when one last finished
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


FHIR_SUBSCRIPTIONS = table_of(FhirSubscription)
