"""A polymorphic reference found type by type: an id column beside a type column whose values
name tables (``association_id`` + ``association_type`` 'contacts' / 'accounts' / 'calendar'),
matched against the table each type names, on that type's rows only.

Why: found by its values as a whole (valuerefs.py), such a column holds a contact's key on one
row, an account's on the next and 0 on a meeting's, so it matches no one table, or the wrong one:
a bigger table numbered 1, 2, 3 … past every type's ids (the actions' own text rows) holds them
all. The visit then reaches no patient, and no reminder goes out. Read per type, the ids of the
rows whose type names the contacts' table are (nearly) all that table's keys: the reference is
that table's, on those rows (polyrefs.py then joins it on them only).

A type's value names a table as typedlinks.names_table says ('Contact', 'res.partner',
'App\\Models\\Patient'), or without the product's table prefix the visit's table shares
('contacts' for ``x2_contacts`` beside ``x2_actions``, ``wp_``, ``llx_``): a product writes its
model's name, not its table's. When several types name tables that match, a table of people
(one with name columns) is taken, the one with the most distinct ids: the patients.
Rejected: the type's value as a table name only when it is the table's whole name (products with
a table prefix never write it into their type column).
"""

from __future__ import annotations

from collections.abc import Callable

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.graph import Ref, Schema, Table
from clinicsync.sync.discover.kinds import TEXT, WHOLE, name_columns
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.readplan import stem_of
from clinicsync.sync.discover.typedlinks import literal, names_table, type_values
from clinicsync.sync.discover.vocab import name_tokens

TYPE_WORDS = frozenset({"type", "model", "module", "class", "kind", "table", "entity"})
SHARE = 0.95  # of a type's distinct sampled ids found as the named table's keys
MIN_IDS = 3  # distinct ids a type needs before its table is believed
DISTINCT = 40  # distinct ids sampled per type


def names_prefixed(value: str, table: str, owner: str) -> bool:
    """Whether a type column's ``value`` (on a row of ``owner``) names ``table``: as
    ``names_table`` says, or once the table prefix ``owner`` and ``table`` share is taken off
    (``x2_contacts`` beside ``x2_actions``: 'contacts')."""
    if names_table(value, table):
        return True
    head = table.split("_", 1)[0] + "_" if "_" in table else ""
    return bool(head) and owner.startswith(head) and names_table(value, table[len(head):])


def _pairs(table: Table, known: set[str]) -> list[tuple[str, str]]:
    """(id column, type column) of ``table``: the type named with the id's words and a type word
    (``parent_id`` -> ``parent_type``), a short text; the id a whole number or text, no
    reference yet."""
    out = []
    for column, kind in table.columns.items():
        if column in known or column in table.primary_key or not (WHOLE.search(kind) or TEXT.search(kind)):
            continue
        stem = name_tokens(stem_of(column, ""))
        if not stem or stem == name_tokens(column):
            continue
        for other, other_kind in table.columns.items():
            tokens = name_tokens(other)
            if other != column and TEXT.search(other_kind) and tokens[:-1] == stem and tokens[-1] in TYPE_WORDS:
                out.append((column, other))
    return out


def polymorphic_references(schema: Schema, run: Run, quote: Callable[[str], str], dialect: str,
                           mixed: bool = False) -> list[Ref]:
    """The references of each table's polymorphic id columns, to be added with ``Schema.learn``
    before the references found by the whole column's values. ``mixed``: as
    valuerefs.value_references' (a text id compared with a whole-number key by the database)."""
    q, out = quote, []
    for table in list(schema.tables.values()):
        known = {r.column for r in schema.refs(table.name)}
        for column, type_column in _pairs(table, known):
            values = type_values(run, table.name, type_column, q, dialect)
            if values is None:
                continue
            matched: list[tuple[bool, int, Table]] = []  # (a person table, distinct ids, the table)
            for (value,) in values:
                written = literal(value)
                targets = [t for t in schema.tables.values() if t.key is not None and t.name != table.name
                           and value is not None and names_prefixed(str(value), t.name, table.name)]
                if written is None or len(targets) != 1:
                    continue
                target = targets[0]
                sampled = run(first_rows(f"SELECT DISTINCT {q(column)} FROM {q(table.name)} WHERE {q(type_column)} = "
                                         f"{written} AND {q(column)} IS NOT NULL", DISTINCT, dialect))
                ids = {str(r[0]).strip() for r in sampled}
                if len(ids) >= MIN_IDS and _holds(run, q, target, ids):
                    matched.append((bool(name_columns(target)[0]), len(ids), target))
            if matched:
                target = max(matched, key=lambda m: (m[0], m[1]))[2]
                out.append(Ref(table.name, column, target.name, str(target.key), declared=False, by_values=True,
                               as_text=not mixed and bool(TEXT.search(table.columns[column]))
                               and bool(WHOLE.search(target.columns[str(target.key)]))))
    return out


def _holds(run: Run, q: Callable[[str], str], target: Table, ids: set[str]) -> bool:
    """Whether ``target``'s keys hold at least ``SHARE`` of ``ids`` (plain codes only: they are
    written into the query)."""
    key = str(target.key)
    whole = bool(WHOLE.search(target.columns[key]))
    if not all((i.lstrip("-").isdigit() if whole else i.replace("-", "").replace("_", "").isalnum()) and len(i) <= 64
               for i in ids):
        return False
    literals = ", ".join(i if whole else f"'{i}'" for i in sorted(ids))
    found = {str(r[0]).strip() for r in run(f"SELECT {q(key)} FROM {q(target.name)} WHERE {q(key)} IN ({literals})")}
    return len(ids & found) >= SHARE * len(ids)
