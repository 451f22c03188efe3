"""iCalendar objects that calendar programs and bug reports really wrote (tests/fixtures/
icalendar_real, with its SOURCE note), read as a CalDAV row's text column is: none may stop the
read, each unreadable one is set aside with a reason that names the column and what is wrong
with the event (never its text), so the admin knows whether the source or the reading is at
fault."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clinicsync.connectors import ical_text

FOLDER = Path(__file__).parents[1] / "fixtures" / "icalendar_real"
WINDOW = (datetime(2014, 1, 1, tzinfo=UTC), datetime(2014, 1, 1, tzinfo=UTC) + timedelta(days=3650))


@pytest.mark.parametrize(("name", "why"), [
    ("pacific_fiji.ics", "an event with DTSTART given 2 times (one start is allowed)"),
    ("rfc_5545_RDATE_example.ics", "an event without DTSTART (no start)"),
    ("created_calendar_with_unicode_fields.ics", "an event without DTSTART (no start)"),
])
def test_an_invalid_event_is_set_aside_with_what_is_wrong(name: str, why: str) -> None:
    text = (FOLDER / name).read_bytes()
    found = ical_text.read("calendardata", text, WINDOW)
    assert isinstance(found, ical_text.Unread), found
    assert found.reason == f"calendardata: {why}", found.reason


def test_no_real_object_stops_the_read_and_no_reason_quotes_it() -> None:
    for path in sorted(FOLDER.glob("*.ics")):
        found = ical_text.read("calendardata", path.read_bytes(), WINDOW)
        if isinstance(found, ical_text.Unread):
            assert found.reason.startswith("calendardata: "), (path.name, found.reason)
            assert "SUMMARY" not in found.reason and "Fiji" not in found.reason, found.reason
