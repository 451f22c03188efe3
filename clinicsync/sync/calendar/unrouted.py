"""Doctors whose visits reach no calendar because the source gives them no email.

A practitioner no `calendar.calendars` rule names goes to the calendar of their own email
(`calendar.default: delegate`): a Google user's primary calendar, an `.ics` file named by it. EHRs
often keep no email for their providers, and such a doctor simply got no calendar; `sync` said
nothing, so the clinic learnt it from the doctor. Now each is named — once, when first seen
(sync/runs/standing.py: `calendar.doctor_without_calendar`, no daily reminder), and in `clinicsync
check` — with the fix: map the doctor's email in the mapping (`practitioner.email`), or give the
doctor a calendar in settings (`calendar.calendars: [{practitioner: <id>, calendar_id: …}]`). A
doctor left out on purpose (a rule with `skip: true`, or `default: skip`) is not named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.sync.calendar.desired import A, D, Router, window_start
from clinicsync.sync.config.settings.calendar import CalendarSettings
from clinicsync.sync.runs.standing import Standing
from clinicsync.sync.store.tables import with_people

NO_CALENDAR = Standing("calendar.doctor_without_calendar", "practitioner")
FIX = ("map the doctor's email in the source's mapping (practitioner.email), or give the doctor a calendar in "
       "settings: calendar.calendars: [{practitioner: '<id>', connector: '<source>', calendar_id: '<calendar>'}]")


@dataclass(frozen=True)
class Unrouted:
    """A doctor of active visits in the calendar's window who has no calendar for want of an email."""

    connector: str
    practitioner: str  # the doctor's id in the source
    name: str | None
    visits: int

    @property
    def subject(self) -> str:
        return f"{self.connector}/{self.practitioner}"

    def line(self) -> str:
        who = f"{self.name!r} " if self.name else ""
        return (f"doctor {who}(id {self.practitioner!r} of source {self.connector!r}, {self.visits} visit(s)) has no "
                f"email, so no calendar: {FIX}")


def doctors_without_calendar(connection: Connection, settings: CalendarSettings, now: datetime) -> list[Unrouted]:
    """The doctors of active visits in the calendar's window whom no rule routes and who have no
    email to delegate to; none when there is no calendar (`provider: none`) or `default: skip`."""
    if settings.provider == "none" or settings.default == "skip":
        return []
    rows = connection.execute(
        select(A.connector, A.practitioner_ref, D.name, func.count())
        .select_from(with_people())
        .where(A.end_utc >= window_start(settings, now), A.deleted_at.is_(None),
               A.status.in_(sorted(ACTIVE_STATUSES)), A.practitioner_ref.is_not(None),
               D.email.is_(None) | (D.email == ""))
        .group_by(A.connector, A.practitioner_ref, D.name)
        .order_by(A.connector, A.practitioner_ref)).all()
    router = Router(settings)
    found = []
    for connector, ref, name, visits in rows:
        if router.target(connector, ref, None, name) is None and not _left_out(settings, connector, ref):
            found.append(Unrouted(connector, ref, name, int(visits)))
    return found


def _left_out(settings: CalendarSettings, connector: str, practitioner: str) -> bool:
    """A rule routes this doctor nowhere on purpose (``skip: true``)."""
    rule = next((r for r in settings.calendars if r.matches(connector, practitioner, None)), None)
    return rule is not None and rule.skip


def note_unrouted(engine: Engine, log: Any, settings: CalendarSettings, now: datetime) -> list[Unrouted]:
    """Each doctor without a calendar, logged once when first seen (a warning with the fix), and
    `….resolved` once they have one; the doctors found. A failure to read is no failure of the
    calendar stage: the doctors are named at its next run."""
    with engine.connect() as connection:
        found = doctors_without_calendar(connection, settings, now)
    for doctor in found:
        NO_CALENDAR.seen(engine, log, doctor.subject, remind=False, name=doctor.name, visits=doctor.visits, fix=FIX)
    NO_CALENDAR.ended(engine, log, keep=[d.subject for d in found])
    return found
