"""What the answer page shows about one appointment: read from the store, in the patient's
language and the visit's own zone (through `clinicsync.common.shown_time`, as every page),
and how the visit takes place:

* **in person**: the place from `clinic.places` (address and map link); a location the
  settings do not list gets no address at all and the page says to ask the clinic, because
  the main building may be the wrong one;
* **video**: the join link, only from ``responses.join_link_opens`` before the start until
  the end (before that, the clock time it appears at); never a street address or a map;
* **phone**: who calls whom: "call <number>" when the source gives a number to dial in,
  else "we will call you on your number ending in 0123" (the patient's own number, masked),
  else the clinic's phone; never a map.

Minimum necessary: the patient's first name only, the phone number's last digits only."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from babel import Locale
from babel.dates import get_timezone_name
from sqlalchemy import Connection, select

from clinicsync.common.shown_time import shown_clock, shown_date
from clinicsync.common.timeutil import zone
from clinicsync.sync.config.clinic import ClinicSettings, Place
from clinicsync.sync.reminders.compose import first_name, shown_number
from clinicsync.sync.store.model import Location, Practitioner, table_of

D = table_of(Practitioner)
L = table_of(Location)
MODES = ("in_person", "video", "phone")


@dataclass(frozen=True)
class VisitView:
    day: str  # "Wed, Jun 12, 2030" (shown_date)
    time: str  # "10:00 AM", with the zone's short name when not the clinic's (shown_clock)
    zone_name: str  # "Eastern Daylight Time"
    zone_id: str  # "America/New_York"
    start_utc: str  # ISO, for <time datetime>
    doctor: str | None
    type: str | None  # in the page's language when `clinic.visit_types` has it
    location: str | None
    place: Place | None  # in person only
    first_name: str | None
    mode: str = "in_person"  # in_person | video | phone
    place_unknown: bool = False  # in person at a location `clinic.places` does not list
    instructions: str | None = None  # the place's, in the page's language
    join_url: str | None = None  # video, and it is time to join
    join_opens: str | None = None  # video with a link, not yet time: the clock time it appears
    join_pending: bool = False  # video without a link yet (the source adds it later)
    dial_in: tuple[str, str] | None = None  # phone: (as shown, tel: URI) the patient calls
    calls_you: str | None = None  # phone: the last digits of the patient's number the clinic calls
    cancelled: bool = False  # named as the visit that was cancelled: no join link, no call to expect

    def as_cancelled(self) -> VisitView:
        return replace(self, cancelled=True, join_url=None, join_opens=None, join_pending=False, dial_in=None,
                       calls_you=None)


def _name(connection: Connection, table: Any, connector: str, ref: str | None) -> str | None:
    if not ref:
        return None
    found = connection.execute(select(table.c.name).where(table.c.connector == connector,
                                                          table.c.external_id == ref)).scalar()
    return str(found) if found else None


def last_digits(phone: str | None) -> str | None:
    """'+12125550123' → '0123': enough for a patient to recognise their number, nothing more."""
    digits = "".join(c for c in phone or "" if c.isdigit())
    return digits[-4:] if len(digits) > 4 else None


def visit_view(connection: Connection, appointment: Any, patient: Any, locale: Locale, clinic: ClinicSettings,
               now: datetime, join_opens: timedelta) -> VisitView:
    start, tz = appointment.start_utc, appointment.timezone
    tag = str(locale)
    location = _name(connection, L, appointment.connector, appointment.location_ref)
    mode = appointment.visit_mode if appointment.visit_mode in MODES else "in_person"
    place = clinic.place(appointment.location_ref, location)
    extra: dict[str, Any] = {}
    if mode == "in_person":
        extra.update(place=place, place_unknown=place is None and bool(appointment.location_ref or location),
                     instructions=place.instructions_in(tag) if place else None)
    elif mode == "video":
        opens = start - join_opens
        if not appointment.join_url:
            extra.update(join_pending=True)
        elif now >= opens:
            extra.update(join_url=appointment.join_url)
        else:
            extra.update(join_opens=shown_clock(opens, tz, tag, home_zone=clinic.timezone))
    else:
        if appointment.dial_in:
            shown = shown_number(appointment.dial_in, clinic.default_region) or appointment.dial_in
            extra.update(dial_in=(shown, "tel:" + "".join(c for c in appointment.dial_in if c.isdigit() or c == "+")))
        else:
            extra.update(calls_you=last_digits(patient.phone if patient is not None else None))
    return VisitView(
        day=shown_date(start, tz, tag), time=shown_clock(start, tz, tag, home_zone=clinic.timezone),
        zone_name=get_timezone_name(start.astimezone(zone(tz)), "long", locale=locale), zone_id=tz,
        start_utc=start.isoformat(), doctor=_name(connection, D, appointment.connector, appointment.practitioner_ref),
        type=clinic.visit_type_in(appointment.type, tag), location=location if mode == "in_person" else None,
        first_name=first_name(patient.name if patient is not None else None), mode=mode,
        **{"place": None, **extra})
