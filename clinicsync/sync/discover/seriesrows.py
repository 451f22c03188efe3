"""A repeating booking kept as a SERIES ROW and one row per occurrence: the series row holds the
rule (its type, interval, last day) with the first occurrence's start and end, and each
occurrence is a row of its own, with its own start and end, naming the series by a column named
for it (``repeat_id``, ``recurrence_id``, ``series_id``). Room and resource booking systems keep
them so: every booking is an occurrence row, and a weekly one has a series row beside it.

Why: the occurrence rows copy the series row's date columns by name and refer to it, so the rule
for copies (copieddates.py) made them give way to the series row, and discover read the few
series rows (their first starts only) instead of the bookings. Here the reference's own name
says what the referred row is: the series of the referring row, a template whose occurrences are
the visits. So the series row gives way to the rows that name it so; every other copy is left
to copieddates.py.
"""

from __future__ import annotations

from clinicsync.sync.discover.graph import Schema, audit
from clinicsync.sync.discover.stamps import stamp_columns
from clinicsync.sync.discover.vocab import name_tokens

SERIES_WORDS = frozenset({"repeat", "repeats", "recurrence", "recurring", "recur", "series", "rrule"})


def series_of(table: str, schema: Schema, dates: dict[str, list[str]]) -> str | None:
    """The candidate ``table``'s rows are occurrences of: one it refers to by a column named for a
    series, whose date columns include all of ``table``'s own (``dates``: each candidate's)."""
    own = set(dates.get(table, [])) - set(stamp_columns(schema.tables[table]))
    if not own:
        return None
    for ref in schema.refs(table):
        if ref.target == table or ref.target not in dates or audit(ref.column):
            continue
        if set(name_tokens(ref.column)) & SERIES_WORDS and own <= set(dates[ref.target]):
            return ref.target
    return None


def give_way(scored: list[tuple[float, str]], schema: Schema, dates: dict[str, list[str]]) -> list[tuple[float, str]]:
    """``scored`` (score, table) without the series rows whose occurrences are candidates too."""
    candidates = {name: dates.get(name, []) for _, name in scored}
    series = {found for _, name in scored if (found := series_of(name, schema, candidates)) is not None}
    return [(score, name) for score, name in scored if name not in series]
