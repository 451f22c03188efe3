"""What the answer page shows about one appointment: read from the store, formatted in the
patient's language and the appointment's own zone (labelled), with the place from
`clinic.places`. Minimum necessary: the patient's first name only, no phone or email."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from babel import Locale
from babel.dates import format_date, format_time, get_timezone_name
from sqlalchemy import Connection, select

from clinicsync.common.timeutil import zone
from clinicsync.sync.clinic import ClinicSettings, Place
from clinicsync.sync.model import Location, Practitioner
from clinicsync.sync.reminders.compose import first_name

D = Practitioner.__table__  # type: ignore[attr-defined]
L = Location.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class VisitView:
    day: str  # "Wednesday, June 12, 2030"
    time: str  # "10:00 AM"
    zone_name: str  # "Eastern Daylight Time"
    zone_id: str  # "America/New_York"
    start_utc: str  # ISO, for <time datetime>
    doctor: str | None
    type: str | None
    location: str | None
    place: Place | None
    first_name: str | None


def _name(connection: Connection, table: Any, connector: str, ref: str | None) -> str | None:
    if not ref:
        return None
    found = connection.execute(select(table.c.name).where(table.c.connector == connector,
                                                          table.c.external_id == ref)).scalar()
    return str(found) if found else None


def visit_view(connection: Connection, appointment: Any, patient: Any, locale: Locale,
               clinic: ClinicSettings) -> VisitView:
    local = appointment.start_utc.astimezone(zone(appointment.timezone))
    location = _name(connection, L, appointment.connector, appointment.location_ref)
    return VisitView(
        day=format_date(local.date(), "full", locale=locale), time=format_time(local, "short", locale=locale),
        zone_name=get_timezone_name(local, "long", locale=locale), zone_id=appointment.timezone,
        start_utc=appointment.start_utc.isoformat(),
        doctor=_name(connection, D, appointment.connector, appointment.practitioner_ref), type=appointment.type,
        location=location, place=clinic.place(appointment.location_ref, location),
        first_name=first_name(patient.name if patient is not None else None))
