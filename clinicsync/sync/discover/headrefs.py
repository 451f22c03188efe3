"""A visit's whole-number column named by the first letters of another table's name, no id word:
``Op`` holding the key of ``operatory`` (the chair the visit is in), ``Rm`` of ``rmlist``.

Why: with no declared foreign key, references are found by a name that says a table (``…_id``,
a table's word) or by values named as identifiers (valuerefs.py); a bare abbreviation says
neither, and a handful of small numbers (four chairs) are the keys of every table, so the value
match alone cannot decide. Left unfollowed, the visit's room or chair is a number and no place.

How: only the visit table's own whole-number columns whose name is one word of two letters or
more that no role knows, the beginning of exactly one table's name (longer than it); their
distinct values (two or more, zero aside: "none" in products that keep 0 for no reference) must
all be keys of that table. The name and the values together decide; neither alone does.

Rejected: any table whose name merely contains the word ('op' in 'shop'), and the abbreviation
matched to a table's later word: the head of a name is where an abbreviation starts.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.graph import Ref, Schema, Table, audit
from clinicsync.sync.discover.kinds import WHOLE
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.vocab import name_tokens, token_role

SAMPLE = 500  # rows read per candidate column
MIN_DISTINCT = 2  # distinct non-zero values: one value is the key of any table


def _word(table: Table, column: str, known: set[str]) -> str | None:
    """The abbreviation ``column`` is, when it may be one: a whole number, one word no role knows."""
    if column in known or column in table.primary_key or audit(column) or not WHOLE.search(table.columns[column]):
        return None
    tokens = name_tokens(column)
    if len(tokens) != 1 or len(tokens[0]) < 2 or not tokens[0].isalpha() or token_role(tokens[0]) is not None:
        return None
    return tokens[0]


def _headed(schema: Schema, word: str, main: Table) -> Table | None:
    """The one keyed table whose name begins with ``word`` and is longer; None for none or several."""
    found = [t for t in schema.tables.values() if t.name != main.name and t.key is not None
             and t.name.lower().startswith(word) and len(t.name) > len(word)]
    return found[0] if len(found) == 1 else None


def head_references(schema: Schema, run: Run, quote: Callable[[str], str], main: Table, dialect: str) -> list[Ref]:
    """The visit table's references by an abbreviated name and its values (``declared`` False,
    ``by_values`` True), to be added with ``Schema.learn``."""
    known = {r.column for r in schema.refs(main.name)}
    out = []
    for column in main.columns:
        word = _word(main, column, known)
        target = _headed(schema, word, main) if word is not None else None
        if target is None or target.key is None or not WHOLE.search(target.columns[target.key]):
            continue
        rows = run(first_rows(f"SELECT DISTINCT {quote(column)} FROM {quote(main.name)} "
                              f"WHERE {quote(column)} IS NOT NULL AND {quote(column)} <> 0", SAMPLE, dialect))
        values = {int(r[0]) for r in rows if r[0] is not None}
        if len(values) < MIN_DISTINCT:
            continue
        literals = ", ".join(str(v) for v in sorted(values))
        found = {int(r[0]) for r in run(f"SELECT {quote(target.key)} FROM {quote(target.name)} "
                                        f"WHERE {quote(target.key)} IN ({literals})")}
        if values <= found:
            out.append(Ref(main.name, column, target.name, target.key, declared=False, by_values=True))
    return out


def learn_head_references(schema: Schema, run: Run, quote: Callable[[str], str], main: Table,
                          savepoint: Callable[[], AbstractContextManager[Any]], dialect: str) -> None:
    """``head_references`` added to ``schema``, inside ``savepoint``: a read the database refuses
    leaves the references as they were."""
    try:
        with savepoint():
            schema.learn(head_references(schema, run, quote, main, dialect))
    except SQLAlchemyError:
        pass
