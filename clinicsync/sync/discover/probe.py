"""The one shape every discover probe reads the database through: a function from a guarded
SELECT (built by the probe, passed through the connector's SELECT guard by sql_reading.run_checked)
to its rows. Probes take it as a parameter so they can be tried on any connection, and never open
their own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Run = Callable[[str], list[tuple[Any, ...]]]


def value_counts(run: Run, quote: Callable[[str], str], table: str, column: str) -> dict[str, int]:
    """Each value a column holds over the whole table (NULLs aside) with its count, as text: what
    a flag probe reads to tell a 0/1 flag (cancelflags.py, doneflags.py) by all its values."""
    return {str(v): int(n) for v, n in run(f"SELECT {quote(column)}, COUNT(*) FROM {quote(table)} "
                                           f"WHERE {quote(column)} IS NOT NULL GROUP BY {quote(column)}")}
