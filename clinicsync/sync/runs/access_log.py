"""Who saw full patient details on the status page, and when (the table: sync/store/model/access_log.py).
Rows name the user, the view and how many patients were on it, never the patients' data."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import insert

from clinicsync.common.types import utcnow
from clinicsync.sync.store.model.access_log import ACCESS_LOG, UiAccess

if TYPE_CHECKING:
    from clinicsync.sync.store.store import Store

__all__ = ["ACCESS_LOG", "UiAccess", "record_phi_view"]


def record_phi_view(store: Store, user: str, role: str, view: str, appointment_ids: list[int],
                    now: datetime | None = None, sites: list[str] | None = None, scope: str = "") -> None:
    """Write the access row before the page is sent: no row, no page. ``appointment_ids`` are
    the ids of the records shown: appointments, or quarantine items for /ui/quarantine (a bad
    record may have no appointment yet); the view names which. ``sites``: the sites (groups of practices)
    of the records shown; ``scope``: the user's own sites, ``*`` for every site, so a reader
    can tell a view outside the user's practice (empty on a deployment without `sites:`)."""
    ids = ",".join(str(i) for i in appointment_ids)
    with store.engine.begin() as connection:
        connection.execute(insert(ACCESS_LOG).values(
            at=now or utcnow(), user=user[:64], role=role[:16], view=view[:64], patients=len(appointment_ids),
            appointment_ids=ids if len(ids) <= 2000 else ids[:1997] + "...",
            sites=_clipped(",".join(sites or [])) or None, scope=_clipped(scope) or None))


def _clipped(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."
