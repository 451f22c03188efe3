"""The .ics attached to confirmation, reschedule and cancellation emails. The UID is
stable per appointment and SEQUENCE is its version, so a calendar app updates the event
it already has instead of adding another; a cancellation is the same event again with
STATUS:CANCELLED.

METHOD:PUBLISH, without ORGANIZER or ATTENDEE: a METHOD:REQUEST with an
organizer is an invitation, so Outlook, Gmail and Apple Mail show Yes / No / Maybe buttons,
and the patient's "No" goes as an iTIP reply to the sending address, which nobody reads and
which changes nothing. A patient answers through the email's links (or the SMS's); the
file only puts the visit into their calendar. The MIME type carries ``charset=utf-8``
(SUMMARY and LOCATION are often not ASCII) and the same ``method`` as the body, as RFC
6047 asks."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from clinicsync.notifiers.base import Attachment

METHOD = "PUBLISH"


def calendar_links(*, start: datetime, end: datetime, summary: str, location: str | None) -> dict[str, str]:
    """"Add to Google Calendar" and "Add to Outlook" links for a new booking, beside the .ics:
    webmail on a phone often cannot open an attachment into the calendar. Only for a new event:
    these links add a copy, they cannot update one (a move or a cancellation goes by the .ics,
    whose UID and SEQUENCE do)."""
    def stamp(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    def iso(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    where = {"location": location} if location else {}
    google = {"action": "TEMPLATE", "text": summary, "dates": f"{stamp(start)}/{stamp(end)}", **where}
    outlook = {"path": "/calendar/action/compose", "rru": "addevent", "subject": summary,
               "startdt": iso(start), "enddt": iso(end), **where}
    return {"google": "https://calendar.google.com/calendar/render?" + urlencode(google),
            "outlook": "https://outlook.live.com/calendar/0/deeplink/compose?" + urlencode(outlook)}


def event_uid(connector: str, external_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in f"{connector}-{external_id}")
    return f"{safe}@clinicsync"


def ics_attachment(*, uid: str, sequence: int, start: datetime, end: datetime, summary: str,
                   location: str | None, cancelled: bool, stamp: datetime, url: str | None = None) -> Attachment:
    """``url``: a video visit's join link (RFC 5545 URL; LOCATION carries it too, where
    calendar apps show a clickable "where").

    icalendar is imported here, not at module level: only a send composes an attachment,
    and its ~0.19 s import was paid by every ``sync --once`` (cron, each minute) through
    compose <- dispatch <- the pipeline."""
    from icalendar import Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", "-//clinicsync//reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", METHOD)
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
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    calendar.add_component(event)
    return Attachment(filename="cancel.ics" if cancelled else "appointment.ics",
                      content_type=f"text/calendar; charset=utf-8; method={METHOD}", data=calendar.to_ical())
