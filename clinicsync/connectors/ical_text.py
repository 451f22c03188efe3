"""A column whose text is a whole iCalendar object (``BEGIN:VCALENDAR … BEGIN:VEVENT …``), as a
CalDAV server keeps each event in its database (one row an event, the object in a text or blob
column, a few plain columns beside it): read into plain fields a mapping path names
(``calendardata.dtstart``), by the ``icalendar`` library.

The fields (``FIELDS``): the event's times, its words (summary, location, description, status as
written: CONFIRMED, TENTATIVE, CANCELLED), who organizes it and who attends. Why these rules:

- Times. ``DTSTART;TZID=Europe/Berlin:…`` is that zone's wall clock and the zone is the visit's:
  the start is given as the exact instant (with its offset) and ``timezone`` as the zone's name.
  A wall time that zone skips or repeats (a DST change) is given as the wall time alone, with the
  zone, so the mapping quarantines it rather than guess. A trailing ``Z`` is UTC (exact, no zone
  of its own). A floating time (no ``Z``, no TZID) is the wall clock of wherever the event is:
  given without an offset, so it is read in the connector's (the clinic's) zone. A TZID no zone
  database knows, described by the object's own VTIMEZONE, is given as the exact instant the
  library computes from that VTIMEZONE, with no zone name.
- A length as DURATION (no DTEND) is given as ``duration`` in minutes and as the ``dtend`` it
  makes.
- The patient is the first ATTENDEE that is a person (CUTYPE unset or INDIVIDUAL), not the
  organizer (its address) and not the meeting's chair (ROLE=CHAIR: a calendar client adds the
  organizer so): ``attendee_email`` from a ``mailto:`` address, ``attendee_phone`` from a ``tel:``
  address (RFC 5545's CAL-ADDRESS is any URI; RFC 3966's tel: is the one for a number), its CN as
  ``attendee_name``. A number typed into the description is not read: no convention says where.

A recurring series (RRULE, RDATE, or a series stored with its changed occurrences: VEVENTs
sharing a UID, each override naming the occurrence it replaces by RECURRENCE-ID) is expanded,
when the caller gives a span (``read``'s ``between``: the connector's read window), into one
field set an occurrence (``Series``), by the ``recurring-ical-events`` library (on ``icalendar``):
RRULE with COUNT, UNTIL or none, EXDATE, RDATE, overrides (a moved occurrence at its new time, a
cancelled one with STATUS:CANCELLED), a TZID's wall clock kept across a DST change. Each
occurrence carries ``recurrence_id`` (its original start, UTC) and ``occurrence_id`` (the UID and
that start: ``UID/20261207T080000Z``), so a moved occurrence keeps its id (a reschedule, not a
new visit), a row read again gives the same ids, and an occurrence taken out of the series
(EXDATE, a shorter COUNT) is missing from the next read as a deleted row is. Why a span, never
unbounded: an infinite series has no last occurrence. Rejected: dateutil's rrule by hand (the
overrides, RDATE periods and EXDATE zones are the library's tested work, not ours to redo).

Set aside, each with a reason naming the column and never a value of the event (``Unread``):
text that does not parse as iCalendar or holds no VEVENT; an all-day event (DTSTART;VALUE=DATE),
which has no time of day (a doctor's day off, a holiday), so no visit, a series of them too; a
recurring series read without a span (no window to bound it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FIELDS = ("dtstart", "dtend", "duration", "timezone", "summary", "location", "description", "status", "uid",
          "sequence", "url", "categories", "organizer_email", "organizer_name", "attendee_email", "attendee_name",
          "attendee_phone", "last_modified", "recurrence_id", "occurrence_id")
_SERIES = ("RRULE", "RDATE")


@dataclass(frozen=True)
class Unread:
    """Why a column's text was set aside: said of the column, never of the event's content."""

    reason: str
    text: str | None = None  # the column's text as read (the quarantined row's raw), never in the reason


@dataclass(frozen=True)
class Series:
    """A recurring series' occurrences inside the span it was read for, each its fields."""

    occurrences: tuple[dict[str, Any], ...]


