"""A visit kept as a day and a count of MINUTES SINCE MIDNIGHT, for `discover`: booking plugins
keep ``start_date`` DATE with ``start_time`` 540 (09:00) and ``end_time`` 570, whole numbers
the scorer reads as no time of day. Without this rule such a table has no start at all.

Why it is careful: a whole number beside a date may also be a clock written as HHMM (930 is
09:30), an hour, or a counter. The numbers are read as minutes only when their own values say
so: every sampled value a whole number from 0 to 1440, some of them with "minutes" past 59 in
their last two digits (570: no HHMM clock has minute 70), and their clock hours mostly in the
day. A column whose values could be either is left out with the reason; a start from a column
named UTC (clock_names.py) is never replaced — the minutes are then the site's wall clock of
the same moment, and combining them is never needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clinicsync.mappings.transforms import MINUTES_A_DAY
from clinicsync.sync.discover.columns import path_of
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.values import whole_numbers_of
from clinicsync.sync.discover.vocab import name_tokens

DAY_SHARE = 0.9  # of the values, read as minutes, that fall from 05:00 to 22:00
_DAY = range(5 * 60, 22 * 60 + 1)
_MINUTE_WORDS = frozenset({"time", "minute", "minutes", "min", "mins", "hora", "heure", "zeit", "clock"})
_DATE_WORDS = frozenset({"date", "day", "fecha", "datum", "dia", "jour"})
_MOMENT = {"start": frozenset({"start", "begin", "from", "starts", "inicio"}),
           "end": frozenset({"end", "finish", "until", "ends", "fin"})}


def minutes_reason(values: Sequence[str | None]) -> str | None:
    """Why ``values`` are no minutes since midnight; None when they are."""
    numbers = whole_numbers_of(values)
    if numbers is None:
        return "not all whole numbers"
    if max(numbers) > MINUTES_A_DAY:
        return f"values past {MINUTES_A_DAY} (a clock written as HHMM?)"
    if not any(n % 100 >= 60 for n in numbers):
        return "every value could be a clock written as HHMM (930 for 09:30) as well as minutes: give it by hand"
    if sum(n in _DAY for n in numbers) < DAY_SHARE * len(numbers):
        return "read as minutes, too many fall at night"
    return None


def _pair(moment: str, unplaced: Sequence[str], types: Mapping[str, str]) -> tuple[str, str] | None:
    """The unplaced date column and whole-number column named for ``moment`` (start/end) on the
    visit's own row, with one stem: ``start_date`` + ``start_time``."""
    def stem(column: str, words: frozenset[str]) -> tuple[str, ...] | None:
        tokens = name_tokens(column)
        if not set(tokens) & _MOMENT[moment] or not set(tokens) & words:
            return None
        return tuple(t for t in tokens if t not in words)
    days = [c for c in unplaced if "date" in types.get(c, "").lower() and "time" not in types.get(c, "").lower()
            and stem(c, _DATE_WORDS)]
    for day in days:
        for clock in unplaced:
            if clock != day and "int" in types.get(clock, "").lower() and stem(clock, _MINUTE_WORDS) == stem(
                    day, _DATE_WORDS):
                return day, clock
    return None


def day_and_minutes(guesses: Sequence[Guess], unplaced: Sequence[str], types: Mapping[str, str],
                    samples: Mapping[str, Sequence[str | None]], notes: list[str]) -> tuple[list[Guess], list[str]]:
    """``guesses`` with start (and end) read from a day and its minutes since midnight when the
    visit has no start of its own and the values show minutes; else as they came, with the
    reason noted when a pair was found but its values did not say minutes."""
    if any(g.field == "start" for g in guesses):
        return list(guesses), list(unplaced)
    out, left = list(guesses), list(unplaced)
    for moment in ("start", "end"):
        pair = _pair(moment, left, types)
        if pair is None or (moment == "end" and (any(g.field == "end" for g in out)
                                                 or not any(g.field == "start" for g in out))):
            continue
        day, clock = pair
        why_not = minutes_reason(samples.get(clock, ()))
        if why_not is not None:
            notes.append(f"{moment}: left out, not guessed: {day!r} with {clock!r} as minutes since midnight: "
                         f"{why_not}")
            continue
        out = [g for g in out if g.field != moment]
        out.append(Guess(moment, f"{day} + {clock}", 0.8,
                         f"date {day!r} + {clock!r}, whole minutes since that day's midnight (every sampled value "
                         f"0-{MINUTES_A_DAY}, some past minute 59 of any HHMM clock, most in the day)",
                         {"date": path_of(day), "time": path_of(clock), "time_unit": "minutes"}))
        left = [c for c in left if c not in (day, clock)]
        notes[:] = [n for n in notes if not n.startswith((f"{day}: a date with no time", f"{moment}.time: left out"))]
    return out, left
