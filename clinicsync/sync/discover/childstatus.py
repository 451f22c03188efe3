"""A visit's status kept on its one-to-one child row: a "meta data" or "details" table holding,
per visit, one row that refers to it, with a status column (X2CRM's ``x2_action_meta_data``:
``actionId`` -> ``x2_actions.id``, ``eventStatus`` Confirmed / Cancelled).

Why: the visit's own table then has no status column, so every visit was imported as booked: a
visit the desk cancelled was still reminded, and its slot never freed. The child row is the
visit's own (one row per visit, never shared), so its status is the visit's, as a column of the
visit's table would be; its words are then read over the whole table as any status column's.

When: no status, cancellation, done or approval column was placed from the visit's table; a
table refers to the visit's key by a reference (declared, named or found by values); it holds a
text column whose name says status; no visit has two such rows (``COUNT(*)`` equals the distinct
visits referred to); and its rows cover at least ``COVER`` of the visits (a table of a few
visits' extras is no part of every visit). Of several such tables, none is taken.
Rejected: a participant's link row (a patient's answer on a group's visit is linkstatus.py's);
those are many per visit.
"""

from __future__ import annotations

from clinicsync.sync.discover.graph import Schema, audit
from clinicsync.sync.discover.kinds import TEXT
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.vocab import name_tokens, token_role

COVER = 0.5  # of the visits that have a child row


def placed(run: Run, schema: Schema, plan: ReadPlan, guesses: list[Guess], notes: list[str]) -> list[Guess]:
    """``guesses`` with the status read from the visit's one-to-one child row, joined into ``plan``."""
    main, q = plan.main, plan.quote
    if main.key is None or any(g.field == "status" for g in guesses):
        return guesses
    total = int(run(f"SELECT COUNT(*) FROM {q(main.name)}")[0][0])
    found = []
    for ref in schema.children(main.name):
        child = schema.tables.get(ref.table)
        if child is None or ref.target_column != main.key or child.name in plan.tables_of.values():
            continue
        statuses = [c for c, t in child.columns.items() if TEXT.search(t) and not audit(c)
                    and any(token_role(w) == "status" for w in name_tokens(c))]
        if len(statuses) != 1:
            continue
        rows, visits = run(f"SELECT COUNT(*), COUNT(DISTINCT {q(ref.column)}) FROM {q(child.name)} "
                           f"WHERE {q(ref.column)} IS NOT NULL")[0]
        if int(rows) == int(visits) and int(visits) >= COVER * total > 0:
            found.append((ref, statuses[0], int(visits)))
    if len(found) != 1:
        return guesses
    ref, column, visits = found[0]
    child = schema.tables[ref.table]
    alias = plan.alias("s")
    plan.join(child, alias, f"{alias}.{q(ref.column)} = a.{q(str(main.key))}")
    out = plan.add(alias, column, f"{child.name}_{column}", child.name, child.columns[column])
    why = (f"the visit's one row in {child.name!r} ({ref.column!r} -> {main.name}.{main.key}: {visits} of {total} "
           f"rows have one, none two): its {column!r} is the visit's status")
    notes.append(f"status: {why}")
    return [*guesses, Guess("status", out, 0.7, why, {"from": out})]
