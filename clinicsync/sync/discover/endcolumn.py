"""A visit's end kept beside its start under the start's own name with a "2" or an end word.

Why: some products name the pair only by the start's name: Dolibarr's agenda keeps ``datep``
and ``datep2``, others ``date1``/``date2`` or ``dtstart``/``dtend`` glued. No word of such a
name says "end" to the name reader, so the second column was never placed and every visit took
the clinic's default length. A column is taken as the end only when its name is the start's
with a "2" or an end word (``fin``, ``end``, ``to``) in place of nothing, of a "1" or of a
start word, AND its sampled values are ends: after the start, the same day, a plausible
length. A column named so whose values are not (a follow-up date weeks later, a creation
stamp before the start) is left out, and the note says why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from clinicsync.common.timeutil import TimeError, parse_datetime

_END_WORDS = ("2", "end", "ends", "fin", "fim", "ende", "to", "until", "stop")
_START_WORDS = ("", "1", "start", "debut", "deb", "begin", "from", "inicio", "beginn")
_SHORTEST, _LONGEST = 5, 12 * 60  # minutes: a visit's plausible length
SHARE = 0.9  # of the sampled rows with both values that must read as an end
FEWEST = 3  # rows with both values, below which nothing is said of the values


@dataclass(frozen=True)
class Moments:
    """A date-time column as sampled: its name, its values row by row, how they are read."""

    name: str
    values: Sequence[str | None]
    fmt: str | None = None  # strptime format of a local date-time that is not ISO 8601
    unix_seconds: bool = False


def _bare(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def named_as_end(start: str, other: str) -> bool:
    """Whether ``other`` is ``start``'s name with an end word or a "2" for nothing, a "1" or a
    start word, at its end or its front (``datep``/``datep2``, ``dtstart``/``dtend``,
    ``startdate``/``enddate``)."""
    s, o = _bare(start), _bare(other)
    for begin in _START_WORDS:
        for end in _END_WORDS:
            if s.endswith(begin) and len(s) > len(begin) and o == s[:len(s) - len(begin)] + end:
                return True
            if begin and s.startswith(begin) and len(s) > len(begin) and o == end + s[len(begin):]:
                return True
    return False


def read_moment(value: str | None, column: Moments) -> datetime | None:
    """One sampled value of ``column`` as a naive UTC moment, None when it reads as none."""
    if value is None or not value.strip():
        return None
    try:
        if column.unix_seconds:
            return datetime.fromtimestamp(int(float(value)), UTC).replace(tzinfo=None)
        moment = parse_datetime(value, (column.fmt,) if column.fmt else ())
    except (TimeError, ValueError, OverflowError):
        return None
    return moment.replace(tzinfo=None) if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def paired_end(start: Moments, others: Sequence[Moments]) -> tuple[str | None, str] | None:
    """(the end column, why) when a column named as ``start``'s end holds ends; (None, the note
    saying why it was left out) when one is named so but its values are not ends; None when no
    column is named so."""
    named = [c for c in others if c.name != start.name and named_as_end(start.name, c.name)]
    if not named:
        return None
    refused = []
    for column in named:
        pairs = [(a, b) for a, b in zip((read_moment(v, start) for v in start.values),
                                       (read_moment(v, column) for v in column.values), strict=False)
                 if a is not None and b is not None]
        if len(pairs) < FEWEST:
            refused.append(f"{column.name!r} has a value beside the start on only {len(pairs)} sampled rows")
            continue
        lengths = [(b - a).total_seconds() / 60 for a, b in pairs]
        ends = [m for (a, b), m in zip(pairs, lengths, strict=True)
                if a.date() == b.date() and _SHORTEST <= m <= _LONGEST]
        if len(ends) >= SHARE * len(pairs):
            return column.name, (f"named as the end of {start.name!r}; {len(ends)} of {len(pairs)} sampled rows "
                                 f"end the same day {round(min(ends))} to {round(max(ends))} minutes after the start")
        before = sum(1 for m in lengths if m <= 0)
        refused.append(f"{column.name!r} is named as the end of {start.name!r} but only {len(ends)} of {len(pairs)} "
                       f"sampled rows read as an end (after the start, the same day, {_SHORTEST} minutes to "
                       f"{_LONGEST // 60} hours later; {before} at or before the start)")
    return None, f"end: left out, not guessed: {'; '.join(refused)}; map it by hand if the source has it"
