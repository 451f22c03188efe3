"""The .ics attached to confirmation, reschedule and cancellation emails. The UID is
stable per appointment and SEQUENCE is its version, so a calendar app updates (or, with
METHOD:CANCEL, removes) the event it already has instead of adding another."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event

from notifiers.base import Attachment


def event_uid(connector: str, external_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in f"{connector}-{external_id}")
    return f"{safe}@clinicsync"


def ics_attachment(*, uid: str, sequence: int, start: datetime, end: datetime, summary: str,
                   location: str | None, cancelled: bool, stamp: datetime) -> Attachment:
    method = "CANCEL" if cancelled else "REQUEST"
    calendar = Calendar()
    calendar.add("prodid", "-//clinicsync//reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    if location:
        event.add("location", location)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(event)
    return Attachment(filename="cancel.ics" if cancelled else "appointment.ics",
                      content_type=f"text/calendar; method={method}", data=calendar.to_ical())
