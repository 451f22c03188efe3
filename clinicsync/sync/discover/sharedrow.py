"""The visit's shared record row: a CRM keeps every record's common fields (its deleted flag, its
owner user, its change stamps, its module) on one row of an entity table, one row per record by
the same key (Vtiger's ``vtiger_crmentity``: ``crmid`` = the activity's ``activityid``).

Why a module of its own: two rules read that row, the soft-delete rule (softdelete.py: the visit
is deleted when its shared row says so) and the owner rule (sharedowner.py: the visit's doctor is
the row's owner user). Both find the row the same way and read it through one join, so the
query joins the entity table once, however many of its columns are read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from clinicsync.sync.discover.graph import Ref, Table
from clinicsync.sync.discover.readplan import ReadPlan


def shared_table(main: Table, tables: Mapping[str, Table], found: Iterable[Ref] = ()) -> tuple[Table, str] | None:
    """The table whose primary key the visit's own one-column key is a declared foreign key to
    (the same value, one row each), with that key column; None when the visit has no such row.
    ``found``: the visit's references found without a declared key (valuerefs.py's shared rows)."""
    key = main.key
    if key is None:
        return None
    for own, target, target_column in [*main.references, *((r.column, r.target, r.target_column) for r in found)]:
        shared = tables.get(target)
        if own == key and shared is not None and shared.name != main.name and shared.key == target_column:
            return shared, target_column
    return None


def joined(plan: ReadPlan, shared: Table, column: str) -> str:
    """The alias the shared row is read under: the join already made on the visit's key when
    another rule made it, else a new one (``LEFT JOIN entity AS e1 ON e1.crmid = a.activityid``)."""
    key = plan.quote(str(plan.main.key))
    head = f"LEFT JOIN {plan.quote(shared.name)} AS "
    for join in plan.joins:
        if join.startswith(head):
            alias = join[len(head):].split(" ", 1)[0]
            if join == f"{head}{alias} ON {alias}.{plan.quote(column)} = a.{key}":
                return alias
    alias = plan.alias("e")
    plan.join(shared, alias, f"{alias}.{plan.quote(column)} = a.{key}")
    return alias
