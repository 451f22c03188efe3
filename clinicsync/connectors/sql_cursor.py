"""A SQL source's incremental cursor: its stored value by type (``encode_cursor_value`` /
``decode_cursor_value``), where the next read starts (``overlap_start``: the overlap, and the hour
repeated when clocks go back), and which rows the stored cursor says were already read
(``known_rows``), so the connector drops them before the store or the quarantine sees them.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from clinicsync.connectors.base import Cursor, FatalConnectorError

_CURSOR_TYPES: dict[str, type] = {"int": int, "str": str, "float": float, "datetime": datetime, "date": date}


def encode_cursor_value(value: Any) -> tuple[str, Any]:
    """A cursor value as (type tag, JSON value); the tag restores it exactly."""
    if isinstance(value, datetime):
        return "datetime", value.isoformat()
    if isinstance(value, date):
        return "date", value.isoformat()
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return type(value).__name__, value
    raise FatalConnectorError(f"cursor_column values of type {type(value).__name__} are not supported; "
                              "use a date-time, date, integer or text column")


def decode_cursor_value(tag: str, value: Any) -> Any:
    if tag == "datetime":
        return datetime.fromisoformat(value)
    if tag == "date":
        return date.fromisoformat(value)
    return _CURSOR_TYPES[tag](value)


def stored_boundary(cursor: Cursor | None, column_name: str | None) -> Any:
    """The stored cursor value, or None on a first run (or after cursor_column changed)."""
    if not cursor or column_name is None or cursor.get("column") != column_name:
        return None
    return decode_cursor_value(cursor["type"], cursor["value"])


# A text column of ISO date-times (SQLite has no date-time type): compared as text, so the
# overlap's start is written back in the value's own shape.
_TEXT_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}([ T])\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6})?")
_TIMESPEC = {0: "seconds", 4: "milliseconds", 7: "microseconds"}


def repeated(wall: datetime, source_zone: ZoneInfo) -> timedelta:
    """How long the clock went back around the naive wall time ``wall``: nothing, unless
    ``wall`` lies in the hour repeated when clocks go back (an ambiguous wall time, read both
    ways: fold=0 the first pass, fold=1 the second). Rows changed after the clock went back
    are stamped from the start of that hour again, so a cursor inside it must re-read that
    far; a cursor before it has nothing below it to miss, one after it is past it, and a wall
    time the spring change skipped repeats nothing. It depends on the value alone, not on
    when it is read: the read and the hashes kept for it (``SqlConnector._cursor``) agree."""
    first = wall.replace(tzinfo=source_zone, fold=0).utcoffset()
    second = wall.replace(tzinfo=source_zone, fold=1).utcoffset()
    assert first is not None and second is not None
    return max(first - second, timedelta(0))


def overlap_start(value: Any, overlap: timedelta, source_zone: ZoneInfo) -> Any:
    """Where a read after the cursor value ``value`` starts (``>=``): an aware date-time minus
    the overlap; a naive one (wall clock in ``source_zone``) minus the overlap and, inside the
    hour repeated when clocks go back, that hour (``repeated``); a date minus one day; a text
    ISO date-time as a naive one, in its own format. Integers and other text cannot be re-read
    by time: ``value`` itself. No overlap (0): ``value``, the clock change included."""
    if overlap <= timedelta(0):
        return value
    try:
        if isinstance(value, datetime):
            if value.tzinfo is not None and value.utcoffset() is not None:
                return value - overlap
            return value - overlap - repeated(value, source_zone)
        if isinstance(value, date):
            return value - timedelta(days=1)
        if isinstance(value, str) and (shape := _TEXT_DATETIME.fullmatch(value)):
            start = overlap_start(datetime.fromisoformat(value), overlap, source_zone)
            return start.isoformat(sep=shape.group(1), timespec=_TIMESPEC[len(shape.group(2) or "")])
    except OverflowError:  # a value near year 1: read from the start
        if isinstance(value, datetime):
            return datetime.min.replace(tzinfo=value.tzinfo)
        return date.min if isinstance(value, date) else value
    return value


def rereads_by_time(value: Any) -> bool:
    """Can a read start an overlap before this cursor value (a date-time or date)?"""
    return isinstance(value, date) or (isinstance(value, str) and _TEXT_DATETIME.fullmatch(value) is not None)


def known_rows(cursor: Cursor | None, boundary: Any) -> list[tuple[Any, str]]:
    """The (value, content hash) of the rows the stored cursor says were read at or after the
    next read's start: at the stored value (``seen``) and before it (``recent``)."""
    if cursor is None or boundary is None:
        return []
    known = [(boundary, digest) for digest in cursor.get("seen", [])]
    known += [(decode_cursor_value(cursor["type"], value), digest) for value, digest in cursor.get("recent", [])]
    return known
