"""Status words the mapping does not know, over the whole of a SQL source, not only its window.

`check` reads what a sync reads: the window of visits ahead. A word that only older or later
rows carry (``entered_in_error`` on last month's rows) passes `check` one day and quarantines
visits the next, depending on whether such a row falls in the window that day. So for a SQL
source whose status is one column, `check` also reads that column's distinct words through the
connector's own query with the window opened wide (one ``GROUP BY``, no row read), and lists
those a sync would refuse: neither the status field's own ``map:`` (where it has one) nor the
mapping's ``status_map`` nor the standard statuses know them (``CompiledMapping.status_read``).
A word is shown only when it looks like vocabulary (mappings/model.py ``quoted_status``: a
status's shape, or a word's shape repeated on ``VOCABULARY_ROWS`` rows), never a value that
could be patient data.

Every form of the source is read whole: a ``table:`` directly; a query with its window binds
opened wide and, when it reads past its own ``:cursor`` (an incremental read), with the cursor
bound to the earliest value of its kind (``_earliest``). A sync reads a row from before its
first cursor as soon as the row changes, so its word matters as much as any other; and the
query's cursor filter cannot be taken out of its text, so the earliest value is what opens it.
Bound to nothing (NULL), ``updated_at >= :cursor`` matched no row and no word was read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.connectors.base import Connector
from clinicsync.connectors.sql_limit import first_rows
from clinicsync.connectors.sql_session import read_only_connection
from clinicsync.mappings.engine import CompiledMapping
from clinicsync.mappings.model import quoted_status
from clinicsync.sync.ingest.plausibility.finding import Finding
from clinicsync.sync.ingest.plausibility.shape import status_column

_EARLIEST_TIME = datetime(1900, 1, 1)  # within every server's date-time range (SQL Server's smalldatetime starts here)
_WIDE: dict[str, Any] = {"window_start": _EARLIEST_TIME, "window_end": datetime(2200, 1, 1)}
_EARLIEST_NUMBER = -(2 ** 63)  # the least BIGINT: below any id or version number a cursor counts
MAX_WORDS = 200  # distinct words read; a column with more is no status column
SHOWN = 10  # unknown words named in the finding


def _earliest(initial: str | int | None) -> Any:
    """The least value a ``:cursor`` of the kind ``initial_cursor`` shows can hold, so that
    ``column >= :cursor`` (or ``>``) keeps every row: a number for a number (or a string of
    digits), a date-time for a date or date-time, else the empty string (the least text)."""
    if isinstance(initial, int):
        return _EARLIEST_NUMBER
    value = str(initial or "").strip()
    if not value:  # no initial_cursor: a sync refuses the query anyway; most cursors are times
        return _EARLIEST_TIME
    if value.lstrip("+-").isdigit():
        return _EARLIEST_NUMBER
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return ""
    return _EARLIEST_TIME


def opened_wide(settings: Any, quote: Callable[[str], str]) -> tuple[str, dict[str, Any]] | None:
    """The SQL source's read over all its rows, with its binds: a ``table:`` whole, a query with
    its window (and cursor) binds opened wide; None when it has neither."""
    if settings.table:
        return f"SELECT * FROM {'.'.join(quote(part) for part in str(settings.table).split('.'))}", {}
    query = settings.preset.query if settings.preset else settings.query
    if not isinstance(query, str):
        return None
    wide = {**_WIDE, "cursor": _earliest(settings.initial_cursor)}
    return query, {k: v for k, v in wide.items() if f":{k}" in query}


def unknown_words(connector: Connector, mapping: CompiledMapping) -> list[Finding]:
    """The finding naming the unknown words with their row counts ([] when all are known, or
    the source is no SQL query, or the read fails: the window's own check still stands)."""
    settings: Any = connector.settings
    column = status_column(mapping.preset)
    engine = getattr(connector, "engine", None)
    if connector.kind != "sql" or column is None or engine is None:
        return []
    quote = engine.dialect.identifier_preparer.quote
    read = opened_wide(settings, quote)
    if read is None:
        return []
    source, binds = read
    sql = f"SELECT q.{quote(column)}, COUNT(*) FROM (\n{source}\n) AS q GROUP BY q.{quote(column)}"
    try:
        with read_only_connection(engine, settings.timeout, connector.name) as connection:
            rows = connection.execute(text(first_rows(sql, MAX_WORDS + 1, engine.dialect.name)), binds).all()
    except SQLAlchemyError:
        return []
    if len(rows) > MAX_WORDS:
        return []
    unknown = sorted(((word, int(count)) for word, count in rows  # as a sync would read each word
                      if word is not None and str(word).strip() and mapping.status_read(str(word)) is None),
                     key=lambda pair: -pair[1])
    if not unknown:
        return []
    named = ", ".join(f"{quoted_status(word, count)} ({count} row(s))" for word, count in unknown[:SHOWN])
    more = f" and {len(unknown) - SHOWN} more" if len(unknown) > SHOWN else ""
    spec = mapping.preset.fields.get("status")
    where = "under `status: map:` (the field's own map)" if spec is not None and spec.map is not None \
        else "in the mapping's status_map"
    return [Finding("statuses", "warning", "status",
                    f"status: over the whole source, not only the window, `{column}` holds {len(unknown)} word(s) "
                    f"the mapping does not know: {named}{more}. A visit with one is quarantined when it enters the "
                    f"window: give each a status {where}")]
