"""Which of the appointment-like tables holds days ahead: the book of visits to come.

Why: reminders are for visits still ahead, and a clinic's diary always holds some. Beside it, an
EHR keeps tables of what already happened that look as much like appointments by their shape,
often more: an encounter or a visit record has a date, the patient, the doctor, the facility and
a category, and a name ("encounter", "visit") that appointment tables have too (LibreHealth's and
OpenEMR's ``form_encounter`` beside the calendar's ``postcalendar_events``, whose provider is a
text column no reference reaches). Its dates are all in the past. So, among the look-alikes that
hold rows, when at least one holds a day after today in one of its visit-date columns, those
that hold none give way (their shape score is weighed by ``PAST_ONLY``): what happened is not
what is booked. Where no look-alike holds a day ahead (a test copy, an archive), nothing changes.

Rejected: counting recent rows (an encounter table is written every day too); reading the first
rows only (a table of years of visits shows its oldest ones first, all in the past); a name
list of record tables (encounter is also what some products call the booked visit).

Where a table's visit days are kept is read as the picker reads it: its own date columns, else
the slot it books (a booking's times are its slot's, slottime.py), or for a row that keeps a
time of day and no day (``day_elsewhere``) the rows it belongs to (Mediboard's consultation in
its session); a table none of whose columns can tell keeps its score.

One read per table asked: the largest value of each of its date-typed columns (``MAX``), compared
with the day after tomorrow (UTC), so that no zone's offset makes today's rows look ahead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime

from sqlalchemy.exc import SQLAlchemyError

from clinicsync.sync.discover.graph import Table
from clinicsync.sync.discover.probe import Run

PAST_ONLY = 0.5  # weight of a look-alike with no day ahead, when another has one
_DAY_TYPES = re.compile(r"date|timestamp", re.I)  # a date or a date-time; a bare time of day holds no day


def _day(value: object) -> date | None:
    """The day a column's largest value names: a date, a date-time, or ISO text (SQLite's)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def holds_days_ahead(run: Run, quote: Callable[[str], str], table: Table, columns: Sequence[str],
                     today: date) -> bool | None:
    """Whether one of ``columns`` (those of a date type) holds a day past ``today`` + 1; None
    for a table with no such column of its own (a booking whose times are its slot's): not
    told, so never weighed down."""
    typed = [c for c in columns if _DAY_TYPES.search(table.columns.get(c, ""))]
    if not typed:
        return None
    listed = ", ".join(f"MAX({quote(c)})" for c in typed)
    try:
        rows = run(f"SELECT {listed} FROM {quote(table.name)}")
    except SQLAlchemyError:
        return False
    days = [_day(v) for v in (rows[0] if rows else ())]
    return any(d is not None and (d - today).days > 1 for d in days)


_TIME_OF_DAY = re.compile(r"^time(\(\d\))?( with(out)? time zone)?$", re.I)
_DAY = re.compile(r"^date$", re.I)


def day_elsewhere(table: Table) -> bool:
    """A table that keeps a visit's time of day and no day of its own (Mediboard's
    ``consultation.heure``): its day is the row it belongs to (the session, ``plageconsult``),
    whose days ahead are its own."""
    types = [str(t).strip() for t in table.columns.values()]
    return any(_TIME_OF_DAY.match(t) for t in types) and not any(_DAY.match(t) for t in types)


def weigh(scored: Sequence[tuple[float, str]], ahead: Callable[[str], bool | None]) -> list[tuple[float, str]]:
    """``scored`` (shape score, table) with the past-only tables weighed down, when at least one
    of them holds days ahead; unchanged otherwise. Sorted best first. A table ``ahead`` cannot
    tell (None: no date column of its own) keeps its score."""
    reach = {name: ahead(name) for _, name in scored}
    if not any(reach.values()):
        return sorted(scored, reverse=True)
    return sorted(((score * PAST_ONLY if reach[name] is False else score, name) for score, name in scored),
                  reverse=True)
