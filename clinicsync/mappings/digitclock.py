"""A day and a clock kept as whole numbers: the date as the digits YYYYMMDD (20261130) and the
time of day as HHMMSS (93000 is 09:30:00, PHP's ``date('His')`` cast to a number, its leading
zero gone) or HHMM (930 is 09:30). Calendars written in PHP keep their events so (two INT
columns), with a negative clock (-1) for an entry that has no time of day.

Why a unit of its own: read as text, ``93000`` is no time of day and ``20261130`` only by luck a
date; the numbers must be padded back to their digits first. A negative clock is refused, never
read as midnight: a day without a time is no start a reminder can be planned from.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from clinicsync.mappings.transforms import TransformError, combine_date_time

DIGIT_CLOCKS = frozenset({"hhmmss", "hhmm"})


def _whole(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise TransformError(f"not {what}")
    try:
        return int(str(value).strip())
    except ValueError:
        raise TransformError(f"not {what}") from None


def digit_date(value: Any) -> date:
    """A day written as the whole number YYYYMMDD (a date or ISO text passes as it is)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if "-" in text[1:]:
        return date.fromisoformat(text)
    number = _whole(text, "a date written as YYYYMMDD")
    try:
        return date(number // 10_000, number // 100 % 100, number % 100)
    except ValueError:
        raise TransformError("not a date written as YYYYMMDD") from None


def digit_time(value: Any, unit: str) -> time:
    """A time of day written as the whole number HHMMSS (``unit`` hhmmss) or HHMM (hhmm)."""
    if isinstance(value, time):
        return value
    number = _whole(value, f"a time of day written as {unit.upper()}")
    if number < 0:
        raise TransformError(f"no time of day ({number}: an entry without one, never read as midnight)")
    hours, minutes, seconds = (number // 10_000, number // 100 % 100, number % 100) if unit == "hhmmss" \
        else (number // 100, number % 100, 0)
    try:
        return time(hours, minutes, seconds)
    except ValueError:
        raise TransformError(f"not a time of day written as {unit.upper()}") from None


def digit_clock(unit: str) -> Callable[[Any, Any], datetime]:
    """The combiner of a YYYYMMDD day and a clock in ``unit``: one naive wall-clock date-time."""
    def combine(day: Any, clock: Any) -> datetime:
        return combine_date_time(digit_date(day), digit_time(clock, unit))

    return combine
