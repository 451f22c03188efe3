"""The start and length of a visit kept as key/value rows (metavisits.py): which key the start
is read from, how, and the window the query reads.

- a key the scorer placed (a date-time, a day with a time); else the type's first dated key, as
  Unix seconds when its values are whole numbers.
- Unix seconds are an instant unless a sibling key of the same rows gives the time of day (a
  slot "0900-0930", a "09:00") and that time is the seconds' own clock read in UTC on 90 % of
  the rows: then the number is the site's wall clock written as if it were UTC (PHP's
  ``strtotime`` under WordPress, which runs PHP in UTC), and the query turns it into that
  naive date-time, read as the clinic's local time. Reading every such number as an instant
  (rejected) puts a New York clinic's 09:00 visit at 04:00.
- the window: on that wall-clock date-time, on an instant's UTC date-time (the connector's
  window binds then written in UTC: ``window.timezone``), or on the day key (whole days), in
  MariaDB and PostgreSQL; a text date-time and SQLite's text dates are read whole (no bound
  compares them).
- the length: a key written as a time range gives its most common span; else the scorer's
  default, said so.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from clinicsync.sync.discover.metarows import VisitRows, whole_number
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.scoring import DEFAULT_MINUTES

_CLOCK = re.compile(r"^\s*(\d{1,2}):?(\d{2})")


def wall_clock(seconds: str, dialect: str) -> str:
    """Unix seconds as the naive date-time they write in UTC: the site's wall clock."""
    if dialect in ("mysql", "mariadb"):
        return f"TIMESTAMPADD(SECOND, CAST({seconds} AS SIGNED), TIMESTAMP '1970-01-01 00\\:00\\:00')"
    if dialect == "sqlite":
        return f"datetime(CAST({seconds} AS INTEGER), 'unixepoch')"
    return f"(TIMESTAMP '1970-01-01 00\\:00\\:00' + CAST({seconds} AS BIGINT) * INTERVAL '1 second')"


def _clock_of(text: str | None) -> tuple[int, int] | None:
    found = _CLOCK.match(text or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


def written_as_utc(found: VisitRows, key: str) -> str | None:
    """The sibling key whose time of day is the Unix seconds' own clock in UTC on 90 % of the
    rows (the wall clock written as if UTC), or None (the seconds are an instant)."""
    seconds = {o: v for o, v in found.values.get(key, {}).items() if v and whole_number(v)}
    for other in found.keys:
        if other == key or other in found.dated:
            continue
        pairs = [(_clock_of(found.values[other].get(o)), datetime.fromtimestamp(int(v), UTC))
                 for o, v in seconds.items() if o in found.values[other]]
        clocks = [(c, m) for c, m in pairs if c is not None]
        if len(clocks) >= max(3, 0.8 * len(seconds)) and \
                sum(c == (m.hour, m.minute) for c, m in clocks) >= 0.9 * len(clocks):
            return other
    return None


def slot_length(found: VisitRows) -> tuple[int, str] | None:
    """The visits' usual length from a key written as a time range ("0900-0930", "09:00 - 09:30"):
    the most common span; None when no key is one."""
    for key in found.keys:
        spans = []
        for value in found.values[key].values():
            parts = re.fullmatch(r"\s*(\d{1,2}):?(\d{2})\s*-\s*(\d{1,2}):?(\d{2})\s*", value or "")
            if parts:
                a, b, c, d = (int(x) for x in parts.groups())
                spans.append((c * 60 + d) - (a * 60 + b))
        if spans and len(spans) >= 0.8 * len(found.values[key]) and all(0 < x <= 480 for x in spans):
            common = Counter(spans).most_common(1)[0]
            return common[0], (f"{key!r} writes each visit's slot as a time range: {common[0]} minutes on "
                               f"{common[1]} of {len(spans)} sampled visits, taken for all")
    return None


def settle(found: VisitRows, fields: dict[str, dict[str, Any]], guesses: list[Guess], select: dict[str, str],
           keys: dict[str, str], column_values: dict[str, list[str | None]], dialect: str,
           notes: list[str]) -> str | None:
    """The start and the length placed in ``fields`` (``guesses``, ``select`` and ``notes`` kept
    in step); the query's window condition, or None when every row is read."""
    if "start" not in fields and found.dated:
        first = next(o for o, k in keys.items() if k == found.dated[0])
        unix = all(v is None or whole_number(v) for v in column_values[first])
        fields["start"] = {"from": first, **({"type": "unix_seconds"} if unix else {})}
        guesses.append(Guess("start", first, 0.8, f"{found.dated[0]!r}: the type's dated key", fields["start"]))
    start = fields.get("start")
    window = None
    if isinstance(start, dict) and start.get("type") == "unix_seconds" and isinstance(start.get("from"), str):
        key = keys.get(start["from"], "")
        sibling = written_as_utc(found, key)
        if sibling is not None:
            select[start["from"]] = wall_clock(select[start["from"]], dialect)
            fields["start"] = {"from": start["from"]}
            notes.append(f"start: {key!r} is Unix seconds whose clock in UTC is the time {sibling!r} gives on "
                         "every sampled row: the site's wall clock written as if UTC, read as that local time")
        # an instant: its UTC date-time, compared with binds the connector writes in UTC (window.timezone)
        window = select[start["from"]] if sibling is not None else wall_clock(select[start["from"]], dialect)
    elif isinstance(start, dict) and isinstance(start.get("from"), str) and start["from"] in keys:
        window = None  # a text date-time: read whole
    elif isinstance(start, dict) and isinstance(start.get("date"), str) and dialect != "sqlite":
        window = f"CAST({select[start['date']]} AS DATE)"
    condition = None
    if window is not None and dialect != "sqlite":
        bounds = ("CAST(:window_start AS DATE) AND CAST(:window_end AS DATE)" if window.startswith("CAST(")
                  else ":window_start AND :window_end")
        condition = f"{window} BETWEEN {bounds}"
    length = fields.get("duration_minutes")
    if "start" in fields and "end" not in fields and (length is None or set(length) == {"value"}):
        minutes, why = slot_length(found) or (
            DEFAULT_MINUTES, f"no end or duration key: visits are taken as {DEFAULT_MINUTES} minutes; set the "
                             "clinic's usual length")
        fields["duration_minutes"] = {"value": minutes}
        guesses[:] = [g for g in guesses if g.field != "duration_minutes"]
        guesses.append(Guess("duration_minutes", "constant", 0.6, why, fields["duration_minutes"]))
        notes.append(f"duration_minutes: {why}")
    return condition
