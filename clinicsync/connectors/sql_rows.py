"""What a fetched row of a SQL source becomes before the mapping reads it: its values made plain,
a JSON column's text read as its object, an iCalendar column's event read as its fields (a
recurring series as its occurrences, each a record), and the row set aside when an event could
not be read. Kept apart from the connector (sql.py), which decides which rows to read and when."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from typing import Any

import orjson

from clinicsync.connectors import ical_text
from clinicsync.connectors.base import Rejected
from clinicsync.connectors.sql_session import plain_value

# Values ``plain_value`` returns as they are: most of a row's, left alone without a call each.
PLAIN_TYPES = frozenset({type(None), str, int, float, datetime, date, time})


def json_text(value: Any) -> Any:
    """A text value holding a JSON object or list, as that object or list (what mapping paths
    walk into); anything else (no JSON, a bare number or word, NULL) as it is."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def row_data(columns: Sequence[str], row: Sequence[Any], mysql: bool,
              json_columns: frozenset[str] = frozenset(), ical_columns: frozenset[str] = frozenset(),
              between: tuple[datetime, datetime] | None = None) -> dict[str, Any]:
    """A result row as the mapping reads it: by column name, each value made plain (``plain_value``),
    the text of a ``json_columns`` column read as its JSON object, that of an ``ical_columns`` column
    as its event's fields (ical_text.py; taken before a blob is made hex, ``ical_text.Unread`` when
    set aside: ``unread_row``; a recurring series' occurrences inside ``between``, an
    ``ical_text.Series``: ``occurrences``).
    An idle poll re-reads its overlap's rows (each dropped by its hash): a call per value
    was most of their cost, and a loop over the values most of what was left: rows of plain
    values alone (the usual) are found so by one call."""
    data = dict(zip(columns, row, strict=True))
    events = {name: data[name] for name in ical_columns if name in data}
    if not PLAIN_TYPES.issuperset(map(type, row)):
        for name, value in data.items():
            if type(value) not in PLAIN_TYPES:
                data[name] = plain_value(value, mysql)
    for name in json_columns:
        if name in data:
            data[name] = json_text(data[name])
    for name, value in events.items():
        data[name] = ical_text.read(name, value, between)
    return data


def occurrences(data: dict[str, Any], ical_columns: frozenset[str],
                series_rows: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    """The records a row gives: itself, or one an occurrence of the recurring series its
    ``ical_columns`` column holds (that column's value the occurrence's fields; none when no
    occurrence falls inside the window). A second series column in the same row is set aside:
    which of the two a record would be is no rule. ``series_rows``: a series kept as one row with
    its rule as text, expanded first (sql_series.py)."""
    if series_rows is not None:
        return [each for row in series_rows(data) for each in occurrences(row, ical_columns)]
    series = [name for name in sorted(ical_columns) if isinstance(data.get(name), ical_text.Series)]
    if not series:
        return [data]
    first, *others = series
    base = {**data, **{n: ical_text.Unread(f"{n}: a second recurring series in the row ({first} is expanded)")
                       for n in others}}
    if others:
        return [base]
    return [{**base, first: occurrence} for occurrence in data[first].occurrences]


def unread_row(data: dict[str, Any], ical_columns: frozenset[str], position: str) -> Rejected | None:
    """The row set aside when an ``ical_columns`` column's event was (its reason names the column;
    the raw row keeps the text as read, as a quarantined record's raw does), else None."""
    for name in sorted(ical_columns):
        value = data.get(name)
        if isinstance(value, ical_text.Unread):
            raw = {k: (v.text if isinstance(v, ical_text.Unread) else v) for k, v in data.items()}
            return Rejected(position, value.reason, raw=orjson.dumps(raw, default=str).decode())
    return None
