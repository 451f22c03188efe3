"""The window (the query's WHERE on the start) for a start kept as NUMBERS: Unix seconds in an
integer column (``start_time`` 1795000000), or a day written as the digits YYYYMMDD beside its
clock (digitdates.py).

Why: the window was written only on a date or date-time column (``start BETWEEN :window_start
AND :window_end``); a start kept as a number had none, so every run read the whole table, years
of past bookings for the next months'. The bounds stay the connector's date-time binds, made
numbers by the database itself: for Unix seconds the binds' seconds since 1970 (the binds then
in UTC, ``window.timezone: UTC``, as the seconds are instants); for a YYYYMMDD day the binds'
days as the same digits, whole days. The clock's negative "no time" (-1) rows are left out
here too: a day without a time is no start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clinicsync.mappings.digitclock import DIGIT_CLOCKS
from clinicsync.sync.discover.digitdates import digit_day, timed
from clinicsync.sync.discover.icalvisits import seconds
from clinicsync.sync.discover.readplan import ReadPlan


@dataclass(frozen=True)
class NumberWindow:
    """The column the window is on, its conditions (the window first when there is one), and
    whether the binds must be UTC (Unix seconds)."""

    column: str
    conditions: list[str]
    windowed: bool
    utc_binds: bool


def window(plan: ReadPlan, spec: Mapping[str, Any] | None, dialect: str) -> NumberWindow | None:
    """The window of a start read as Unix seconds or as a YYYYMMDD day with its clock; None for
    any other start."""
    if not isinstance(spec, Mapping) or dialect == "sqlite":  # (SQLite: every row read, as for a date column)
        return None
    column = spec.get("from")
    if spec.get("type") == "unix_seconds" and isinstance(column, str) and column in plan.select:
        between = f"{seconds(':window_start', dialect)} AND {seconds(':window_end', dialect)}"
        return NumberWindow(column, [f"{plan.select[column]} BETWEEN {between}"], True, True)
    day, clock = spec.get("date"), spec.get("time")
    if spec.get("time_unit") in DIGIT_CLOCKS and isinstance(day, str) and isinstance(clock, str) \
            and day in plan.select and clock in plan.select:
        between = f"{digit_day(':window_start', dialect)} AND {digit_day(':window_end', dialect)}"
        return NumberWindow(day, [f"{plan.select[day]} BETWEEN {between}", timed(plan.select[clock])], True, False)
    return None
