"""A visit row with no time of its own: its start and end are on the slot it books (OpenMRS's
``appointment.time_slot_id`` -> ``time_slot.start_date``/``end_date``).

Why: the table is picked for its dates, so the visits themselves scored nothing and the slot or
its block (dates, no patient) was taken for the visits, or two look-alikes tied and the admin was
asked. The booked row's dates count for the table that books it; the join that reads them is
the plain reference's (sql.py) or the doctor's path through the slot (doctors.follow)."""

from __future__ import annotations

from collections.abc import Callable

from clinicsync.common.names import name_words
from clinicsync.sync.discover import datedslots
from clinicsync.sync.discover.doctors import BOOKED
from clinicsync.sync.discover.graph import Schema, Table, audit
from clinicsync.sync.discover.vocab import APPOINTMENT_WORDS

# What booking a slot says of a table beside its dates: its rows are the occurrences booked (as
# much as a name that says booking), which a request for a visit, with one date of its own and
# a patient and a provider too, is not.
BOOKS_SLOT = 1.5


def booked_dates(table: Table, schema: Schema, dates: Callable[[Table], int]) -> int:
    """The dates of the slot ``table`` books (a reference whose table or column is named a slot,
    a schedule, a calendar), when ``table`` has none of its own; 0 otherwise."""
    if dates(table):
        return 0
    return max((dates(slot) for slot in booked_tables(table, schema)), default=0)


def booked_tables(table: Table, schema: Schema) -> list[Table]:
    """The slot, schedule or calendar tables ``table`` books (the reference's table or column is
    named so): where a booking's visit times are kept. A table named for the visits themselves
    (its last word an appointment's) is no slot, whatever the column: a row that refers to it by
    ``resourceId`` (a references or links table of two ids and a code) is a part of the visit,
    and was taken for the visits with no start of its own."""
    return [schema.tables[r.target] for r in schema.refs(table.name)
            if not audit(r.column) and r.target != table.name and r.target in schema.tables
            and (_head(r.target) in BOOKED or _head(r.column) in BOOKED
                 or datedslots.books(table, schema.tables[r.target], schema))
            and _head(r.target) not in APPOINTMENT_WORDS]


def _head(name: str) -> str:
    """A name's last word, an identifier's aside (``calendar_events`` -> events, ``time_slot_id``
    -> slot): what the row is. A participant row of a ``calendar_events`` row books no slot: the
    event is the visit, however its name begins."""
    parts = [w for w in name_words(name) if w not in _IDENTIFIER]
    return parts[-1] if parts else ""


_IDENTIFIER = frozenset({"id", "uid", "uuid", "fk", "ref", "key", "no", "nr"})
