"""The `.ics` files' VTIMEZONE blocks are the zones' yearly rules: a calendar app reading one
gets the same UTC offset as the tz database at every hour of the next twenty years (past
2038, where icalendar's listed transitions stopped and said so in a COMMENT)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from clinicsync.sync.calendar.vtimezone import ruled_vtimezone, vtimezone


def _zone_of(block: bytes) -> object:
    calendar = Calendar.from_ical(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\n" + block + b"END:VCALENDAR\r\n")
    [found] = calendar.walk("VTIMEZONE")
    return found.to_tz()


@pytest.mark.parametrize("tzid", ["America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata",
                                  "Pacific/Chatham", "Asia/Tehran"])
def test_the_rules_give_the_tz_databases_offsets_for_twenty_years(tzid: str) -> None:
    block = ruled_vtimezone(tzid, 2025)
    assert block is not None and b"RDATE" not in block and b"COMMENT" not in block
    rules, zone = _zone_of(block), ZoneInfo(tzid)
    at, wrong = datetime(2025, 1, 1, tzinfo=UTC), []
    while at < datetime(2046, 1, 1, tzinfo=UTC):
        if at.astimezone(zone).utcoffset() != at.astimezone(rules).utcoffset():  # type: ignore[arg-type]
            wrong.append(at)
        at += timedelta(minutes=30 if at.month in (3, 4, 9, 10, 11) else 180)
    assert not wrong, wrong[:3]


def test_a_zone_whose_dates_follow_no_yearly_rule_keeps_the_listed_transitions() -> None:
    assert ruled_vtimezone("America/Santiago", 2025) is None  # its change dates vary from year to year
    assert b"BEGIN:VTIMEZONE" in vtimezone("America/Santiago")
