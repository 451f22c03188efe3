"""What a planned message is called where a person reads it (the visit's History, the desk's
lists): by what it is, not by the offset it was planned at. A "1 h reminder" that quiet hours
moved to 8:59 PM the evening before an 8:00 AM visit is an "evening-before reminder (quiet
hours)": its text already says so, and so must its label."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from clinicsync.common.timeutil import parse_duration

MOVED = timedelta(minutes=1)  # due this much earlier than its offset says: quiet hours moved it
EVENING = 17  # a message due from this local hour on the day before is the evening-before one


def _by_offset(offset: str) -> str:
    number, unit = offset[:-1], offset[-1:]
    if unit == "d" and number.isdigit() and int(number) == 1:
        return "24 h reminder"
    return f"{number} {unit} reminder" if unit in "mhdw" and number.isdigit() else f"{offset} reminder"


def message_name(kind: str, offset: str | None, due_at: datetime | None = None, starts_at: datetime | None = None,
                 zone: ZoneInfo | None = None) -> str:
    """'confirmation', '24 h reminder', '3 d reminder'; a reminder due earlier than its offset
    (quiet hours moved it) by when it now goes, in the visit's zone: 'evening-before reminder
    (quiet hours)', 'day-before …', 'same-day …', '3 days before …'."""
    if kind != "reminder" or not offset:
        return kind.replace("_", " ")
    name = _by_offset(offset)
    if due_at is None or starts_at is None or zone is None:
        return name
    try:
        planned = starts_at - parse_duration(offset)
    except ValueError:  # an offset this code no longer reads ('1w'): named by it
        return name
    if due_at > planned - MOVED:
        return name
    due, start = due_at.astimezone(zone), starts_at.astimezone(zone)
    days = (start.date() - due.date()).days
    if days <= 0:
        when = "same-day"
    elif days == 1:
        when = "evening-before" if due.hour >= EVENING else "day-before"
    else:
        when = f"{days} days before"
    return f"{when} reminder (quiet hours)"
