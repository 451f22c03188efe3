"""Add-to-calendar on the answer page: an ``.ics`` file to download and "add" links
for Google Calendar and Outlook on the web.

The file is ``METHOD:PUBLISH`` with no ORGANIZER or ATTENDEE: a calendar app adds it as an
event of the patient's own and shows no Yes/No/Maybe whose replies would go nowhere. Times
are UTC (``DTSTART:…Z``), which every app shows in the reader's zone without a VTIMEZONE.
Its UID is the one the emailed invitation uses (sync/reminders/ics.py), so adding both
updates one event. The text says how the visit happens (the place's address, "video visit",
who calls) and carries the answer page's link, where the video join link appears when it is
time: the file itself never holds the join link, which the page shows only from
``responses.join_link_opens`` before the start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from icalendar import Calendar, Event


@dataclass(frozen=True)
class CalendarEntry:
    """One visit as a calendar event: what, when (UTC), where (or how), and the page's link."""

    uid: str
    start: datetime
    end: datetime
    summary: str
    location: str | None
    description: str
    url: str | None


def ics_file(entry: CalendarEntry, stamp: datetime, sequence: int = 0) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//clinicsync//answer page//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", entry.uid)
    event.add("sequence", sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", entry.start)
    event.add("dtend", entry.end)
    event.add("summary", entry.summary)
    if entry.location:
        event.add("location", entry.location)
    event.add("description", entry.description)
    if entry.url:
        event.add("url", entry.url)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def google_link(entry: CalendarEntry) -> str:
    """Google Calendar's documented event template (``action=TEMPLATE``), times in UTC."""
    query = {"action": "TEMPLATE", "text": entry.summary, "dates": f"{_stamp(entry.start)}/{_stamp(entry.end)}",
             "details": entry.description, **({"location": entry.location} if entry.location else {})}
    return "https://calendar.google.com/calendar/render?" + urlencode(query)


def outlook_link(entry: CalendarEntry) -> str:
    """Outlook on the web's compose deep link (``rru=addevent``), ISO times in UTC."""
    query = {"path": "/calendar/action/compose", "rru": "addevent", "subject": entry.summary,
             "startdt": entry.start.strftime("%Y-%m-%dT%H:%M:%SZ"), "enddt": entry.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
             "body": entry.description, **({"location": entry.location} if entry.location else {})}
    return "https://outlook.live.com/calendar/0/deeplink/compose?" + urlencode(query)
