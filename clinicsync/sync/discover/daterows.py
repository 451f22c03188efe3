"""A visit whose dates are rows of a table of their own: one row per day or per boundary, each
naming the visit (Booking Calendar's ``wp_bookingdates``: a time slot is two rows of one day, the
start and the end, each naming its ``wp_booking`` row; a stay of several days one row a day).

Why: the dates table is the most dated table of the schema and its rows name the visit, so it
tied with the visits themselves and the admin was asked to pick one with --table; picked, it
gave a visit per date (the start and the end as two visits, neither with the person). The
visits are the rows the dates belong to: the dates table gives way to the table it names, and
the visit reads its first date as its start and its last as its end (one subquery each, the
dates table's index on the visit's key), so the window compares the first date.

A dates table is known by its shape and by the name of the rows it dates: a reference to
another table, one date column, nothing else but its key and a flag or two (``approved``) —
no person, no other reference — and a name that holds the dated table's (``wp_bookingdates``
of ``wp_booking``, ``request_dates`` of ``requests``). An appointments table of the same shape
(a patient, a start, a status) names its patient, never for the patients' table: it stays the
visits. A table with a person or a second date is a visit of its own (an encounter naming
its appointment) and is left alone. Rejected: reading each date row as a visit and folding
them by the visit's key (the sync keeps one row per id: the start or the end, whichever came
last).
"""

from __future__ import annotations

from dataclasses import dataclass

from clinicsync.sync.discover.graph import Ref, Schema, Table, audit, bookkeeping
from clinicsync.sync.discover.readplan import ReadPlan

MAX_OTHERS = 2  # columns beside the key, the reference and the date (a flag, a resource)


@dataclass(frozen=True)
class DateRows:
    """``table`` holds the dates of the rows of ``ref.target``: ``ref.column`` names the row,
    ``date`` is the date column."""

    table: Table
    ref: Ref
    date: str


def date_rows(table: Table, schema: Schema, dates: list[str]) -> DateRows | None:
    """``table`` as the dates of another table's rows (``dates``: its date columns), or None."""
    refs = [r for r in schema.refs(table.name) if r.target != table.name and r.target in schema.tables
            and not audit(r.column)]
    if len(refs) != 1:
        return None
    (ref,) = refs
    if ref.target.lower().rstrip("s") not in table.name.lower():  # named for the rows it dates
        return None
    key = set(table.primary_key)
    dates = [d for d in dates if d not in key and d != ref.column]  # ``booking_dates_id`` is no date
    if len(dates) != 1:
        return None
    found = DateRows(table, ref, dates[0])
    return found if len(others_of(found)) <= MAX_OTHERS else None


def give_way(scored: list[tuple[float, str]], schema: Schema,
             dates: dict[str, list[str]]) -> list[tuple[float, str]]:
    """``scored`` (score, table) with each dates table in the place of the table it names (gone
    where that one is a candidate already, with its own score): the visits are the rows the dates
    name, whose dates are these. ``dates``: each table's date columns."""
    names = {name for _, name in scored}
    kept = []
    for score, name in scored:
        found = date_rows(schema.tables[name], schema, dates.get(name, []))
        if found is None:
            kept.append((score, name))
        elif found.ref.target not in names:
            names.add(found.ref.target)
            kept.append((score, found.ref.target))
    return kept


def first_and_last(plan: ReadPlan, schema: Schema, dates: dict[str, list[str]]) -> list[str]:
    """Select the first and the last date of each dates table that names the plan's table, as
    ``<date>_start`` and ``<date>_end`` (the names the scorer reads as the visit's start and
    end); the output names."""
    main = plan.main
    outs: list[str] = []
    for child in schema.children(main.name):
        table = schema.tables.get(child.table)
        if table is None or table.name == main.name:
            continue
        found = date_rows(table, schema, dates.get(table.name, []))
        if found is None or found.ref.target != main.name or found.ref.column != child.column:
            continue
        q = plan.quote
        stem = found.date.removesuffix("_date").removesuffix("date").strip("_") or found.date
        for fn, end in (("MIN", "start"), ("MAX", "end")):
            sql = (f"(SELECT {fn}(d.{q(found.date)}) FROM {q(table.name)} AS d "
                   f"WHERE d.{q(found.ref.column)} = a.{q(found.ref.target_column)})")
            sql = to_the_minute(sql, plan.dialect)
            outs.append(plan.expr(sql, f"{stem}_{end}", table.name, table.columns[found.date]))
        for column in others_of(found):  # a flag each date row repeats (``approved``): the visit's, its least
            sql = (f"(SELECT MIN(d.{q(column)}) FROM {q(table.name)} AS d "
                   f"WHERE d.{q(found.ref.column)} = a.{q(found.ref.target_column)})")
            outs.append(plan.expr(sql, column, table.name, table.columns[column]))
    return outs


def others_of(found: DateRows) -> list[str]:
    """The dates table's columns beside its key, the reference and the date."""
    table = found.table
    return [c for c in table.columns if c not in table.primary_key and c not in (found.ref.column, found.date)
            and not bookkeeping(c)]


def to_the_minute(sql: str, dialect: str) -> str:
    """``sql``, a date-time, without its seconds. A visit starts and ends on the minute; a dates
    table may tell a slot's two ends apart by the second (Booking Calendar: the start at
    ``HH:MM:01``, the end at ``HH:MM:02``), which read as they are put every visit a second late.
    Rejected: keeping the seconds where they vary (no clinic books at 09:00:37)."""
    if dialect == "postgresql":
        return f"date_trunc('minute', {sql})"
    if dialect == "sqlite":
        return f"strftime('%Y-%m-%d %H:%M:00', {sql})"
    if dialect == "mssql":
        return f"DATEADD(minute, DATEDIFF(minute, 0, {sql}), 0)"
    return f"({sql} - INTERVAL SECOND({sql}) SECOND)"
