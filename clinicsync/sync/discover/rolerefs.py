"""References into one users table that holds patients and doctors alike, told apart by a role
column: Amelia's ``wp_amelia_users`` (``type``: customer, provider, manager, admin) is named by
``appointments.providerId`` and ``customer_bookings.customerId``, and the plugin declares no
foreign key; no table is called providers or customers, so neither the names nor the values
alone say where those columns point (1, 2, 3 are the keys of every table).

Why: without them the visit reaches neither its doctor nor its patient. The role column decides:
a column named for a role (``providerId``: a provider; ``customerId``: a patient) refers to the
users table when (nearly) all its values are keys of users rows whose role is a word of that same
kind, so a customer's row is never read as the doctor, nor the doctor's phone as a patient's.

How, kept cheap: only tables whose name says users, only their columns named type/role/kind, one
grouped read each; then one count per candidate column. Role words enter the SQL only when they
are plain words.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from clinicsync.sync.discover.graph import Ref, Schema, Table, audit, words
from clinicsync.sync.discover.kinds import USER, WHOLE, kind_of
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.vocab import name_tokens

SHARE = 0.95  # of a column's distinct values, found as users of the role its name says
MAX_ROLES = 12  # distinct values of a role column: more is no role
_ROLE_COLUMNS = frozenset({"type", "role", "kind", "tipo", "rol", "usertype", "category"})
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 _-]{0,39}")


def _roles(run: Run, q: Callable[[str], str], users: Table) -> tuple[str, dict[str, list[str]]] | None:
    """The users table's role column and its words by kind (patient, provider), or None."""
    for column in users.columns:
        if column == users.key or not set(name_tokens(column)) & _ROLE_COLUMNS or WHOLE.search(users.columns[column]):
            continue
        rows = run(f"SELECT DISTINCT {q(column)} FROM {q(users.name)} WHERE {q(column)} IS NOT NULL")
        values = [str(r[0]) for r in rows]
        if not values or len(values) > MAX_ROLES or not all(_PLAIN.fullmatch(v) for v in values):
            continue
        kinds: dict[str, list[str]] = {}
        for value in values:
            kind = kind_of(value)
            if kind in ("patient", "provider"):
                kinds.setdefault(kind, []).append(value)
        if len(kinds) == 2:
            return column, kinds
    return None


def role_references(schema: Schema, run: Run, quote: Callable[[str], str]) -> list[Ref]:
    """The references found (``declared`` False), to be added with ``Schema.learn``."""
    found: list[Ref] = []
    for users in list(schema.tables.values()):
        key = users.key
        if not words(users.name) & USER or key is None or not WHOLE.search(users.columns[key]):
            continue
        roles = _roles(run, quote, users)
        if roles is None:
            continue
        role_column, kinds = roles
        for table in schema.tables.values():
            known = {r.column for r in schema.refs(table.name)}
            for column, type_name in table.columns.items():
                kind = kind_of(column)
                if column in known or column == table.key or audit(column) or kind not in kinds \
                        or "id" not in name_tokens(column) or not WHOLE.search(type_name):
                    continue
                listed = ", ".join(f"'{v}'" for v in kinds[kind])
                total, matched = run(
                    f"SELECT COUNT(DISTINCT c.{quote(column)}), COUNT(DISTINCT u.{quote(key)}) FROM "
                    f"{quote(table.name)} AS c LEFT JOIN {quote(users.name)} AS u ON u.{quote(key)} = "
                    f"c.{quote(column)} AND u.{quote(role_column)} IN ({listed})")[0]
                if int(total) and int(matched) >= SHARE * int(total):
                    found.append(Ref(table.name, column, users.name, key, declared=False, by_values=True))
    return found
