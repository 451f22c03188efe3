"""A zone's VTIMEZONE as yearly rules (RRULE), for the doctors' `.ics` files.

icalendar's ``Timezone.from_tzid`` lists every transition from 1970 to 2038 as RDATEs and says
so in a COMMENT ("This timezone only works from 1970-01-01 to 2038-01-01"), which doctors'
calendar apps show and which stops being true for a visit booked past 2037. A zone's rules are
yearly ("second Sunday of March at 02:00"), so the block says them once: one STANDARD and one
DAYLIGHT with an RRULE, starting the year before this one (the file holds a month of past
visits at most). A zone whose transitions do not follow such a rule over the coming years (a
government that moves the date each year) keeps icalendar's listed block; a zone without
transitions is one STANDARD."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
CHECKED_YEARS = 4  # a rule is used only if it gives the zone's transitions this many years on


def _offset(zone: ZoneInfo, at: datetime) -> timedelta:
    found = at.astimezone(zone).utcoffset()
    assert found is not None
    return found


def _transitions(zone: ZoneInfo, year: int) -> list[datetime]:
    """The UTC instants in ``year`` at which the zone's offset changes, to the minute."""
    found = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    while day.year == year:
        nxt = day + timedelta(days=1)
        if _offset(zone, day) != _offset(zone, nxt):
            low, high = day, nxt
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if _offset(zone, middle) == _offset(zone, low) else (low, middle)
            found.append(high.replace(second=0, microsecond=0))
        day = nxt
    return found


def _rule(local: datetime) -> str:
    """The yearly rule whose occurrence this year is ``local``'s day: 'the nth weekday', or
    'the last weekday' when it is in the month's last seven days."""
    last = calendar.monthrange(local.year, local.month)[1]
    nth = -1 if local.day + 7 > last else (local.day - 1) // 7 + 1
    return f"FREQ=YEARLY;BYMONTH={local.month};BYDAY={nth}{WEEKDAYS[local.weekday()]}"


def _on_rule(rule: str, year: int, month: int) -> date:
    """The day ``rule`` falls on in ``year``."""
    by_day = rule.rsplit("BYDAY=", 1)[1]
    nth, weekday = int(by_day[:-2]), WEEKDAYS.index(by_day[-2:])
    days = [d for d in range(1, calendar.monthrange(year, month)[1] + 1) if date(year, month, d).weekday() == weekday]
    return date(year, month, days[nth - 1] if nth > 0 else days[-1])


def _fmt(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def ruled_vtimezone(tzid: str, year: int) -> bytes | None:
    """The VTIMEZONE of ``tzid`` as yearly rules from ``year``; None when the zone's changes
    do not follow one rule each (or there are more than two a year)."""
    zone = ZoneInfo(tzid)
    changes = _transitions(zone, year)
    if not changes:
        at = datetime(year, 1, 1, tzinfo=UTC).astimezone(zone)
        offset = _fmt(_offset(zone, at))
        return (f"BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\nBEGIN:STANDARD\r\nDTSTART:{year}0101T000000\r\n"
                f"TZNAME:{at.tzname()}\r\nTZOFFSETFROM:{offset}\r\nTZOFFSETTO:{offset}\r\nEND:STANDARD\r\n"
                "END:VTIMEZONE\r\n").encode()
    if len(changes) != 2:
        return None
    parts = []
    for change in changes:
        before, after = _offset(zone, change - timedelta(minutes=1)), _offset(zone, change)
        wall = (change + before).replace(tzinfo=None)  # the wall clock as it reads just before the change
        rule = _rule(wall)
        for later in range(year + 1, year + 1 + CHECKED_YEARS):
            if not any((c + before).date() == _on_rule(rule, later, wall.month)
                       and (c + before).time() == wall.time() for c in _transitions(zone, later)):
                return None
        local_after = change.astimezone(zone)
        kind = "DAYLIGHT" if local_after.dst() else "STANDARD"
        parts.append(f"BEGIN:{kind}\r\nDTSTART:{wall:%Y%m%dT%H%M%S}\r\nRRULE:{rule}\r\n"
                     f"TZNAME:{local_after.tzname()}\r\nTZOFFSETFROM:{_fmt(before)}\r\nTZOFFSETTO:{_fmt(after)}\r\n"
                     f"END:{kind}\r\n")
    return f"BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\n{''.join(parts)}END:VTIMEZONE\r\n".encode()


@lru_cache(maxsize=64)
def vtimezone(tzid: str) -> bytes:
    """The zone's VTIMEZONE for an `.ics` file: yearly rules from last year, else icalendar's
    listed transitions (empty if the zone is unknown)."""
    from icalendar import Timezone

    try:
        ruled = ruled_vtimezone(tzid, datetime.now(UTC).year - 1)
    except (KeyError, ValueError, OSError):  # not a zone zoneinfo knows
        ruled = None
    if ruled is not None:
        return ruled
    try:
        return Timezone.from_tzid(tzid).to_ical()
    except ValueError:
        return b""
