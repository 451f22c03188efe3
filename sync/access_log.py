"""Who saw full patient details on the status page, and when: one row per page view that
showed names or phone numbers unmasked (HIPAA's access accounting). Rows name the user, the
view and how many patients were on it, never the patients' data."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Index, insert
from sqlmodel import Field, SQLModel

from sync.model import utc_column
from sync.types import utcnow

if TYPE_CHECKING:  # sync.model imports this module while sync.store is loading
    from sync.store import Store


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


ACCESS_LOG = UiAccess.__table__  # type: ignore[attr-defined]


def record_phi_view(store: Store, user: str, role: str, view: str, appointment_ids: list[int],
                    now: datetime | None = None) -> None:
    """Write the access row before the page is sent: no row, no page."""
    ids = ",".join(str(i) for i in appointment_ids)
    with store.engine.begin() as connection:
        connection.execute(insert(ACCESS_LOG).values(
            at=now or utcnow(), user=user[:64], role=role[:16], view=view[:64], patients=len(appointment_ids),
            appointment_ids=ids if len(ids) <= 2000 else ids[:1997] + "..."))
