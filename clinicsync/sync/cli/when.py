"""Dates and times as an admin types them on the command line.

Every option that takes a day or a moment (`--from`, `--to`, `--at`, `demo reset --date`)
reads it here, so they all accept the same words — `today`, `tomorrow`, `yesterday`, `+7d`,
`-2d`, `+3h`, a weekday, an ISO date or date-time, optionally followed by a clock time
(`tomorrow 13:00`) — and all refuse a typo the same way: one line naming the option, the
value and what it takes, exit 2, never a traceback. Words are read in the clinic's zone,
because "today" at the front desk is the clinic's day, not UTC's.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from clinicsync.common.timeutil import TimeError, to_utc, zone
from clinicsync.common.types import utcnow
from clinicsync.sync.cli.context import fail_config

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_WORDS = {"today": 0, "tomorrow": 1, "yesterday": -1}
_RELATIVE = re.compile(r"^([+-])(\d{1,5})([mhdw])$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
ACCEPTED = ("YYYY-MM-DD, an ISO time (2026-11-24T13:00, …Z), today, tomorrow, yesterday, +7d, -2d, +3h, "
            "a weekday (mon…sun); a day may be followed by a clock time (tomorrow 13:00)")


class WhenError(ValueError):
    """A value that names no day or moment; the message says what would."""


@dataclass(frozen=True)
class When:
    """What the admin named: a whole day in the clinic's zone, or one moment."""

    instant: datetime  # aware UTC: the moment, or the start of the day in the clinic's zone
    day: date | None   # set when a whole day was named (no clock time)

    def day_end(self, zone_name: str) -> datetime:
        """The first moment after the named day (an inclusive `--to` ends there), or the moment itself."""
        if self.day is None:
            return self.instant
        return _start_of(self.day + timedelta(days=1), zone_name)


def parse_when(value: str, zone_name: str, now: datetime | None = None) -> When:
    """Read `value` as a day or a moment in `zone_name`; raises WhenError with a hint."""
    try:
        return _parse(value, zone_name, now or utcnow())
    except OverflowError:
        raise WhenError(f"{value!r} is out of range") from None


def _parse(value: str, zone_name: str, now: datetime) -> When:
    text = " ".join(value.strip().lower().split())
    if not text:
        raise WhenError(f"an empty value; use {ACCEPTED}")
    head, _, clock = text.partition(" ")
    relative = _RELATIVE.match(head)
    if relative and not clock:
        sign, amount, unit = relative.groups()
        step = _UNITS[unit] * int(amount) * (1 if sign == "+" else -1)
        if unit in "dw":
            return _day(_today(now, zone_name) + step, zone_name)
        return When(now + step, None)
    day = _day_word(head, now, zone_name)
    if day is not None:
        return _day(day, zone_name) if not clock else _at_clock(day, clock, zone_name, value)
    if clock:
        raise WhenError(_unknown(value))
    return _iso(text.upper(), zone_name, value)


def _today(now: datetime, zone_name: str) -> date:
    return now.astimezone(zone(zone_name)).date()


def _day_word(word: str, now: datetime, zone_name: str) -> date | None:
    today = _today(now, zone_name)
    if word in DAY_WORDS:
        return today + timedelta(days=DAY_WORDS[word])
    for index, name in enumerate(WEEKDAYS):
        if len(word) >= 3 and name.startswith(word):
            return today + timedelta(days=(index - today.weekday()) % 7)  # the next one, today included
    try:
        return date.fromisoformat(word) if len(word) == 10 else None
    except ValueError:
        return None


def _start_of(day: date, zone_name: str) -> datetime:
    """Midnight in the zone; a day whose midnight a DST change skips starts at the first moment after."""
    try:
        return to_utc(datetime.combine(day, time()), zone_name)
    except TimeError:
        return to_utc(datetime.combine(day, time(1)), zone_name)


def _day(day: date, zone_name: str) -> When:
    return When(_start_of(day, zone_name), day)


def day_at(day: date, clock: time, zone_name: str) -> datetime:
    """``clock`` on ``day`` in the zone, as UTC; a clock a DST change skips is read an hour later
    (the first moment that exists), one it repeats as its first occurrence."""
    try:
        return to_utc(datetime.combine(day, clock), zone_name)
    except TimeError:
        return to_utc(datetime.combine(day, clock.replace(hour=(clock.hour + 1) % 24)), zone_name)


def _at_clock(day: date, clock: str, zone_name: str, original: str) -> When:
    match = _CLOCK.match(clock)
    if not match:
        raise WhenError(f"{original!r}: {clock!r} is not a clock time (HH:MM, 24-hour)")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    try:
        return When(to_utc(datetime.combine(day, time(hour, minute, second)), zone_name), None)
    except ValueError as exc:  # hour 25, or a time a DST change skips or repeats
        raise WhenError(f"{original!r}: {exc}") from None


def _iso(text: str, zone_name: str, original: str) -> When:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WhenError(_unknown(original)) from None
    try:
        return When(to_utc(parsed, zone_name) if parsed.tzinfo is None else parsed.astimezone(UTC), None)
    except TimeError as exc:
        raise WhenError(f"{original!r}: {exc}") from None


def _unknown(value: str) -> str:
    words = [*DAY_WORDS, *WEEKDAYS]
    near = difflib.get_close_matches(value.strip().lower().split(" ")[0], words, n=1, cutoff=0.75)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return f"{value!r} is not a day or a time{hint}; use {ACCEPTED}"


def option_when(option: str, value: str, zone_name: str) -> When:
    """`parse_when` for a command-line option: a bad value is one line naming the option, exit 2."""
    try:
        return parse_when(value, zone_name)
    except WhenError as exc:
        fail_config(f"{option} {exc}")
