"""A patient's role row that names no one, pointing at the login table that holds every person.

Laravel hospital apps (and many PHP ones) keep a ``patients`` row with only its key, a
``user_id`` and stamps, and a ``doctors`` row the same way: the name, phone and email of both are
in ONE shared ``users`` table. The patient chain (people.py) never walks into a users table on its
own, because a users table is usually a clerk's login (``created_by``) and its name is then the
clerk's, not the patient's.

Why it is safe to walk here: only when no table of the patient's chain has a filled name, and
only along a reference that is not an audit column, whose target is a users table with a filled
name, and whose values are distinct over the role rows the visits name (one person per role row:
a clerk who entered the rows repeats). The users table is joined under its own alias with the
``patient`` stem, so the doctor's own walk into the same table (a second alias, ``doctor``) never
mixes the two. The users row so joined is the patient's person: its soft-delete flag (a Laravel
``deleted_at``) withdraws the visit as the patient's own would (softdelete.owners), though a
users table's name says no patient.
"""

from __future__ import annotations

from clinicsync.sync.discover import doctors
from clinicsync.sync.discover.graph import Ref, Table, audit, words
from clinicsync.sync.discover.kinds import USER, Builder

DISTINCT = 0.9  # share of distinct users over the role rows the visits name: one person per role row


def _one_each(builder: Builder, role: Table, ref: Ref) -> bool:
    """Whether the role rows the visits name point at different users (a person each)."""
    q, main, via = builder.q, builder.plan.main, builder.plan
    first = next((r for r in builder.schema.refs(main.name) if r.target == role.name), None)
    if first is None:
        return False
    rows = builder.run(f"SELECT COUNT(DISTINCT r.{q(first.target_column)}), COUNT(DISTINCT r.{q(ref.column)}) "
                       f"FROM {q(main.name)} AS a JOIN {q(role.name)} AS r ON {via.on(first, 'r', 'a')}")
    roles, users = (int(v or 0) for v in rows[0])
    return roles > 1 and users >= DISTINCT * roles


def follow(builder: Builder, chain: list[tuple[Table, str]]) -> list[tuple[Table, str]]:
    """``chain`` with the users row its last role row names joined on, when the chain names no
    one and that row does; ``chain`` unchanged otherwise."""
    if any(doctors.named(builder, table) for table, _ in chain):
        return chain
    role, at = chain[-1]
    for ref in builder.schema.refs(role.name):
        target = builder.schema.tables[ref.target]
        if audit(ref.column) or not words(ref.target) & USER or ref.target == role.name:
            continue
        if not doctors.named(builder, target) or not _one_each(builder, role, ref):
            continue
        hop = builder.plan.alias("p")
        builder.plan.join(target, hop, builder.plan.on(ref, hop, at))
        builder.plan.add_columns(target, hop, "patient", frozenset({ref.target_column}))
        builder.stamp_row(target, hop)
        builder.people.persons[target.name] = hop
        return [*chain, (target, hop)]
    return chain
