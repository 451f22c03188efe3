"""Rows of the visit table that are another row's add-on, not a visit: a row that refers to
another row of the same table within the same booking (an extra booked with a ticket, a parking
slot or a meal: pretix's ``addon_to_id``), beside the rows it is attached to.

Why: read as visits, the extras came in as visits of their own, at the ticket's time, with no
person's name (an extra names nobody) or with the ticket holder's again: a second visit for the
same person, reminded twice, or a nameless one quarantined.

When: the visit table refers to itself (a declared key, or an id column of its key's type that
refers to no other table by a declared key: one found by values may be a chance match), and to a
booking (an order: a contact and dates, no person's name, as ``datedslots.booking_row`` reads
it); every row whose self-reference is set points at another row of the same booking, at least
one row does, and some rows have none (the tickets the extras attach to). Those rows are left
out of the query by a subquery on the same table, with a note of counts.

Rejected: leaving out every row with a self-reference set (a follow-up refers to its first visit
across bookings, and is a visit of its own); a self-reference whose rows point across bookings
(a rebooking's new row naming the old one, or a chance match of numbers).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from clinicsync.sync.discover.datedslots import booking_row
from clinicsync.sync.discover.graph import Schema, Table, audit
from clinicsync.sync.discover.kinds import TEXT, WHOLE
from clinicsync.sync.discover.probe import Run

MAX_COLUMNS = 6  # self-reference columns tried
_ID = re.compile(r"(?i)(id|_?ref|_?fk)$")


@dataclass(frozen=True)
class AddOns:
    """The rows left out: the condition that keeps the others (on alias ``a``), the column that
    makes a row an add-on, and the note saying why."""

    kept: str
    column: str
    note: str


def _kind(type_name: str) -> str:
    return "whole" if WHOLE.search(type_name) else "text" if TEXT.search(type_name) else ""


def _self_columns(schema: Schema, main: Table, key: str) -> list[str]:
    """The visit table's columns that may refer to its own rows: declared references to itself
    first, then id columns of the key's type that no declared key sends elsewhere."""
    refs = schema.refs(main.name)
    own = [r.column for r in refs if r.target == main.name and r.target_column == key and r.column != key]
    elsewhere = {r.column for r in refs if r.declared and r.target != main.name}
    kind = _kind(main.columns[key])
    guessed = [c for c, t in main.columns.items() if c not in own and c not in elsewhere and c != key
               and c not in main.primary_key and not audit(c) and _ID.search(c) and kind and _kind(t) == kind]
    return (own + guessed)[:MAX_COLUMNS]


def left_out(run: Run, quote: Callable[[str], str], schema: Schema, main: Table) -> AddOns | None:
    """The add-on rows of the visit table, or None when it has none (see the module's doc)."""
    key = main.key
    if key is None:
        return None
    bookings = [r for r in schema.refs(main.name) if r.target != main.name and r.target in schema.tables
                and not audit(r.column) and booking_row(schema.tables[r.target])]
    q, table = quote, quote(main.name)
    for column in _self_columns(schema, main, key):
        unset = f"a.{q(column)} IS NULL" + (f" OR a.{q(column)} = 0" if _kind(main.columns[key]) == "whole" else "")
        for booking in bookings:
            same = (f"s.{q(key)} = a.{q(column)} AND s.{q(booking.column)} = a.{q(booking.column)} "
                    f"AND s.{q(key)} <> a.{q(key)}")
            found = run(f"SELECT COUNT(*), COUNT(s.{q(key)}), (SELECT COUNT(*) FROM {table} AS a WHERE {unset}) "
                        f"FROM {table} AS a LEFT JOIN {table} AS s ON {same} WHERE NOT ({unset})")
            extras, within, plain = (int(n or 0) for n in found[0])
            if not (0 < extras == within and plain > 0):
                continue
            kept = f"NOT EXISTS (SELECT 1 FROM {table} AS s WHERE {same})"
            note = (f"{extras} of {extras + plain} {main.name!r} rows refer by {column!r} to another row of the same "
                    f"{booking.target!r} row ({booking.column!r}): an add-on attached to that row (an extra booked "
                    "with it), no visit of its own: left out of the query")
            return AddOns(kept, column, note)
    return None
