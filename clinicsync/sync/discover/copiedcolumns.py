"""A row's columns that copy the row it refers to: ``session_date``, ``session_start_time`` beside
``session_id`` -> ``session`` (``date``, ``start_time``). A booking system keeps a copy of the
list's day and times on each place booked on it, so that a letter or a report reads one row.

Why: read as the row's own, the copied ``session_start_time`` is named a start and outranks the
place's own ``admission_time``: every patient on a morning list started at the list's 08:30 and
ended at its 12:30. A copy is the referred row's value, shared by every row booked on it, so it is
read as that row's (ownclock.py then prefers the row's own time of day, and drops an end that is
the list's).

The rule, from the names only: a column ``<stem>_<col>`` of the row whose reference ``<stem>_id``
(or ``<stem>``) points to a table that has a column ``<col>`` of the same kind (a date or a time
by its type). A row's own stamps are never copies."""

from __future__ import annotations

import re

from clinicsync.sync.discover.graph import Schema, Table, audit

_ID = re.compile(r"^(.+?)_?(id|fk|key)$", re.I)
_KINDS = (re.compile(r"^date$", re.I), re.compile(r"^time", re.I), re.compile(r"datetime|timestamp", re.I))


def _kind(type_name: str) -> int | None:
    """Which of date, time of day, date-time a column's type says; None for anything else."""
    clean = type_name.strip().split("(")[0]
    return next((i for i, k in enumerate(_KINDS) if k.search(clean)), None)


def copied_columns(schema: Schema, table: Table) -> dict[str, str]:
    """The columns of ``table`` that copy a referred row's date or time, each with the table copied."""
    found: dict[str, str] = {}
    for ref in schema.refs(table.name):
        if audit(ref.column) or ref.target == table.name or ref.target not in schema.tables:
            continue
        match = _ID.match(ref.column)
        stem = (match.group(1) if match else ref.column).rstrip("_").lower()
        target = schema.tables[ref.target]
        theirs = {c.lower(): t for c, t in target.columns.items()}
        for column, type_name in table.columns.items():
            low = column.lower()
            if column in found or not low.startswith(stem + "_") or _kind(type_name) is None:
                continue
            copied = theirs.get(low[len(stem) + 1:])
            if copied is not None and _kind(copied) == _kind(type_name):
                found[column] = ref.target
    return found
