"""A slot told by its shape, whatever its name: a ticket or seat row that holds its person's
contact (an email or phone column of its own) and no date, referring to a row that holds dates
and no contact (an event's date, a time slot, a sitting). The person's row is the visit; the
dated row is the time it books.

Why: a booking tool that sells time slots keeps one row per person who comes (a ticket, a
position of an order) with the attendee's name and email, and the slot's start on the row it
refers to, named for what the product sells (a "subevent", a "sitting", a "performance"), no
slot word. The picker read the dated row as the visits (it has dates, the other none) and
proposed visits with no patient; the people who come were never read. (Whether the person's
row has dates of its own is the caller's: a ticket's validity columns, all empty, are none.)

The person's row must also belong to a booking, a row with a contact and dates of its own and no
person's name that it refers to (the order a ticket is part of: the buyer's email, when it was
placed; a users table, with its names, is a person's); and the
dated row must keep no status (a slot is open or not; a row with a status of its own is a visit):
an attendee row of an appointment, which refers to the appointment (its status) and at most to a
person (a contact, no dates), is a part of the visit, and the appointment stays the visits.

Rejected: any referenced table with dates (the order a ticket belongs to has dates too, its
placing and expiry, and the buyer's email: a row with a contact is a person's or a booking's,
never the slot).
"""

from __future__ import annotations

import re

from clinicsync.sync.discover.datecolumns import date_columns
from clinicsync.sync.discover.graph import Schema, Table, audit
from clinicsync.sync.discover.kinds import name_columns
from clinicsync.sync.discover.vocab import name_tokens, token_role

_CONTACT = frozenset({"email", "phone"})
_STATUS = re.compile(r"^(status|state|estado|statut|etat)(_?id)?$", re.I)


def contact_columns(table: Table) -> list[str]:
    """The columns whose name says an email or a phone (``attendee_email``, ``phone``)."""
    return [c for c in table.columns if {token_role(t) for t in name_tokens(c)} & _CONTACT]


def booking_row(row: Table) -> bool:
    """Whether ``row`` is a booking's: an order, with a contact and dates and no person's name
    (a users table has one)."""

    return bool(contact_columns(row)) and bool(date_columns(row)) and not name_columns(row)[0]


def books(table: Table, target: Table, schema: Schema) -> bool:
    """Whether ``table`` (a person's row: a contact column of its own, belonging to a booking row
    with a contact) books ``target`` (dated, no contact): the target's dates are the visit's time."""

    def booking(name: str) -> bool:
        return booking_row(schema.tables[name])

    return bool(contact_columns(table)) and not contact_columns(target) and bool(date_columns(target)) \
        and not any(_STATUS.match(c) for c in target.columns) \
        and any(r.target not in (table.name, target.name) and r.target in schema.tables and not audit(r.column)
                and booking(r.target) for r in schema.refs(table.name))
