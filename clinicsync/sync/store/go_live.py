"""The go-live rule for records new to the store: one first seen before the
connector's go-live moment (by the batch's own knowledge or a quarantine item that saw it) is
recorded like the baseline's, not announced (docs/operations.md)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Connection

from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.store import quarantine
from clinicsync.sync.store.records import Mapped

# The marks of a record new to the store that clinicsync knew before go-live: the planner
# treats it as the baseline's (reminders, no announcement); the second key says why.
_BEFORE_GO_LIVE = {"baseline": True, "before_go_live": True}
# The go-live moment and, by external id, (first seen as the batch knows it, record id).
_Live = tuple[datetime, dict[str, tuple[datetime | None, str | None]]]


def _first_seen(mapped: Collection[Mapped], go_live: datetime) -> dict[str, tuple[datetime | None, str | None]]:
    """By external id: the earliest the batch itself knows the record from (the source's own
    booking time, a retried quarantine item's first sighting) and the connector's record id,
    under which a quarantine item may also know it."""
    return {m.appointment.external_id: (_earliest(m.first_seen, _booked_unchanged(m.appointment, go_live)),
                                        m.record_id)
            for m in mapped if not m.delete}


def _booked_unchanged(appointment: NormalizedAppointment, go_live: datetime) -> datetime | None:
    """The source's booking time, when it may say the booking is older than go-live: only for a
    row the source has not changed since (its ``source_updated_at`` at or before go-live: a late
    replica, an export that lagged). A booking time is often the row's creation: a pre-made free
    slot, created weeks before and booked after go-live (so changed after it), would count as
    booked before go-live and get no confirmation. Such a row, and one without a
    change stamp, is judged by when clinicsync first saw it: first sight after go-live wins."""
    updated = appointment.source_updated_at
    return appointment.booked_at if updated is not None and updated <= go_live else None


def _earliest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def _before_go_live(connection: Connection, connector: str, external_ids: Sequence[str],
                    live: _Live, items: bool = True) -> set[str]:
    """The inserted records first seen before go-live: by the batch's own knowledge or by a
    quarantine item that saw them (a row quarantined at the baseline, imported after a fix;
    ``items`` False: the connector has no item at all, nothing to read)."""
    go_live, known = live
    record_ids = {external_id: known.get(external_id, (None, None))[1] or external_id for external_id in external_ids}
    seen = quarantine.first_seen(connection, connector, {*external_ids, *record_ids.values()}) if items else {}
    quiet = set()
    for external_id in external_ids:
        first = known.get(external_id, (None, None))[0]
        times = [t for t in (first, seen.get(external_id), seen.get(record_ids[external_id])) if t is not None]
        if times and min(times) <= go_live:  # known at the go-live moment is known before it
            quiet.add(external_id)
    return quiet
