"""Rows of the visit table that are a series' model, not a visit: a flag column named for a
template (``template``, ``is_template``) true on a few rows. A product that repeats its meetings
keeps one row as the model each occurrence is copied from, with the series' first time in it.

Why: read as a visit, the model came in beside its own first occurrence, at the same time, a
second visit of the same people (and was reminded twice).

How: a boolean, 0/1 number or yes/no text column (no other value: a template's id is no flag)
of the visit's own row whose name is only the word template (``is`` before it allowed), true on
at least one row and on fewer than half of them (a flag true on most rows would say the table is
of templates: no rule then). Its rows are left out of the query by softdelete.py's condition
writer (as a deleted row), with a note of counts.
"""

from __future__ import annotations

from collections.abc import Callable

from clinicsync.sync.discover import softdelete
from clinicsync.sync.discover.graph import Table
from clinicsync.sync.discover.kinds import TEXT, WHOLE
from clinicsync.sync.discover.probe import Run, value_counts
from clinicsync.sync.discover.vocab import name_tokens

_NAMES = (["template"], ["is", "template"])
# the values of a 0/1 number or a yes/no text flag (a number column holding ids is no flag)
_FLAG_VALUES = frozenset({"0", "1", "Y", "N", "y", "n", "true", "false", "TRUE", "FALSE", "t", "f", "T", "F"})


def left_out(run: Run, quote: Callable[[str], str], main: Table, dialect: str) -> tuple[str, str, str] | None:
    """(the condition keeping the visit rows that are no template, on alias ``a``; the column;
    a note with the counts), or None when the visit table has no such flag."""
    for column, type_name in main.columns.items():
        if name_tokens(column) not in _NAMES:
            continue
        boolean = "BOOL" in type_name.upper()
        text = bool(TEXT.search(type_name)) and not boolean
        if not (boolean or text or WHOLE.search(type_name)):
            continue
        if not boolean and not set(value_counts(run, quote, main.name, column)) <= _FLAG_VALUES:
            continue  # a template's id or name, no flag
        flag = softdelete.Flag(column, "gone", boolean and dialect == "postgresql", text)
        kept = softdelete.kept(flag, "a", quote(column))
        total, standing = run(f"SELECT COUNT(*), COUNT(CASE WHEN {kept} THEN 1 END) "
                              f"FROM {quote(main.name)} AS a")[0]
        total, models = int(total or 0), int(total or 0) - int(standing or 0)
        if not 0 < 2 * models < total:
            continue
        return kept, column, (f"{models} of {total} rows have {column!r} true: a series' template (the model its "
                              "occurrences are copied from), no visit: left out of the query")
    return None
