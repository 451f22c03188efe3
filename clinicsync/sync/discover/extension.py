"""A person's 1:1 extension table: its columns are the person's own, read as the person's row.

Why: a product keeps the person's row narrow and puts the rest in a second table keyed by the
person (Tamanu's ``patient_additional_data``, primary key ``patient_id``: the primary, secondary
and emergency contact numbers; many EHRs' ``patient_details``/``person_extra``). Its name says
"patient", so the contact rules took it for a person's own table reached backwards and read
nothing from it: no visit had a phone. A table whose reference to the person is its whole
primary key, or a one-column unique key, holds at most one row per person: that row is the
person's, as much as the person's own row. It is joined on the person and its columns given to
the scorer under the person's stem, where the usual rules place them (a phone only from values
that parse; a column named for an emergency contact, a guardian or next of kin is never the
patient's phone). Its deleted row is left out of the join and withdraws no visit: the person's
own row says whether the person is deleted (``owners``).
Rejected: following every child named for the patient (encounters, care plans: several rows
per person, whose numbers, if any, belong to an event); the table's name (``additional``,
``extra``, ``details``), which another product words otherwise.
"""

from __future__ import annotations

from clinicsync.sync.discover import softdelete
from clinicsync.sync.discover.graph import Ref, Schema, Table, audit
from clinicsync.sync.discover.personrows import PersonRows

MAX_EXTENSIONS = 2  # extension tables joined per person table


def one_per_person(table: Table, child: Ref) -> bool:
    """Whether ``child`` (a reference of ``table``) keys ``table``: at most one row per person."""
    return table.primary_key == [child.column] or child.column in table.unique


def join(rows: PersonRows, chain: list[tuple[Table, str]], stem: str) -> list[tuple[Table, str]]:
    """The extension tables of the chain's tables, each joined (LEFT, its deleted row left out)
    with its columns added under ``stem``; what was joined, as (table, alias)."""
    joined: list[tuple[Table, str]] = []
    seen = {t.name for t, _ in chain} | {rows.plan.main.name}
    q = rows.q
    for parent, at in chain:
        found = [c for c in rows.owned(parent.name)
                 if c.table not in seen and not audit(c.column)
                 and one_per_person(rows.schema.tables[c.table], c)][:MAX_EXTENSIONS]
        for child in found:
            table = rows.schema.tables[child.table]
            alias = rows.plan.alias("x")
            on = f"{alias}.{q(child.column)} = {at}.{q(child.target_column)}"
            gone = softdelete.flag(table, rows.plan.dialect)
            if gone is not None:
                on += f" AND {softdelete.kept(gone, alias, q(gone.column))}"
            rows.plan.join(table, alias, on)
            rows.plan.add_columns(table, alias, stem, frozenset({child.column}))
            rows.stamp_row(table, alias)
            seen.add(table.name)
            joined.append((table, alias))
    return joined


def owners(schema: Schema, main: str, names: set[str]) -> list[str]:
    """The person tables of ``names`` whose deleted row withdraws the visit: all but an extension
    row, reached backwards (it refers to another of them by its key, and neither the visit nor
    any of them refers to it). OpenMRS's ``patient``, keyed by its ``person`` too, is reached
    forwards from the visit: it stays an owner."""
    reached = {r.target for t in names | {main} for r in schema.refs(t)}
    return [n for n in sorted(names)
            if n in reached or not any(r.target in names and r.target != n and one_per_person(schema.tables[n], r)
                                       for r in schema.refs(n))]
