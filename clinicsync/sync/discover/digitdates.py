"""A visit's start kept as two WHOLE NUMBERS, for `discover`: the day as the digits YYYYMMDD
(``cal_date`` 20261130) and the time of day as HHMMSS (``cal_time`` 93000 for 09:30:00, PHP's
``date('His')`` stored in an INT) or HHMM (930), a negative number (-1) for an entry with no time
of day. Calendars written in PHP keep their events so; the scorer sees numbers, no date and no
time, and such a table had no start at all.

Why it is careful: an INT beside a date may be a counter, a code or Unix seconds. The day is
taken only when every sampled value is a real date written as eight digits (19000101-21001231),
and the clock only when every sampled value that is not negative is a real clock in its digits
(hours below 24, minutes and seconds below 60), named for the same moment as the day (one stem:
``cal_date`` + ``cal_time``, ``start_date`` + ``start_time``). A row's own stamps (modified,
created) and a task's due date are never the visit's start. HHMMSS is told from HHMM by the
values: a clock past 2359 can only be HHMMSS; every value at most 2359 is HHMM.

An entry whose clock is negative or empty has no time: it is left out of the query (never
imported at midnight), said in a note.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from clinicsync.sync.discover.columns import path_of
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.values import whole_numbers_of
from clinicsync.sync.discover.vocab import name_tokens

_DATE_WORDS = frozenset({"date", "day", "fecha", "datum", "dia", "jour", "ymd"})
_CLOCK_WORDS = frozenset({"time", "hour", "hora", "heure", "zeit", "clock", "hms", "hhmm", "hhmmss"})
_NOT_THE_VISIT = re.compile(r"mod|creat|updat|chang|due|birth|login|sent|last|complet|end", re.I)


@dataclass(frozen=True)
class DigitStart:
    """The day column, the clock column and how the clock is written (hhmmss or hhmm)."""

    day: str
    clock: str
    unit: str


def _is_day(number: int) -> bool:
    year, month, day = number // 10_000, number // 100 % 100, number % 100
    return 1900 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31


def _clock_unit(numbers: Sequence[int]) -> str | None:
    """hhmmss or hhmm when every value that is not negative is a clock so written; None else."""
    timed = [n for n in numbers if n >= 0]
    if not timed:
        return None
    if all(n // 10_000 < 24 and n // 100 % 100 < 60 and n % 100 < 60 for n in timed) and max(timed) > 2359:
        return "hhmmss"
    if all(n // 100 < 24 and n % 100 < 60 for n in timed):
        return "hhmm"
    return None


def _stem(column: str, words: frozenset[str]) -> tuple[str, ...] | None:
    tokens = name_tokens(column)
    if not set(tokens) & words:
        return None
    return tuple(t for t in tokens if t not in words)


def find(unplaced: Sequence[str], types: Mapping[str, str],
         samples: Mapping[str, Sequence[str | None]]) -> DigitStart | None:
    """The day and clock columns of the visit's start, kept as whole numbers; None when the
    visit has none."""
    whole = [c for c in unplaced if re.search(r"int|number|numeric", types.get(c, ""), re.I)
             and not _NOT_THE_VISIT.search(c)]
    for day in whole:
        stem, numbers = _stem(day, _DATE_WORDS), whole_numbers_of(samples.get(day, ()), signed=True)
        if stem is None or not numbers or not all(_is_day(n) for n in numbers):
            continue
        for clock in whole:
            clocks = whole_numbers_of(samples.get(clock, ()), signed=True)
            if clock == day or _stem(clock, _CLOCK_WORDS) != stem or not clocks:
                continue
            unit = _clock_unit(clocks)
            if unit is not None:
                return DigitStart(day, clock, unit)
    return None


def placed(guesses: Sequence[Guess], unplaced: Sequence[str], types: Mapping[str, str],
           samples: Mapping[str, Sequence[str | None]], notes: list[str]) -> tuple[list[Guess], list[str]]:
    """``guesses`` with the start read from a YYYYMMDD day and its clock when the visit has no
    start of its own; else as they came."""
    if any(g.field == "start" for g in guesses):
        return list(guesses), list(unplaced)
    found = find(unplaced, types, samples)
    if found is None:
        return list(guesses), list(unplaced)
    untimed = sum(n < 0 for n in whole_numbers_of(samples.get(found.clock, ()), signed=True) or [])
    shown = {"hhmmss": "HHMMSS (93000 is 09:30:00)", "hhmm": "HHMM (930 is 09:30)"}[found.unit]
    guess = Guess("start", f"{found.day} + {found.clock}", 0.8,
                  f"date {found.day!r} (every sampled value a date written as YYYYMMDD) + {found.clock!r} (every "
                  f"sampled value not negative a clock written as {shown})",
                  {"date": path_of(found.day), "time": path_of(found.clock), "time_unit": found.unit})
    notes[:] = [n for n in notes if not n.startswith(("start.date: left out", "start.time: left out"))]
    notes.append(f"start: rows whose {found.clock!r} is negative or empty have no time of day ({untimed} of the "
                 "sampled rows): they are left out of the query, never imported at midnight")
    return [*guesses, guess], [c for c in unplaced if c not in (found.day, found.clock)]


def timed(column: str) -> str:
    """The condition that keeps the rows with a time of day (``column`` the clock's expression)."""
    return f"{column} >= 0"


def digit_day(bind: str, dialect: str) -> str:
    """A date-time bind as the whole number YYYYMMDD, in the database's own SQL."""
    if dialect == "sqlite":
        return f"CAST(strftime('%Y%m%d', {bind}) AS INTEGER)"
    if dialect == "mssql":
        return f"(YEAR({bind}) * 10000 + MONTH({bind}) * 100 + DAY({bind}))"
    moment = f"CAST({bind} AS TIMESTAMP)" if dialect == "postgresql" else bind
    return (f"CAST(EXTRACT(YEAR FROM {moment}) * 10000 + EXTRACT(MONTH FROM {moment}) * 100 "
            f"+ EXTRACT(DAY FROM {moment}) AS {'INTEGER' if dialect == 'postgresql' else 'SIGNED'})")
