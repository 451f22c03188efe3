"""Placing an unknown source's columns on the mapping's fields, by name, type and sample
values (issue 34: "unknown schemas by their shape"). Used by every discoverer that meets a
table-like shape it does not recognize: a SQL table or join, a CSV export's header.

THE CONTRACT (``ColumnSample`` in, ``Scored`` out) is shared: the SQL discoverer calls
``score_columns`` for a schema no known product matches; the CSV discoverer for every file.
The body below is the first, exact-name-only version; the scoring helper replaces it with
the real one (names in several languages, types, value classes, status vocabularies).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from clinicsync.sync.discover.proposal import Guess, StatusWord


@dataclass(frozen=True)
class ColumnSample:
    """One column as a discoverer saw it: its name, its declared type when the source has one
    (a SQL type's name, e.g. "DATETIME", "VARCHAR(20)"; None for CSV), and sampled values as
    text (None for SQL NULL / an empty CSV cell). ``table`` names where it lives when a
    proposal joins several tables (e.g. "patients"), else None."""

    name: str
    type: str | None
    values: Sequence[str | None]
    table: str | None = None


@dataclass
class Scored:
    """The best column for each mapping field it could place (at most one per field), the
    status column's distinct words, and the columns no field took."""

    guesses: list[Guess] = dataclasses.field(default_factory=list)
    status_words: list[StatusWord] = dataclasses.field(default_factory=list)
    unplaced: list[str] = dataclasses.field(default_factory=list)


_EXACT = {"id": "external_id", "start": "start", "end": "end", "status": "status", "type": "type",
          "location": "location", "phone": "patient.phone", "email": "patient.email"}


def score_columns(columns: Sequence[ColumnSample]) -> Scored:
    """Place each column on a mapping field (see the module docstring: exact names only, for now)."""
    scored = Scored()
    taken: set[str] = set()
    for column in columns:
        target = _EXACT.get(column.name.lower())
        if target is None or target in taken:
            scored.unplaced.append(column.name)
            continue
        taken.add(target)
        scored.guesses.append(Guess(target, column.name, 0.5, f"column named {column.name!r}", {"from": column.name}))
        if target == "status":
            counts = Counter(v for v in column.values if v)
            scored.status_words.extend(StatusWord(v, None, n, 0.0) for v, n in counts.most_common())
    return scored
