"""The .ics attached to confirmation, reschedule and cancellation emails. The UID is
stable per appointment and SEQUENCE is its version, so a calendar app updates (or, with
METHOD:CANCEL, removes) the event it already has instead of adding another.

Outlook and Gmail treat a METHOD:REQUEST without ORGANIZER and ATTENDEE as malformed (an
unopenable attachment or a plain file), so both are set: the clinic's sending address
organizes, the patient attends. The MIME type carries ``charset=utf-8`` (SUMMARY and
LOCATION are often not ASCII) and the same ``method`` as the body, as RFC 6047 asks."""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr

from icalendar import Calendar, Event, vCalAddress, vText

from clinicsync.notifiers.base import Attachment


def event_uid(connector: str, external_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in f"{connector}-{external_id}")
    return f"{safe}@clinicsync"


def cal_address(address: str, name: str | None = None, **params: str) -> vCalAddress | None:
    """``mailto:`` for "Name <addr>" or a bare address; None when there is no address in it."""
    display, email = parseaddr(address)
    if "@" not in email:
        return None
    value = vCalAddress(f"mailto:{email}")
    if name or display:
        value.params["cn"] = vText(name or display)
    for key, item in params.items():
        value.params[key] = vText(item)
    return value


def ics_attachment(*, uid: str, sequence: int, start: datetime, end: datetime, summary: str,
                   location: str | None, cancelled: bool, stamp: datetime, organizer: str | None = None,
                   attendee: str | None = None, attendee_name: str | None = None,
                   url: str | None = None) -> Attachment:
    """``url``: a video visit's join link (RFC 5545 URL; LOCATION carries it too, where
    calendar apps show a clickable "where")."""
    method = "CANCEL" if cancelled else "REQUEST"
    calendar = Calendar()
    calendar.add("prodid", "-//clinicsync//reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
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
    if url:
        event.add("url", url)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    organizer_address = cal_address(organizer) if organizer else None
    if organizer_address is not None:
        event.add("organizer", organizer_address)
    attendee_address = cal_address(attendee, attendee_name, role="REQ-PARTICIPANT", partstat="NEEDS-ACTION",
                                   rsvp="FALSE") if attendee else None
    if attendee_address is not None:
        event.add("attendee", attendee_address)
    calendar.add_component(event)
    return Attachment(filename="cancel.ics" if cancelled else "appointment.ics",
                      content_type=f"text/calendar; charset=utf-8; method={method}", data=calendar.to_ical())
