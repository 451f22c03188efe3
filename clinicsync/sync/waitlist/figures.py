"""What the waitlist achieved, in numbers: read by /metrics (sync/waitlist/metrics.py) and
the status page's charts and Waitlist page alike, so the two always agree.

A slot is *refilled* when an offer for it was accepted (``freed_slot.status`` ``taken``)
and the booking was not refused at the source (``booking_status`` not ``failed``: written,
pending, or a desk task). *Hours recovered* is the sum of the refilled slots' lengths.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, func, or_, select, true

from clinicsync.common.waitlist_states import OFFER_STATUSES, SLOT_STATUSES, BookingStatus, SlotStatus
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS

S = FREED_SLOTS.c
O = WAITLIST_OFFERS.c  # noqa: E741 - the table's initial, as elsewhere
REFILLED = (S.status == SlotStatus.TAKEN) & or_(S.booking_status.is_(None), S.booking_status != BookingStatus.FAILED)


@dataclass(frozen=True)
class Totals:
    slots_freed: int
    offers_sent: int
    slots_refilled: int
    hours_recovered: float
    slots: dict[str, int]  # freed slots by status
    offers: dict[str, int]  # offers by status


def _hours(rows: list[tuple[datetime, datetime]]) -> float:
    return sum((end - start).total_seconds() for start, end in rows) / 3600


def _slots_of(connectors: Collection[str] | None) -> ColumnElement[bool]:
    return true() if connectors is None else S.connector.in_(sorted(connectors))


def _offers_of(connectors: Collection[str] | None) -> ColumnElement[bool]:
    """An offer's source is its entry's."""
    if connectors is None:
        return true()
    entries = WAITLIST_ENTRIES.c
    return O.entry_id.in_(select(entries.id).where(entries.connector.in_(sorted(connectors))))


def totals(connection: Connection, connectors: Collection[str] | None = None) -> Totals:
    """The waitlist's figures (``connectors``: the sources of the sites a user sees)."""
    slots = dict.fromkeys(SLOT_STATUSES, 0)
    for status, count in connection.execute(select(S.status, func.count()).where(_slots_of(connectors))
                                            .group_by(S.status)):
        slots[str(status)] = int(count)
    offers = dict.fromkeys(OFFER_STATUSES, 0)
    for status, count in connection.execute(select(O.status, func.count()).where(_offers_of(connectors))
                                            .group_by(O.status)):
        offers[str(status)] = int(count)
    sent = connection.execute(select(func.count()).select_from(WAITLIST_OFFERS)
                              .where(O.sent_at.is_not(None), _offers_of(connectors))).scalar_one()
    refilled = [(r.start_utc, r.end_utc) for r in connection.execute(select(S.start_utc, S.end_utc).where(
        REFILLED, _slots_of(connectors)))]
    return Totals(slots_freed=sum(slots.values()), offers_sent=int(sent), slots_refilled=len(refilled),
                  hours_recovered=round(_hours(refilled), 2), slots=slots, offers=offers)


@dataclass(frozen=True)
class WeekRefill:
    label: str  # ISO week of the clinic's calendar, e.g. 2031-W10
    slots_refilled: int
    hours_recovered: float


def refills_by_week(connection: Connection, since: datetime, until: datetime, zone: ZoneInfo,
                    connectors: Collection[str] | None = None) -> list[WeekRefill]:
    """Slots refilled and hours recovered per ISO week of when the offer was accepted
    (``taken_at``, the clinic's local week), weeks without any left out."""
    weeks: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for row in connection.execute(select(S.taken_at, S.start_utc, S.end_utc).where(
            REFILLED, S.taken_at >= since, S.taken_at < until, _slots_of(connectors))):
        year, week, _ = row.taken_at.astimezone(zone).isocalendar()
        weeks[f"{year}-W{week:02d}"].append((row.start_utc, row.end_utc))
    return [WeekRefill(label, len(rows), round(_hours(rows), 2)) for label, rows in sorted(weeks.items())]
