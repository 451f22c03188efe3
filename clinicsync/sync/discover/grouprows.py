"""Rows of a persons table that are no person: a group of users (a team invited as one), a
placeholder for someone not yet named, kept in the same users table as the people and told apart
by a kind column (a Rails STI ``type``: 'User', 'Group', 'PlaceholderUser').

Why: where the visit's people are participant rows naming that table, a group invited beside
the staff is a participant that is not staff; taken as the patient, a team's own meeting came in
as a visit whose reminder goes to the group's name. A row whose kind says a group is passed over
as the patient, and a visit with no participant left (staff and groups only) names no patient.

How: a text column of the persons table named for a kind (its last word ``type``, ``kind``,
``class``, ``category``), with a few plain values over the whole table, one of which says a group
(its words: group, team, placeholder) on a minority of rows. The rows are named by a subquery on
that value, so a group added later is passed over too. Rejected: a row without an email (a
patient without one is common).
"""

from __future__ import annotations

import re

from clinicsync.sync.discover.graph import Table
from clinicsync.sync.discover.kinds import TEXT, Builder
from clinicsync.sync.discover.probe import value_counts
from clinicsync.sync.discover.vocab import name_tokens

_KIND = frozenset({"type", "kind", "class", "category"})
_GROUP = frozenset({"group", "groups", "team", "teams", "placeholder"})
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_ .:-]{0,63}")
MAX_KINDS = 12  # distinct values of a kind column; more is free text


def not_persons(builder: Builder, person: Table, key: str) -> tuple[str, str] | None:
    """(a subquery of ``person``'s keys whose rows are groups, what it follows), or None when the
    table has no kind column that says so."""
    q = builder.q
    for column, type_name in person.columns.items():
        tokens = name_tokens(column)
        if column == key or not TEXT.search(type_name) or not tokens or tokens[-1] not in _KIND:
            continue
        counts = value_counts(builder.run, q, person.name, column)
        if not 2 <= len(counts) <= MAX_KINDS or not all(_PLAIN.fullmatch(v) for v in counts):
            continue
        groups = sorted(v for v in counts if set(name_tokens(v)) & _GROUP)
        if not groups or 2 * sum(counts[v] for v in groups) >= sum(counts.values()):
            continue
        values = ", ".join(f"'{v}'" for v in groups)
        sql = f"SELECT cs_g.{q(key)} FROM {q(person.name)} AS cs_g WHERE cs_g.{q(column)} IN ({values})"
        return sql, f"{person.name}.{column} {' or '.join(repr(v) for v in groups)}: a group, no person"
    return None
