"""Which table holds the visits: the appointment-like table, told by its shape (dates, people it
refers to, its name) and by its rows (an empty look-alike, a table whose dates are all empty, a
copy or a record of the past gives way to the diary). discover's proposal starts here
(sql.py); the rules for dates kept as rows, copied dates and days ahead live in their modules.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from clinicsync.sync.discover import (
    copieddates,
    daterows,
    daysahead,
    eventparts,
    listplaces,
    seriesrows,
    slottime,
    supertypes,
)
from clinicsync.sync.discover.datecolumns import date_columns
from clinicsync.sync.discover.graph import Schema, Table, words
from clinicsync.sync.discover.people import audit
from clinicsync.sync.discover.sql_reading import DiscoverError

MAX_LOOKALIKES = 8  # appointment-like tables whose rows are looked at (one cheap read each)
APPOINTMENT_NAMES = re.compile(r"appoint|booking|cita|turno|agenda|visit|consulta|termin|rdv|rendez|encounter|"
                                r"schedule|event|reserv", re.I)
# An appointment over an encounter or a visit (OpenMRS keeps all three, each with dates and a patient).
BOOKING_NAMES = re.compile(r"appoint|booking|cita|turno|termin|rdv|rendez|reserv|agendamento", re.I)
_STATUS_NAMES = re.compile(r"^(status|state|estado|statut|etat|estatus|apptstatus)(_?id)?$", re.I)
# A copy of the visit table kept by the product (old versions, an archive, a log): same columns,
# rows that are no longer the visits, so it never outranks the table it copies.
_COPIES = frozenset({"history", "hist", "archive", "archived", "log", "logs", "audit", "backup", "bak", "old",
                     "copy", "trash", "deleted", "versions", "revisions"})
def own_dates(table: Table, empty: frozenset[str] = frozenset()) -> int:
    return sum(c not in empty for c in date_columns(table))


def appointment_score(table: Table, schema: Schema, empty: frozenset[str] = frozenset()) -> float:
    """How appointment-like a table is by its shape. ``empty``: its date columns found without a
    value in its first rows, which count for nothing (a contacts' email table with an empty
    ``hold_date`` and ``reset_date`` is no diary)."""
    # A row's own stamps (created, modified, voided, last login, birth) are no visit's time: a series
    # or a users table with stamps only must not outrank the occurrences that hold start and end.
    booked = slottime.booked_dates(table, schema, lambda t: own_dates(t, empty if t is table else frozenset()))
    dates = own_dates(table, empty) or booked
    refs = schema.refs(table.name)
    # who entered, changed or voided a row (``creator`` -> ``users``) is no person the row is about
    people = sum(supertypes.person_table(schema, ref.target) and not audit(ref.column) for ref in refs)
    if not people:  # its people as child rows (a CRM activity's contacts, a booking's attendees)
        people = int(any(supertypes.person_table(schema, r.target) and not audit(r.column)
                         for child in schema.children(table.name) for r in schema.refs(child.table)
                         if r.target != table.name))
    statused = any(_STATUS_NAMES.search(c) for c in table.columns)
    return (min(dates, 3) + 2 * min(people, 2) + 3 * bool(APPOINTMENT_NAMES.search(table.name))
            + 1.5 * bool(BOOKING_NAMES.search(table.name)) + 0.5 * statused
            + 0.5 * min(len(refs), 3) + slottime.BOOKS_SLOT * bool(booked)
            ) * bool(dates) * (0.5 if words(table.name) & _COPIES else 1)


def pick_table(schema: Schema, wanted: str | None,
                filled: Callable[[Table, list[str]], set[str] | None] | None = None,
                ahead: Callable[[Table], bool | None] | None = None) -> Table:
    """The appointment table: the one given with --table, else the most appointment-like by its
    shape and its rows among the tables that hold rows (an empty look-alike beside a populated
    one, a copy or an archive, is never the source; nor a table whose date columns are all
    empty). ``filled`` asks the database, one cheap read a table: None for a table without rows,
    else which of the given date columns hold a value in its first rows; ``ahead``, whether one
    of them holds a day ahead (daysahead.py: a record of the past gives way to the book)."""
    if wanted is not None:
        found = schema.find(wanted)
        if found is not None:
            return found
        close = sorted(n for n in schema.tables if wanted.lower() in n.lower())[:10]
        raise DiscoverError(f"--table: no table {wanted!r} in this database ({len(schema.tables)} tables; "
                            + (f"names like it: {', '.join(close)})" if close else "none has a name like it)"))
    scored = sorted(((s, t.name) for t in schema.tables.values() if (s := appointment_score(t, schema)) > 0),
                    reverse=True)
    if not scored:
        raise DiscoverError("no table with dates was found: which table holds the appointments? Give it with "
                            "--table")
    if filled is not None:
        populated = []
        for _, name in scored[:MAX_LOOKALIKES]:
            table = schema.tables[name]
            dates = date_columns(table)
            has = filled(table, dates)
            if has is not None and (score := appointment_score(table, schema, frozenset(dates) - has)) > 0:
                populated.append((score, name))
        if ahead is not None:
            populated = daysahead.weigh(populated, lambda n: ahead(schema.tables[n]))
        scored = sorted(populated, reverse=True) or scored
    # a visit's dates kept as rows of their own give way to the visits they name (daterows.py)
    scored = daterows.give_way(scored, schema, {n: date_columns(schema.tables[n]) for _, n in scored}) or scored
    # a series row gives way to its occurrences, rows naming it by a series' column (seriesrows.py)
    scored = seriesrows.give_way(scored, schema, {n: date_columns(schema.tables[n]) for _, n in scored}) or scored
    # a table that repeats another candidate's dates on its rows gives way to it (copieddates.py)
    scored = copieddates.give_way(scored, schema, {n: date_columns(schema.tables[n]) for _, n in scored},
                                  booking=lambda n: bool(BOOKING_NAMES.search(n))) or scored
    # a dated list gives way to its places, rows naming it with a time of day of their own (listplaces.py)
    scored = listplaces.give_way(scored, schema)
    # an event's occurrences and participants, rows of their own naming it, give way to it (eventparts.py)
    scored = eventparts.parent_of_tie(scored, schema)
    if len(scored) > 1 and scored[0][0] == scored[1][0]:
        tied = [n for s, n in scored if s == scored[0][0]]
        raise DiscoverError(f"several tables look like appointments ({', '.join(tied)}): pick one with --table")
    return schema.tables[scored[0][1]]
