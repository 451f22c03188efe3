"""A staff row whose name is not its own: the person it refers to holds it, in its columns or
in a names table of several rows per person (OpenMRS's ``provider.person_id`` -> ``person`` ->
``person_name``, its legacy ``provider.name`` NULL).

Why: the doctor's row a visit reaches (through its slot and the slot's block) is the
practitioner, but a rule that stops only at a row with a filled name column never stops there,
and either reaches nobody or takes another table's provider for the visit's. The row counts as
named when its person is named; the name is then read on the person (doctors.follow)."""

from __future__ import annotations

from collections.abc import Callable

from clinicsync.sync.discover.graph import Ref, Table, audit
from clinicsync.sync.discover.kinds import Builder, filled, kind_of, name_columns


def _names_itself(builder: Builder, table: Table) -> bool:
    """The table's own name columns are filled, or a names table of its rows has them filled."""
    columns = name_columns(table)[0]
    if columns and filled(builder.run, builder.q, table, columns):
        return True
    for child in builder.owned(table.name):
        names = builder.schema.tables[child.table]
        found = name_columns(names)[0]
        if found and child.table != builder.plan.main.name and kind_of(names.name) != "provider" \
                and filled(builder.run, builder.q, names, found):
            return True
    return False


def person_of(builder: Builder, table: Table) -> Ref | None:
    """The reference from ``table`` (a provider's, a user's row without a name of its own) to the
    person row that names it; None when it names itself or refers to no named person."""
    columns = name_columns(table)[0]
    if columns and filled(builder.run, builder.q, table, columns):
        return None
    for ref in builder.schema.refs(table.name):
        if audit(ref.column) or ref.target == table.name or kind_of(ref.target) != "person":
            continue
        if not filled(builder.run, builder.q, table, [ref.column]):
            continue  # a provider row kept without its person names nobody
        if _names_itself(builder, builder.schema.tables[ref.target]):
            return ref
    return None


def reach(builder: Builder, first: Ref, seen: set[str], hops: int, person_like: Callable[[str], bool],
          skip: Callable[[str], bool]) -> list[Ref] | None:
    """The shortest chain from the visit's ``first`` reference to a person-like row named by its
    person (``first`` itself included), over at most ``hops`` more references; who entered a row,
    a referrer or a relative (``skip``) is never a hop. Asked only when no row on the way has a
    name of its own, so a chain that reaches a named row stays as it was."""
    level: list[list[Ref]] = [[first]]
    for depth in range(hops + 1):
        below: list[list[Ref]] = []
        for chain in level:
            target = chain[-1].target
            if person_like(target) and person_of(builder, builder.schema.tables[target]) is not None:
                return chain
            if depth == hops:
                continue
            for ref in builder.schema.refs(target):
                if ref.target in seen or audit(ref.column) or skip(ref.column) \
                        or any(r.target == ref.target for r in chain):
                    continue
                below.append([*chain, ref])
        level = below
    return None