def as_text(value: Any) -> str | None:
    """A column's value as text: a blob (MySQL's MEDIUMBLOB, PostgreSQL's bytea) decoded as UTF-8,
    which RFC 5545 prescribes; None for no value or bytes that are not UTF-8."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return str(value)


def looks_like(value: Any) -> bool:
    """The value begins as an iCalendar object does (its first line ``BEGIN:VCALENDAR``)."""
    text = as_text(value)
    return text is not None and text.lstrip("\ufeff \r\n\t")[:15].upper() == "BEGIN:VCALENDAR"


def read(column: str, value: Any, between: tuple[datetime, datetime] | None = None
         ) -> dict[str, Any] | Series | Unread | None:
    """The event in ``value`` as plain fields, a ``Series`` of its occurrences inside ``between``
    (aware instants) when it recurs, ``Unread`` when it is set aside, None for no value."""
    if value is None:
        return None
    text = as_text(value)
    if text is None:
        return Unread(f"{column}: not UTF-8 text, so no iCalendar object")
    if not text.strip():
        return None
    found = _read(column, text, between)
    return Unread(found.reason, text) if isinstance(found, Unread) else found


def _read(column: str, text: str, between: tuple[datetime, datetime] | None) -> dict[str, Any] | Series | Unread:
    # imported on the first column read as iCalendar (~30 ms with recurring-ical-events and
    # click): a SQL source imports this module for ``Unread``, and most have no such column
    import icalendar

    try:
        calendar = icalendar.Calendar.from_ical(text)
        events = calendar.walk("VEVENT")
    except Exception:  # the library raises ValueError, and others on odd input: all are text it cannot read
        return Unread(f"{column}: not iCalendar text (the library could not parse it)")
    if not events:
        return Unread(f"{column}: an iCalendar object without a VEVENT (no event)")
    try:
        if len(events) > 1 or any(events[0].get(p) is not None for p in _SERIES):
            return _series(column, calendar, events, between)
        return _fields(column, events[0])
    except _SetAside as exc:
        return Unread(str(exc))
    except Exception:  # a property whose value the library cannot read (a bad date)
        return Unread(f"{column}: an event whose properties do not parse (a date, a duration)")


class _SetAside(Exception):
    pass


def _series(column: str, calendar: Any, events: list[Any], between: tuple[datetime, datetime] | None) -> Series:
    """The occurrences inside ``between`` (module docstring)."""
    for event in events:
        start = _start(column, event)
        if not isinstance(start.dt, datetime):
            raise _SetAside(f"{column}: an all-day event (DTSTART;VALUE=DATE): it has no time of day, so it is set "
                            "aside, not read as a visit")
    if between is None:
        raise _SetAside(f"{column}: a recurring series read without a window: its occurrences are not expanded")
    import recurring_ical_events  # on the first series (see _read)

    found = []
    for occurrence in recurring_ical_events.of(calendar).between(*between):
        fields = _fields(column, occurrence)
        original = occurrence.get("RECURRENCE-ID")
        moment = original.dt if original is not None else occurrence.get("DTSTART").dt
        if not isinstance(moment, datetime):
            raise _SetAside(f"{column}: an occurrence whose RECURRENCE-ID has no time of day")
        if moment.tzinfo is None:  # floating: the clinic's wall clock, kept as written (no instant to give)
            stamp, fields["recurrence_id"] = moment.strftime("%Y%m%dT%H%M%S"), moment.isoformat()
        else:
            utc = moment.astimezone(UTC)
            stamp, fields["recurrence_id"] = utc.strftime("%Y%m%dT%H%M%SZ"), utc.isoformat()
        fields["occurrence_id"] = f"{fields['uid'] or ''}/{stamp}"
        found.append(fields)
    found.sort(key=lambda f: str(f["recurrence_id"]))
    return Series(tuple(found))


def _start(column: str, event: Any) -> Any:
    """The event's DTSTART property; set aside when it has none, or two (RFC 5545 allows one:
    which of them is the visit's start is no rule; the library gives them as a list)."""
    start_prop = event.get("DTSTART")
    if start_prop is None:
        raise _SetAside(f"{column}: an event without DTSTART (no start)")
    if isinstance(start_prop, list):
        raise _SetAside(f"{column}: an event with DTSTART given {len(start_prop)} times (one start is allowed)")
    return start_prop


