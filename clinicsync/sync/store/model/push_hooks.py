"""Tables of the booking-tool webhooks.

``webhookreceipt``: the SHA-256 of each webhook body already applied, per connector, for a
vendor whose signature carries no timestamp (Cal.com): a replayed body is answered as
received but never applied twice. Only bodies younger than the connector's tolerance can
get past the freshness check, so older receipts are pruned.

``bookingalias``: a booking id that stands for another appointment. Cal.com gives the
rescheduled booking a new uid (``rescheduleUid`` names the old one); clinicsync keeps the
first uid as the appointment's external id, so the patient sees one appointment moved,
and later webhooks about the new uid (a cancel) reach it through this table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from clinicsync.common.model_table import table_of
from clinicsync.common.types import UtcDateTime


class WebhookReceipt(SQLModel, table=True):
    __tablename__ = "webhookreceipt"
    # The prune (``connector = ? AND received_at < ?``, on every webhook) walks only the
    # expired receipts of its connector; keyed by received_at alone, or through the primary
    # key, it read every receipt kept in the window.
    __table_args__ = (Index("ix_webhookreceipt_connector_received", "connector", "received_at"),)

    connector: str = Field(primary_key=True, max_length=64)
    digest: str = Field(primary_key=True, max_length=64)  # hex SHA-256 of the raw body
    received_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class BookingAlias(SQLModel, table=True):
    __tablename__ = "bookingalias"
    # A reschedule chain is followed forward too (which aliases stand for this booking?): by
    # (connector, external_id), not by every alias of the source.
    __table_args__ = (Index("ix_bookingalias_connector_external_id", "connector", "external_id"),)

    connector: str = Field(primary_key=True, max_length=64)
    alias: str = Field(primary_key=True, max_length=255)  # e.g. the uid of a rescheduled booking
    external_id: str = Field(max_length=255)  # the appointment it stands for
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


RECEIPTS = table_of(WebhookReceipt)
ALIASES = table_of(BookingAlias)
