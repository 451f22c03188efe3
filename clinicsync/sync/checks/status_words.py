"""Status words the mapping does not know, over the whole of a SQL source, not only its window.

`check` reads what a sync reads: the window of visits ahead. A word that only older or later
rows carry (``entered_in_error`` on last month's rows) passes `check` one day and quarantines
visits the next, depending on whether such a row falls in the window that day. So for a SQL
source whose status is one column, `check` also reads that column's distinct words through the
connector's own query with the window opened wide (one ``GROUP BY``, no row read), and lists
those a sync would refuse: neither the status field's own ``map:`` (where it has one) nor the
mapping's ``status_map`` nor the standard statuses know them (``CompiledMapping.status_read``).
A word is shown only when it looks like vocabulary (mappings/model.py ``quoted_status``), never
a value that could be patient data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.connectors.base import Connector
from clinicsync.connectors.sql_session import read_only_connection
from clinicsync.mappings.engine import CompiledMapping
from clinicsync.mappings.model import quoted_status
from clinicsync.sync.ingest.plausibility.finding import Finding
from clinicsync.sync.ingest.plausibility.shape import status_column

_WIDE: dict[str, Any] = {"window_start": datetime(1900, 1, 1), "window_end": datetime(2200, 1, 1), "cursor": None}
MAX_WORDS = 200  # distinct words read; a column with more is no status column
SHOWN = 10  # unknown words named in the finding


def unknown_words(connector: Connector, mapping: CompiledMapping) -> list[Finding]:
    """The finding naming the unknown words with their row counts ([] when all are known, or
    the source is no SQL query, or the read fails: the window's own check still stands)."""
    settings: Any = connector.settings
    column = status_column(mapping.preset)
    engine = getattr(connector, "engine", None)
    if connector.kind != "sql" or column is None or engine is None:
        return []
    quote = engine.dialect.identifier_preparer.quote
    if settings.table:
        source = ".".join(quote(part) for part in str(settings.table).split("."))
        sql, binds = f"SELECT {quote(column)}, COUNT(*) FROM {source} GROUP BY {quote(column)}", {}
    else:
        query = settings.preset.query if settings.preset else settings.query
        if not isinstance(query, str):
            return []
        sql = (f"SELECT q.{quote(column)}, COUNT(*) FROM (\n{query}\n) AS q GROUP BY q.{quote(column)}")
        binds = {k: v for k, v in _WIDE.items() if f":{k}" in query}
    try:
        with read_only_connection(engine, settings.timeout, connector.name) as connection:
            rows = connection.execute(text(sql + f" LIMIT {MAX_WORDS + 1}"), binds).all()
    except SQLAlchemyError:
        return []
    if len(rows) > MAX_WORDS:
        return []
    unknown = sorted(((word, int(count)) for word, count in rows  # as a sync would read each word
                      if word is not None and str(word).strip() and mapping.status_read(str(word)) is None),
                     key=lambda pair: -pair[1])
    if not unknown:
        return []
    named = ", ".join(f"{quoted_status(word)} ({count} row(s))" for word, count in unknown[:SHOWN])
    more = f" and {len(unknown) - SHOWN} more" if len(unknown) > SHOWN else ""
    spec = mapping.preset.fields.get("status")
    where = "under `status: map:` (the field's own map)" if spec is not None and spec.map is not None \
        else "in the mapping's status_map"
    return [Finding("statuses", "warning", "status",
                    f"status: over the whole source, not only the window, `{column}` holds {len(unknown)} word(s) "
                    f"the mapping does not know: {named}{more}. A visit with one is quarantined when it enters the "
                    f"window: give each a status {where}")]
