"""The doctor of events kept as iCalendar text when the calendar names its owner by a user's key,
not by a principal's path (icalowner.py): the events' table refers to a calendar table (a
collection of the server's), and the calendar's row refers to the user who owns it, a row with a
person's name and email (DAViCal: ``caldav_data.collection_id`` -> ``collection.user_no`` ->
``usr``).

The rule: a reference of the events' table (declared, or implied by the column's name) to another
table whose own reference leads to a table of persons (a column whose values are emails, the
column named for a name beside it: a table of zones or groups has a name and no email) is the
way to the calendar's owner; the doctor's id is the user's key, their name and email that row's.
Why through the calendar: a calendar is kept by one person, while the event's own user columns
may name who wrote it last (the front desk booking for the doctor: ``logged_user``,
``modified_by``) rather than whose diary it is. Rejected: the event's own
reference to a user (a writer, not the keeper), and the ORGANIZER alone (an event a client
writes without one has no doctor; it stays each field's fallback)."""

from __future__ import annotations

from collections.abc import Callable

from clinicsync.sync.discover.graph import Schema
from clinicsync.sync.discover.icalfind import IcalTable
from clinicsync.sync.discover.icalowner import Owner, Rows, person_columns


def follow(schema: Schema, found: IcalTable, rows: Rows, quote: Callable[[str], str], dialect: str) -> Owner | None:
    """The way from an event through its calendar to the user who owns it (module docstring)."""
    events = found.table
    for link in schema.refs(events.name):
        calendar = schema.tables.get(link.target)
        if calendar is None or calendar.name == events.name or link.column == found.column:
            continue
        for owner in schema.refs(calendar.name):
            person = schema.tables.get(owner.target)
            if person is None or person.name in (events.name, calendar.name):
                continue
            name, email = person_columns(person, owner.target_column, rows, quote, dialect)
            if email is None:  # a person's row gives an email (a zone's or a group's has a name only)
                continue
            said = (f"the calendar's owner: {link.column!r} names a row of {calendar.name!r} (its "
                    f"{link.target_column!r}), whose {owner.column!r} is the user who keeps it, a row of "
                    f"{person.name!r} ({', '.join(c for c in (name, email) if c)}); the user's key is the doctor's id")
            return Owner(calendar, link.column, link.target_column, owner.column, False, person,
                         owner.target_column, "", name, email, said=said)
    return None
