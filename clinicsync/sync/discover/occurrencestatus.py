"""An occurrence row's own status beside its event's: a booking's dates table whose rows carry a
status column as the booking does (valid on most rows, cancelled on a date the desk took out of
the series, rejected on one that clashed).

Why: with each occurrence read as a visit (occurrences.py), the status was the event's alone, so a
session cancelled by itself kept its series' "accepted" and its patient was reminded to come. The
occurrence's status now wins where it says something of its own: where its value is not the one
most occurrence rows hold (the plain "this date stands"), the visit takes the occurrence's value,
else the event's (which alone says "pending" or "cancelled" for the whole booking). Only where the
occurrence's values are the event's own vocabulary (each one also an event status value, same
column type), so the one status map the admin writes reads both.
"""

from __future__ import annotations

import re

from clinicsync.sync.discover.occurrences import Occurrences
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.vocab import name_tokens, token_role

_CODE_TYPE = re.compile(r"int|char|text|string", re.I)


def _status_column(found: Occurrences) -> str | None:
    """The occurrence table's one column named for a status (not its key, start, end or flag)."""
    taken = {*found.table.primary_key, found.start, found.end, found.flag}
    named = [c for c, t in found.table.columns.items() if c not in taken and _CODE_TYPE.search(t)
             and any(token_role(token) == "status" for token in name_tokens(c))]
    return named[0] if len(named) == 1 else None


def _literal(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def placed(run: Run, plan: ReadPlan, found: Occurrences | None, guesses: list[Guess], notes: list[str]) -> None:
    """Read the visit's status from the occurrence where its own value is not its usual one."""
    status = next((g for g in guesses if g.field == "status"), None)
    if found is None or status is None or status.spec != {"from": status.source}:
        return
    event_expr = plan.select.get(status.source, "")
    if not event_expr.startswith("a.") or plan.tables_of.get(status.source) != plan.main.name:
        return
    column = _status_column(found)
    event_column = event_expr[2:]
    if column is None or found.table.columns[column] != plan.types.get(status.source):
        return
    q = plan.quote
    table, event_table = q(found.table.name), q(plan.main.name)
    usual = run(f"SELECT {q(column)}, COUNT(*) FROM {table} WHERE {q(column)} IS NOT NULL "
                f"GROUP BY {q(column)} ORDER BY COUNT(*) DESC")
    if len(usual) < 2 or 2 * int(usual[0][1]) <= sum(int(r[1]) for r in usual):
        return  # one value only says nothing; no value on most rows has no "usual" to tell apart
    strangers = run(f"SELECT COUNT(*) FROM {table} WHERE {q(column)} IS NOT NULL AND {q(column)} NOT IN "
                    f"(SELECT {event_column} FROM {event_table} WHERE {event_column} IS NOT NULL)")
    if int(strangers[0][0]):
        return  # a vocabulary of its own: the status map written for the event's would misread it
    own = f"o.{q(column)}"
    plan.select[status.source] = f"CASE WHEN {own} = {_literal(usual[0][0])} THEN {event_expr} ELSE {own} END"
    notes.append(f"status: an occurrence's own {column!r} of {found.table.name!r} is read where it is not "
                 f"{usual[0][0]!s} (what most of its rows hold), else the booking's {status.source!r}: a date "
                 "cancelled alone is cancelled, the rest of its series is not")
