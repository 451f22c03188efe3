"""The status page's access log table: one row per page view that showed names or phone
numbers unmasked (HIPAA's access accounting). Rows name the user, the view and how many
patients were on it, never the patients' data. Written by clinicsync.sync.runs.access_log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from clinicsync.common.model_table import table_of
from clinicsync.common.types import utc_column


class UiAccess(SQLModel, table=True):
    __tablename__ = "ui_access_log"
    __table_args__ = (Index("ix_ui_access_log_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=utc_column(nullable=False))
    user: str = Field(max_length=64)
    role: str = Field(max_length=16)
    view: str = Field(max_length=64)  # the route, e.g. /ui/attention
    patients: int = 0  # how many patients' full details the page showed
    appointment_ids: str = Field(default="", max_length=2000)  # comma separated, clipped
    sites: str | None = Field(default=None, max_length=400)  # the sites of the records shown
    scope: str | None = Field(default=None, max_length=400)  # the user's sites, "*" for every site


ACCESS_LOG = table_of(UiAccess)
