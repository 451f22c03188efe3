"""Our VEVENTs written as RFC 5545 text directly, for the fixed set of properties we emit.

Why not icalendar's ``Event.to_ical()``: building and serializing one event through its
object model costs ~0.7 ms (property objects, parameter dicts, and a folding loop that
encodes every character on its own), which made the .ics stage of a 100,000-row first
import several times the whole import. This writer does the same escaping (TEXT values,
RFC 5545 §3.3.11, in icalendar's order) and folding (§3.1: 75 octets, never between the
bytes of one character nor after a backslash) for our properties only; icalendar still
reads every file (reconcile, adoption) and writes the VTIMEZONEs, and a differential test
checks that both writers give the same event.

Most values need neither escaping nor folding (a summary of a type and initials, a UID,
a time), so each routine first checks for the rare case and otherwise returns its input:
a first import writes ~16 lines per event, and the checks are what most of them cost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache

from clinicsync.common.memo import kept
from clinicsync.common.timeutil import zone

LIMIT = 75  # octets per line before folding, CRLF excluded
_SPECIAL = re.compile(r"[\\;,\r\n]")  # what TEXT escaping changes; a value without any is written as is
_LOCAL_MEMO = 50_000  # formatted local times kept per run (a few MB): appointments share starts and ends
_local: dict[str, dict[datetime, str]] = {}  # per zone, by instant: a lookup by the datetime alone (its hash is
# kept in the object, and a page's equal times are one object), not a (moment, zone) tuple built and hashed
_TWO = [f"{n:02d}" for n in range(100)]  # "00" … "99"
_FOLD_MEMO = 20_000  # folded long lines kept per run
_folded: dict[str, str] = {}


def text(value: str) -> str:
    """A TEXT value escaped as icalendar escapes it."""
    if _SPECIAL.search(value) is None:
        return value
    return (value.replace("\\N", "\n").replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def raw(value: str) -> str:
    """An X- property's value: icalendar writes those unescaped; a line break would end the line."""
    if "\n" not in value and "\r" not in value:
        return value
    return value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def utc_stamp(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%S}Z"


@lru_cache(maxsize=256)
def tzid_for(zone_name: str) -> str | None:
    """What icalendar puts in TZID for this zone; None for UTC (the Z form: no VTIMEZONE)."""
    from icalendar.timezone.tzid import tzid_from_tzinfo  # ~0.3 s: only a run that writes an event pays it

    tzid = tzid_from_tzinfo(zone(zone_name)) or zone_name
    return None if tzid == "UTC" else tzid


def local_time(name: str, moment: datetime, zone_name: str) -> str:
    """``DTSTART;TZID=America/New_York:20270104T080000`` (or ``…:…Z`` for UTC)."""
    tzid = tzid_for(zone_name)
    if tzid is None:
        return f"{name}:{utc_stamp(moment)}"
    return f"{name};TZID={tzid}:{wall_time(moment, zone_name)}"


def wall_time(moment: datetime, zone_name: str) -> str:
    """``20270104T080000``: ``moment`` on the zone's wall clock. The UTC offset is placed once
    per instant and zone (a practice's appointments share their starts and ends)."""
    memo = local_times(zone_name)
    found = memo.get(moment)
    if found is None:
        local = moment.astimezone(zone(zone_name))
        if local.year < 1000:  # strftime's own %Y there (unpadded on glibc)
            found = f"{local:%Y%m%dT%H%M%S}"
        else:  # two digits from a table: a ``:02d`` format spec cost ~1,600 instructions, five per time
            two = _TWO
            found = (f"{local.year}{two[local.month]}{two[local.day]}"
                     f"T{two[local.hour]}{two[local.minute]}{two[local.second]}")
        kept(memo, moment, found, _LOCAL_MEMO)
    return found


def local_times(zone_name: str) -> dict[datetime, str]:
    """The zone's remembered wall times (:func:`wall_time`), by instant: a caller that writes
    many looks each up here first and calls :func:`wall_time` on a miss only."""
    memo = _local.get(zone_name)
    if memo is None:
        memo = _local[zone_name] = {}
    return memo


def fold(line: str) -> str:
    """RFC 5545 folding: a line longer than 75 octets continues on lines starting with a space."""
    if line.isascii():
        return _fold_ascii(line)
    out: list[str] = []
    current: list[str] = []
    count = 0
    for char in line:
        size = len(char.encode("utf-8"))
        if current and count + size >= LIMIT:
            if len(current) > 1 and current[-1] in "\\^":  # keep an escape with what it escapes
                carried = current.pop()
                out.append("".join(current))
                current, count = [carried], len(carried.encode("utf-8"))
            else:
                out.append("".join(current))
                current, count = [], 0
        current.append(char)
        count += size
    if current:
        out.append("".join(current))
    return "\r\n ".join(out)


def _fold_ascii(line: str) -> str:
    """:func:`fold` for one-byte characters: 74 per line (a continuation's space makes 75)."""
    if len(line) < LIMIT:
        return line
    out, begin, width = [], 0, LIMIT - 1
    while len(line) - begin > width:
        cut = begin + width
        if line[cut - 1] in "\\^" and cut - 1 > begin:  # keep an escape with what it escapes
            cut -= 1
        out.append(line[begin:cut])
        begin = cut
    out.append(line[begin:])
    return "\r\n ".join(out)


def folded(line: str) -> str:
    """:func:`fold`, remembered per line for the run: a long line is most often a description
    that many events share (the default one differs only in the type and the initials)."""
    found = _folded.get(line)
    if found is None:
        found = kept(_folded, line, fold(line), _FOLD_MEMO)
    return found


def line(value: str) -> str:
    """A content line as :func:`vevent` writes it: a short ASCII line as it is, else folded."""
    return value if len(value) < LIMIT and value.isascii() else folded(value)


_PROP_MEMO = 20_000  # written property lines kept per run and name
_props: dict[str, dict[str, str]] = {}  # per name, by value: a str's hash is kept in it, a tuple's is not


def prop(name: str, value: str) -> str:
    """``NAME:value`` with ``value`` TEXT-escaped, as :func:`line` writes it, remembered per
    name and value for the run: summaries, descriptions and places repeat across events."""
    memo = props(name)
    found = memo.get(value)
    if found is None:
        found = kept(memo, value, line(f"{name}:{text(value)}"), _PROP_MEMO)
    return found


def props(name: str) -> dict[str, str]:
    """The property's remembered lines (:func:`prop`), by value: a caller that writes many looks
    each up here first and calls :func:`prop` on a miss only."""
    memo = _props.get(name)
    if memo is None:
        memo = _props[name] = {}
    return memo


def vevent(lines: Iterable[str]) -> str:
    """``BEGIN:VEVENT``, the content lines folded, ``END:VEVENT``, each ending in CRLF. A short
    ASCII line (most of them) is taken as it is without a call."""
    return "\r\n".join(["BEGIN:VEVENT", *[line if len(line) < LIMIT and line.isascii() else folded(line)
                                            for line in lines], "END:VEVENT", ""])
