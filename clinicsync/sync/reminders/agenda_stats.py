"""The figures at the top of a doctor's daily agenda: how the day stands (booked, confirmed,
unconfirmed, declined), yesterday's no-shows, and what changed in the day's schedule since
the previous agenda. Read from the store when the agenda is sent, so they are current.
Of the booked, how many take place by video or phone (the appointment's visit mode);
the rest are in person."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Any

import orjson
from sqlalchemy import Connection, and_, select

from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.sync.reminders.timing import wall_clock
from clinicsync.sync.store.model import Appointment, Event, table_of

A = table_of(Appointment)
E = table_of(Event)
CHANGE_KINDS = ("created", "updated", "rescheduled", "cancelled", "deleted")
GONE = frozenset({"cancelled", "deleted"})


@dataclass(frozen=True)
class DayStats:
    """One doctor's day. ``booked`` is every appointment on the schedule (what the agenda
    lists): ``confirmed`` (the patient accepted) + ``unconfirmed`` (no answer yet) + those
    declined but still on the schedule. ``declined`` counts every declined appointment of
    the day, also those the decline cancelled."""

    booked: int = 0
    confirmed: int = 0
    unconfirmed: int = 0
    declined: int = 0
    noshows_yesterday: int = 0
    new: int = 0  # booked since the previous agenda
    moved: int = 0  # moved into, out of or within the day since the previous agenda
    cancelled: int = 0  # cancelled since the previous agenda (booked before it)
    video: int = 0  # of the booked: video visits
    phone: int = 0  # of the booked: phone visits

    @property
    def changes(self) -> int:
        return self.new + self.moved + self.cancelled

    @property
    def in_person(self) -> int:
        return self.booked - self.video - self.phone

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "changes": self.changes, "in_person": self.in_person}


def day_bounds(day: date, zone_name: str) -> tuple[datetime, datetime]:
    """The UTC instants a local calendar day begins and ends (23 or 25 hours across DST)."""
    return (wall_clock(day, clock(0), zone_name), wall_clock(day + timedelta(days=1), clock(0), zone_name))


def day_stats(connection: Connection, connector: str, doctor: str, day: date, zone_name: str,
              since: datetime, until: datetime) -> DayStats:
    """The figures for ``doctor``'s ``day`` (a date in ``zone_name``, the clinic's zone);
    changes are those recorded in [``since``, ``until``)."""
    begin, end = day_bounds(day, zone_name)
    mine = and_(A.c.connector == connector, A.c.practitioner_ref == doctor)
    rows = connection.execute(select(A.c.status, A.c.participation, A.c.deleted_at, A.c.visit_mode).where(
        mine, A.c.start_utc >= begin, A.c.start_utc < end)).all()
    live = [r for r in rows if r.deleted_at is None]
    active = [r for r in live if r.status in ACTIVE_STATUSES]
    confirmed = sum(1 for r in active if r.participation == "accepted")
    declined_active = sum(1 for r in active if r.participation == "declined")
    yesterday, _ = day_bounds(day - timedelta(days=1), zone_name)
    noshows = connection.execute(select(A.c.id).where(
        mine, A.c.start_utc >= yesterday, A.c.start_utc < begin, A.c.deleted_at.is_(None),
        A.c.status == "noshow")).all()
    new, moved, cancelled = _changes(connection, mine, begin, end, since, until)
    return DayStats(booked=len(active), confirmed=confirmed, unconfirmed=len(active) - confirmed - declined_active,
                    declined=sum(1 for r in live if r.participation == "declined"), noshows_yesterday=len(noshows),
                    new=new, moved=moved, cancelled=cancelled,
                    video=sum(1 for r in active if r.visit_mode == "video"),
                    phone=sum(1 for r in active if r.visit_mode == "phone"))


def _on_day(moment: datetime | str | None, begin: datetime, end: datetime) -> bool:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment is not None and begin <= moment < end


def _changes(connection: Connection, mine: Any, begin: datetime, end: datetime, since: datetime,
             until: datetime) -> tuple[int, int, int]:
    """Per appointment, what its events in the window did to the day: booked into it (new),
    moved (in, out or within it), or taken off it (cancelled). A booking cancelled within the
    window never was on a schedule the doctor saw: it counts as nothing."""
    events = connection.execute(
        select(E.c.appointment_id, E.c.kind, E.c.payload, A.c.start_utc, A.c.status, A.c.deleted_at)
        .join(A, A.c.id == E.c.appointment_id)
        .where(mine, E.c.created_at >= since, E.c.created_at < until, E.c.kind.in_(CHANGE_KINDS))
        .order_by(E.c.id)).all()
    by_appointment: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    current: dict[int, Any] = {}
    for row in events:
        payload = orjson.loads(row.payload or "{}")
        if payload.get("baseline"):
            continue  # recorded at go-live, not a change anyone made
        by_appointment.setdefault(row.appointment_id, []).append((row.kind, payload))
        current[row.appointment_id] = row
    new = moved = cancelled = 0
    for appointment_id, happened in by_appointment.items():
        row = current[appointment_id]
        booked = any(kind == "created" or (kind == "updated" and payload.get("reactivated"))
                     for kind, payload in happened)
        previous = [(payload.get("previous") or {}).get("start") for _, payload in happened]
        today = _on_day(row.start_utc, begin, end)
        was_today = any(_on_day(start, begin, end) for start in previous)
        off = row.deleted_at is not None or row.status not in ACTIVE_STATUSES
        if off and any(kind in GONE for kind, _ in happened):
            if not booked and (today or was_today):
                cancelled += 1
        elif booked:
            new += 1 if today and not off else 0
        elif any(kind == "rescheduled" for kind, _ in happened) and (today or was_today):
            moved += 1
    return new, moved, cancelled
