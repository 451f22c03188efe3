"""A visit's identity when its table declares no one-column primary key: the column, or the two
columns read together, proven unique over the sampled rows and then over the whole table.

Why it matters: the id is how a later run knows a visit it has seen. A column with repeats (a
start time two doctors share, a patient's name) merges different visits into one, so a visit
is silently lost; a time also changes when the visit moves, so a moved visit becomes a new one.
A table without a primary key (a hospital system keeps a server id and an object id per row)
is identified by the pair, joined by the mapping's ``concat`` (the values with a space).

Every candidate is tried on the sample first (free), then over the table with one GROUP BY
statement (the table's rows with a repeated value, or any NULL): discover reads the table once
more per candidate it keeps, at most a handful.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from clinicsync.sync.discover.graph import Table
from clinicsync.sync.discover.vocab import name_tokens, token_role

_TIME_TYPES = re.compile(r"date|time|interval|float|double|real|bool|blob|bytea|json", re.I)
_NOT_IDS = frozenset({"name", "first_name", "last_name", "start", "end", "date", "time", "updated", "created",
                      "status", "phone", "email", "duration", "type", "location", "zone", "language", "channel",
                      "answer", "link", "visit_mode"})
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}|^\d{1,2}:\d{2}")
MAX_TRIED = 6  # candidates checked over the whole table


@dataclass(frozen=True)
class Identity:
    """The id's columns (one, or two read together) and what proved it, or why none was found."""

    columns: tuple[str, ...]
    why: str


def _id_like(column: str, type_name: str, values: Sequence[Any]) -> bool:
    """Whether a column may identify a row at all: not a time, a name, a word of the visit's own
    (a status, a phone) nor a type that holds no identity (a float, a flag)."""
    if _TIME_TYPES.search(type_name):
        return False
    roles = {token_role(t) for t in name_tokens(column)}
    if roles & _NOT_IDS and "id" not in roles:
        return False
    present = [str(v) for v in values if v is not None]
    return not any(_ISO_TIME.match(v) for v in present)


def _unique_in_sample(values: Sequence[tuple[Any, ...]]) -> bool:
    return bool(values) and all(None not in v for v in values) and len(set(values)) == len(values)


def repeats_over_table(run: Callable[[str], list[tuple[Any, ...]]], table: Table, quote: Callable[[str], str],
                        columns: Sequence[str]) -> int | None:
    """How many values (or pairs) repeat, or are NULL, over the whole table: 0 proves the id;
    None when the database would not answer (``run`` gives no row: a table too big for the
    statement timeout), so the sample alone speaks."""
    cols = ", ".join(quote(c) for c in columns)
    nulls = " OR ".join(f"{quote(c)} IS NULL" for c in columns)
    name = quote(table.name)
    repeated = run(f"SELECT COUNT(*) FROM (SELECT {cols} FROM {name} GROUP BY {cols} HAVING COUNT(*) > 1) AS r")
    missing = run(f"SELECT COUNT(*) FROM {name} WHERE {nulls}")
    if not repeated or not missing:
        return None
    return int(repeated[0][0]) + int(missing[0][0])


def _within_key(run: Callable[[str], list[tuple[Any, ...]]], table: Table, quote: Callable[[str], str],
                sample: dict[str, list[Any]]) -> Identity:
    """A declared composite key, unless it holds a time: PostgreSQL makes a partitioned table's
    key carry its partition column (``PRIMARY KEY (id, starts_at)``), and a key read with the
    start changes when the visit moves, so the moved visit would come in as a new one. Then a
    column of the key that is id-like and unique over the sample and the whole table is the id
    alone; without one, the key stands and the reason says what a move will do."""
    key = tuple(table.primary_key)
    timed = [c for c in key if not _id_like(c, table.columns.get(c, ""), sample.get(c, []))]
    if not timed:
        return Identity(key, "the table's primary key, its columns read together")
    holds = f"the primary key ({', '.join(key)}) holds {', '.join(map(repr, timed))}, which changes when a visit moves"
    for column in (c for c in key if c not in timed and c in sample):
        rows = [(v,) for v in sample[column]]
        if _unique_in_sample(rows) and repeats_over_table(run, table, quote, (column,)) == 0:
            return Identity((column,), f"{holds}: {column!r} alone is unique over the {len(rows)} sampled rows and "
                                       "the whole table")
    return Identity(key, f"{holds}, and no other column of it is unique alone: the key's columns read together "
                         "(a moved visit will come in as a new one)")


def find_identity(run: Callable[[str], list[tuple[Any, ...]]], table: Table, quote: Callable[[str], str],
                  sample: dict[str, list[Any]], preferred: Sequence[str] = (),
                  references: Collection[str] = ()) -> Identity | None:
    """The visit's id for a table without a one-column primary key: its declared composite key
    (or the id-like part of one that holds a time), else ``preferred`` (the scorer's reading) or
    any id-like column unique over the sample and the table, else the first such pair; None when
    nothing is unique (the caller says so).
    ``references``: the table's columns that name another row (a patient, a user): never part of
    the visit's id (a patient's id beside an object id is unique by chance and changes with the
    patient), nor is a column empty on a sampled row."""
    if len(table.primary_key) > 1:
        return _within_key(run, table, quote, sample)
    usable = [c for c in table.columns if c in sample and c not in references and None not in sample[c]
              and _id_like(c, table.columns[c], sample[c])]
    usable.sort(key=lambda c: (c not in preferred, "id" not in {token_role(t) for t in name_tokens(c)}))
    singles: list[tuple[str, ...]] = [(c,) for c in usable]
    pairs: list[tuple[str, ...]] = list(combinations(usable[:6], 2))
    tried = 0
    for group in (singles, pairs):
        for columns in group:
            rows = list(zip(*(sample[c] for c in columns), strict=True))
            if not _unique_in_sample(rows):
                continue
            tried += 1
            repeats = repeats_over_table(run, table, quote, columns)
            if repeats == 0 or repeats is None:
                columns = tuple(sorted(columns, key=list(table.columns).index))  # as the table orders them
                what = "column" if len(columns) == 1 else "columns read together"
                over = "and the whole table" if repeats == 0 else "(the whole table could not be counted in time)"
                return Identity(columns, f"no primary key: the {what} {', '.join(map(repr, columns))} "
                                         f"unique over the {len(rows)} sampled rows {over}")
            if tried >= MAX_TRIED:
                return None
    return None