def _fields(column: str, event: Any) -> dict[str, Any]:
    start_prop = _start(column, event)
    start = start_prop.dt
    if not isinstance(start, datetime):
        raise _SetAside(f"{column}: an all-day event (DTSTART;VALUE=DATE): it has no time of day, so it is set "
                        "aside, not read as a visit")
    tzid = start_prop.params.get("TZID")
    dtstart, zone_name = _time(start, tzid)
    out: dict[str, Any] = dict.fromkeys(FIELDS)
    out["dtstart"], out["timezone"] = dtstart, zone_name
    end_prop, length = event.get("DTEND"), event.get("DURATION")
    end: Any = end_prop.dt if end_prop is not None else None
    if end is None and length is not None and isinstance(length.dt, timedelta):
        end = start + length.dt
        out["duration"] = int(length.dt.total_seconds() // 60)
    if isinstance(end, datetime):
        out["dtend"] = _time(end, end_prop.params.get("TZID") if end_prop is not None else tzid)[0]
    for name, key in (("summary", "SUMMARY"), ("location", "LOCATION"), ("description", "DESCRIPTION"),
                      ("status", "STATUS"), ("uid", "UID"), ("url", "URL")):
        out[name] = _text(event.get(key))
    sequence = event.get("SEQUENCE")
    out["sequence"] = int(sequence) if sequence is not None else None
    categories = event.get("CATEGORIES")
    if categories is not None:
        cats = categories if isinstance(categories, list) else [categories]
        words = [str(w) for c in cats for w in getattr(c, "cats", [c])]
        out["categories"] = ", ".join(w for w in words if w.strip()) or None
    modified = event.get("LAST-MODIFIED")
    if modified is not None and isinstance(modified.dt, datetime):
        out["last_modified"] = _time(modified.dt, None)[0]
    organizer = event.get("ORGANIZER")
    organizer_address = _address(organizer)
    out["organizer_email"] = _mail(organizer_address)
    out["organizer_name"] = _text(organizer.params.get("CN")) if organizer is not None else None
    patient = _patient(event.get("ATTENDEE"), organizer_address)
    if patient is not None:
        address = _address(patient)
        out["attendee_email"], out["attendee_phone"] = _mail(address), _tel(address)
        out["attendee_name"] = _text(patient.params.get("CN"))
    return out


def _time(value: datetime, tzid: str | None) -> tuple[str, str | None]:
    """(the time as ISO text, the visit's zone name): see the module docstring."""
    if value.tzinfo is None:
        return value.isoformat(), None  # floating: the clinic's wall clock
    if tzid is None and value.utcoffset() == timedelta(0):
        return value.astimezone(UTC).isoformat(), None  # a trailing Z: UTC, no zone of the visit's own
    name = _zone_name(value, tzid)
    if name is not None:
        zone = ZoneInfo(name)
        wall = value.replace(tzinfo=None)
        if not _unique(wall, zone):  # skipped or repeated by a DST change: the mapping decides (quarantines)
            return wall.isoformat(), name
        return wall.replace(tzinfo=zone).isoformat(), name
    return value.astimezone(UTC).isoformat(), None  # the object's own VTIMEZONE: its instant, no zone name


def _zone_name(value: datetime, tzid: str | None) -> str | None:
    key = getattr(value.tzinfo, "key", None)
    for name in (key, tzid):
        if isinstance(name, str) and name:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
            return name
    return None


def _unique(wall: datetime, zone: ZoneInfo) -> bool:
    """The wall time happens exactly once in ``zone``."""
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        return False  # repeated (clocks went back) or skipped (clocks went forward)
    return first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _address(prop: Any) -> str | None:
    return str(prop).strip() if prop is not None and str(prop).strip() else None


def _mail(address: str | None) -> str | None:
    if address is None or not address.lower().startswith("mailto:"):
        return None
    return address[7:].strip() or None


def _tel(address: str | None) -> str | None:
    if address is None or not address.lower().startswith("tel:"):
        return None
    return address[4:].split(";")[0].strip() or None


def _patient(attendees: Any, organizer: str | None) -> Any:
    """The first attendee who is a person and neither the organizer nor the chair."""
    if attendees is None:
        return None
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        params = attendee.params
        address = _address(attendee)
        if address is None or (organizer is not None and address.lower() == organizer.lower()):
            continue
        if str(params.get("ROLE", "")).upper() == "CHAIR":
            continue
        if str(params.get("CUTYPE", "INDIVIDUAL")).upper() != "INDIVIDUAL":
            continue
        return attendee
    return None

