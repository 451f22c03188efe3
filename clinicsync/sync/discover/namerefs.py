"""A visit's text column holding another table's unique text, not its key: the PHP hospital apps
name the doctor on the visit by the doctor's login (``appointmenttb.doctor`` = ``doctb.username``),
and ``doctb`` has no key or index at all.

Why: the doctor's email is on that row; without the reference the doctor is only a name, and
calendars and agendas reach nobody by email. valuerefs.py matches identifier-like columns to
keys; this matches the visit's other text columns to any other table's text column whose values
are unique there. A few rows may hold a word that is nobody's login (X2-style ``Anyone``: the whole
practice): nearly every row's value found still makes the reference, its other rows naming no one.

How, kept cheap: only the visit table's own text columns whose name says no attribute (not a
name, phone, email, status …) and whose sampled values are words (no dates, numbers, phones or
emails) are sampled, ``SAMPLE`` distinct values each, plain words only (never quoted text from
the data beyond letters, digits, spaces and ``. _ -``). Each other table's text columns are asked
once which of those values they hold and how often. A column refers to a target column when at
least ``SHARE`` of its distinct values are found there, each on exactly one row. A column matching
more than one target is left alone (the name would have to decide, and here it does not),
unless one of them names the person on its rows and the others are its one-to-one rows
(twinrows.py: a patient's GUID on the patient index and on the patient's sheet).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover import twinrows
from clinicsync.sync.discover.graph import Ref, Schema, Table, audit
from clinicsync.sync.discover.kinds import TEXT
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.values import profile
from clinicsync.sync.discover.vocab import name_tokens, token_role

SHARE = 0.95  # of a column's distinct sampled values, found once each in the target column
SAMPLE = 200  # distinct values read per candidate column
MIN_DISTINCT = 2  # a column with one value matches any table holding it
MAX_TARGETS = 120  # target columns asked
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")  # safe inside '…' and text()
_BOUNDS = ("start", "end")  # roles of a time's bounds
_NOT_WORDS = ("date", "datetime", "time", "integer", "phone", "email", "url", "zone")


def _candidate(table: Table, column: str, known: set[str]) -> bool:
    if column in known or column in table.primary_key or audit(column) or not TEXT.search(table.columns[column]):
        return False
    # a bound's word ('to', 'from': ``assigned_to``) says a time only when the values are times,
    # which the sample leaves out itself (``_NOT_WORDS``)
    return not any(token_role(t) not in (None, *_BOUNDS) for t in name_tokens(column))


def text_references(schema: Schema, run: Run, quote: Callable[[str], str], main: Table,
                    region: str, dialect: str) -> list[Ref]:
    """The visit table's references found by matching its text values to another table's unique
    text column (``declared`` False, ``by_values`` True), to be added with ``Schema.learn``."""
    known = {r.column for r in schema.refs(main.name)}
    samples: dict[str, set[str]] = {}
    weights: dict[str, dict[str, int]] = {}  # per column, its rows per value
    for column in main.columns:
        if not _candidate(main, column, known):
            continue
        rows = run(first_rows(f"SELECT {quote(column)}, COUNT(*) FROM {quote(main.name)} "
                              f"WHERE {quote(column)} IS NOT NULL GROUP BY {quote(column)}", SAMPLE, dialect))
        counted: dict[str, int] = {}
        for value, n in rows:
            if value is not None and str(value).strip():
                counted[str(value).strip()] = counted.get(str(value).strip(), 0) + int(n)
        values = set(counted)
        found = profile(list(values), region)
        if len(values) < MIN_DISTINCT or not all(_PLAIN.fullmatch(v) for v in values) \
                or any(found.share(kind) >= 0.5 for kind in _NOT_WORDS):
            continue
        samples[column] = values
        weights[column] = counted
    if not samples:
        return []
    literals = ", ".join(f"'{v}'" for v in sorted(set().union(*samples.values())))
    matches: dict[str, list[tuple[str, str]]] = {}
    asked = 0
    for target in schema.tables.values():
        if target.name == main.name:
            continue
        for target_column, type_name in target.columns.items():
            if asked >= MAX_TARGETS or not TEXT.search(type_name) or audit(target_column):
                continue
            asked += 1
            rows = run(f"SELECT {quote(target_column)}, COUNT(*) FROM {quote(target.name)} "
                       f"WHERE {quote(target_column)} IN ({literals}) GROUP BY {quote(target_column)}")
            once = {str(v).strip() for v, n in rows if v is not None and int(n) == 1}
            for column, values in samples.items():
                if _refers(values, weights[column], once):
                    matches.setdefault(column, []).append((target.name, target_column))
    out = [Ref(main.name, column, found[0][0], found[0][1], declared=False, by_values=True)
           for column, found in matches.items() if len(found) == 1]
    for column, held in matches.items():  # one person's rows, one to one: the one that names them
        if len(held) > 1:
            out += twinrows.person_of(run, quote, schema, main.name, column, held,
                                      ", ".join(f"'{v}'" for v in sorted(samples[column])))
    return out


def _refers(values: set[str], rows: dict[str, int], once: set[str]) -> bool:
    """Whether a column whose distinct ``values`` fill ``rows`` (per value) refers to a column
    holding ``once`` once each: ``SHARE`` of its distinct values found, or ``SHARE`` of its rows
    with at least half its distinct values found (a user's login on nearly every row, a word for
    everyone or no one, ``Anyone``, on a few: that word is no user's, the others are)."""
    found = [v for v in values if v in once]
    if len(found) >= SHARE * len(values):
        return True
    total = sum(rows.values())
    return len(found) >= max(MIN_DISTINCT, len(values) / 2) and sum(rows[v] for v in found) >= SHARE * total


def learn_text_references(schema: Schema, run: Run, quote: Callable[[str], str], main: Table, region: str,
                          savepoint: Callable[[], AbstractContextManager[Any]], dialect: str) -> None:
    """``text_references`` added to ``schema``, inside ``savepoint``: a column the reads could not
    compare (an odd type) leaves the references found so far as they were."""
    try:
        with savepoint():
            schema.learn(text_references(schema, run, quote, main, region, dialect))
    except SQLAlchemyError:
        pass
