"""Participant rows whose person column holds the keys of different tables, told apart by a
short type code on the same row: a calendar's participants (``user_type`` 'u' an account, 'c' an
address-book contact, 'r' a resource; ``user_id`` the key, often as text), as groupware keeps
them, with no foreign key and no table name among the type's values.

Why: the id column holds an account's key on one row and a contact's on the next, so as a whole
it refers to no one table (or, where the numbers overlap, to the wrong one on half its rows), and
the code names no table (polyrefs.py reads types that do). Without it the visit reaches no
patient. Read from the values, per type: the type's distinct ids, sampled, are (at least
``SHARE`` of them) keys of a person table (one with name columns). Of the types so matched, the
patient's is the one with the most distinct persons, each on few rows; a type whose few persons
each take part in many visits (more than ``FEW`` rows a person: the staff, the organizer) is
never the patient's. The reference learned holds on the rows of that type only
(``Ref.typed``): the first participant row read for the patient is one of that type.
Rejected: matching the whole column (accounts and contacts are both numbered 1, 2, 3 …).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.graph import Ref, Schema, Table, audit, words
from clinicsync.sync.discover.kinds import TEXT, WHOLE, name_columns
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.rolelevels import FEW
from clinicsync.sync.discover.typedlinks import literal

SHARE = 0.95  # of a type's distinct sampled ids found as the person table's keys
MAX_TYPES = 12  # distinct values of a type column: more is no type
MIN_IDS = 3  # distinct ids a type needs before its table is believed
DISTINCT = 40  # distinct ids sampled per type
_TYPE_WORDS = frozenset({"type", "kind", "class"})
_ID_WORDS = frozenset({"id", "uid", "ref", "key"})
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_NUMBER = re.compile(r"-?[0-9]{1,18}")


def _pairs(table: Table, known: set[str]) -> list[tuple[str, str]]:
    """(type column, id column) of a row: the two named for the same thing (``user_type`` and
    ``user_id``), the id column no reference yet, the type a short text or a whole number."""
    out = []
    for type_column, type_name in table.columns.items():
        said = words(type_column) - _TYPE_WORDS
        if not words(type_column) & _TYPE_WORDS or not said or not (TEXT.search(type_name) or WHOLE.search(type_name)):
            continue
        for column, column_type in table.columns.items():
            if column in known or column == type_column or column in table.primary_key or audit(column):
                continue
            if words(column) & _ID_WORDS and said <= words(column) and (TEXT.search(column_type)
                                                                        or WHOLE.search(column_type)):
                out.append((type_column, column))
    return out


def typed_references(schema: Schema, run: Run, quote: Callable[[str], str], dialect: str,
                     mixed: bool = False) -> list[Ref]:
    """The patient's typed references (``Ref.typed`` set), to be added with ``Schema.learn``:
    at most one a participant table. ``mixed``: as valuerefs.value_references' (a text id
    compared with a whole-number key by the database itself, else the join writes the key as text)."""
    q = quote
    persons = [t for t in schema.tables.values() if t.key is not None and name_columns(t)[0]]
    out: list[Ref] = []
    for table in list(schema.tables.values()):
        known = {r.column for r in schema.refs(table.name)}
        if not known:  # a participant row names the visit it belongs to
            continue
        for type_column, column in _pairs(table, known):
            parents = {r.target for r in schema.refs(table.name)}  # the event a row belongs to is no one
            found = _patients_type(schema, run, q, dialect, table, type_column, column,
                                   [p for p in persons if p.name != table.name and p.name not in parents])
            if found is not None:
                target, value = found
                as_text = not mixed and bool(TEXT.search(table.columns[column])) and \
                    bool(WHOLE.search(target.columns[str(target.key)]))
                out.append(Ref(table.name, column, target.name, str(target.key), declared=False, by_values=True,
                               as_text=as_text, typed=(type_column, value)))
                break
    return out


def _patients_type(schema: Schema, run: Run, q: Callable[[str], str], dialect: str, table: Table,
                   type_column: str, column: str, persons: list[Table]) -> tuple[Table, str] | None:
    """(the person table, the type's SQL literal) of the patients' type, or None."""
    counts = run(f"SELECT {q(type_column)}, COUNT(*), COUNT(DISTINCT {q(column)}) FROM {q(table.name)} "
                 f"WHERE {q(type_column)} IS NOT NULL GROUP BY {q(type_column)}")
    if not 1 < len(counts) <= MAX_TYPES:
        return None
    matched: list[tuple[int, str, Table]] = []  # (distinct persons, literal, table)
    for value, rows, distinct in counts:
        written = str(value) if isinstance(value, int) else literal(value)
        if written is None or int(distinct) < MIN_IDS or int(rows) > FEW * int(distinct):
            continue  # too few to tell, or a handful of persons on many rows: staff
        sampled = run(first_rows(f"SELECT DISTINCT {q(column)} FROM {q(table.name)} WHERE {q(type_column)} = "
                                 f"{written} AND {q(column)} IS NOT NULL", DISTINCT, dialect))
        ids = {str(r[0]).strip() for r in sampled if r[0] is not None}
        if len(ids) < MIN_IDS or not all(_PLAIN.fullmatch(i) for i in ids):
            continue
        holders = [p for p in persons if _holds(run, q, p, ids)]
        if len(holders) == 1:
            matched.append((int(distinct), written, holders[0]))
    if not matched:
        return None
    _, written, target = max(matched, key=lambda m: m[0])
    return target, written


def _holds(run: Run, q: Callable[[str], str], person: Table, ids: set[str]) -> bool:
    """Whether ``person``'s keys hold at least ``SHARE`` of ``ids``."""
    key = str(person.key)
    whole = bool(WHOLE.search(person.columns[key]))
    if whole and not all(_NUMBER.fullmatch(i) for i in ids):
        return False
    literals = ", ".join(i if whole else f"'{i}'" for i in sorted(ids))
    found = {str(r[0]).strip() for r in run(f"SELECT {q(key)} FROM {q(person.name)} WHERE {q(key)} IN ({literals})")}
    return len(ids & found) >= SHARE * len(ids)
