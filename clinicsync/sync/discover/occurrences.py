"""An event's occurrences kept as rows of their own: one row a start, keyed by the event and that
start, with its end (a groupware calendar's dates table: a series of weekly sessions is one event
row and six date rows; a single visit one and one).

Why: the event row holds the first start and the series' last end (or the first one's), so read
alone a series came in as one visit, its later sessions never reminded. Each occurrence is a
visit: the event's row joined to each of its date rows, the start and end read from the date row
(the event's own span left out of the read, so it is never placed as the visit's time), and the
id the event's key with the start (one event, several visits). A date row flagged as an
exception (``exception``, ``excluded``, ``skipped``: a session taken out of the series, or moved
to an event of its own) is no visit and is left out.

Known by its shape, not its names: a child of the visit table whose primary key is its reference
to the visit and one date column, with one more column of that date's type (the end). A dates
table of one date column a row (daterows.py) is another shape: its rows are a visit's first and
last day, not visits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clinicsync.sync.discover.graph import Ref, Schema, Table, bookkeeping
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.vocab import name_tokens, token_role

_EXCEPTION = re.compile(r"exception|exclu|skip|removed|cancel", re.I)
_FLAG_TYPE = re.compile(r"bool|bit|tinyint|smallint|int", re.I)


@dataclass(frozen=True)
class Occurrences:
    """``table`` holds the occurrences of the visit table's rows: ``ref`` names the event,
    ``start`` and ``end`` are the occurrence's; ``flag`` marks an exception (None: none)."""

    table: Table
    ref: Ref
    start: str
    end: str
    flag: str | None
    outs: tuple[str, str] = ("", "")  # the read's output names of the start and the end


def find(schema: Schema, main: Table, dates: dict[str, list[str]]) -> Occurrences | None:
    """The occurrences table of ``main``, or None. ``dates``: each table's date columns."""
    for ref in schema.children(main.name):
        table = schema.tables.get(ref.table)
        if table is None or len(table.primary_key) != 2 or ref.column not in table.primary_key:
            continue
        (start,) = [c for c in table.primary_key if c != ref.column]
        if start not in dates.get(table.name, []):
            continue
        others = [c for c in table.columns if c not in table.primary_key and not bookkeeping(c)]
        ends = [c for c in others if table.columns[c] == table.columns[start]]
        if len(ends) != 1:
            continue
        flags = [c for c in others if c != ends[0] and _EXCEPTION.search(c) and _FLAG_TYPE.search(table.columns[c])]
        return Occurrences(table, ref, start, ends[0], flags[0] if len(flags) == 1 else None)
    return None


def join(plan: ReadPlan, found: Occurrences, main_dates: list[str]) -> Occurrences:
    """Join each occurrence to its event (one read row an occurrence), select its start and end,
    and take the event's own start and end out of the read (``main_dates``: its date columns;
    with them, its columns named for an end)."""
    q, table = plan.quote, found.table
    on = f"o.{q(found.ref.column)} = a.{q(found.ref.target_column)}"
    if found.flag is not None:
        on += f" AND (o.{q(found.flag)} = 0 OR o.{q(found.flag)} IS NULL)"
    plan.joins.insert(0, f"JOIN {q(table.name)} AS o ON {on}")
    for column in plan.main.columns:
        own_span = column in main_dates or bool({token_role(t) for t in name_tokens(column)} & {"end"})
        if own_span and plan.select.get(column) == f"a.{q(column)}":
            del plan.select[column], plan.tables_of[column], plan.types[column]
    plan.occurrence = f"o.{q(found.start)}"
    start = plan.expr(plan.occurrence, found.start, table.name, table.columns[found.start])
    end = plan.expr(f"o.{q(found.end)}", found.end, table.name, table.columns[found.end])
    return Occurrences(found.table, found.ref, found.start, found.end, found.flag, (start, end))


def replies(run: Run, plan: ReadPlan, links: Table, skip: tuple[str, ...]) -> tuple[str, str] | None:
    """Where each read row is an occurrence and the participant rows say which occurrence a row is
    for (a whole-number column, 0 for the whole series on most rows, else an occurrence's start:
    a patient declining one session of a weekly series), the condition that keeps the rows for
    this occurrence or the whole series, and the one that ranks this occurrence's first, on the
    link row ``cs_l``; None otherwise. Why: the series' row and the one declined both name the
    patient, and the first by person was either: every session read as declined, or none."""
    if not plan.occurrence:
        return None
    q = plan.quote
    occurring = plan.occurrence.split(".", 1)[1]
    table = next((j.split(" ")[1] for j in plan.joins if j.startswith("JOIN ") and " AS o ON " in j), None)
    if table is None:
        return None
    for column, type_name in links.columns.items():
        if column in skip or column in links.primary_key or not _FLAG_TYPE.search(type_name) or bookkeeping(column):
            continue
        total, zero, other = run(
            f"SELECT COUNT(*), COUNT(CASE WHEN {q(column)} = 0 THEN 1 END), COUNT(CASE WHEN {q(column)} <> 0 AND "
            f"{q(column)} NOT IN (SELECT {occurring} FROM {table}) THEN 1 END) FROM {q(links.name)}")[0]
        if int(total) and 2 * int(zero) > int(total) and int(zero) < int(total) and not int(other):
            # ranked by "not 0" among the two kept, never by the occurrence itself: SQLite refuses an
            # outer column in the ORDER BY of a subquery inside a join's condition
            return f" AND cs_l.{q(column)} IN (0, {plan.occurrence})", f"cs_l.{q(column)} <> 0"
    return None


def identify(found: Occurrences, plan: ReadPlan, guesses: list[Guess]) -> list[Guess]:
    """The visit's id: the event's key with the occurrence's start (an event has several)."""
    key = found.ref.target_column
    if key not in plan.select:
        return guesses
    why = (f"each row of {found.table.name!r} (keyed by {found.ref.column!r} and {found.start!r}) is a visit of the "
           f"event it names: the event's {key!r} with the occurrence's start")
    return [Guess("external_id", f"{key} + {found.outs[0]}", 0.9, why, {"concat": [key, found.outs[0]]}),
            *(g for g in guesses if g.field != "external_id")]
