"""A table that copies another table's dates onto its own rows: a generic store's participation
rows (one per role a party plays in an act: customer, patient, clinician, schedule) repeat the
act's ``activity_start_time`` and ``activity_end_time`` so that a party's diary is read on one
index; an audit or history table may do the same.

Why: such a table is the schema's most dated table after the one it copies, with a reference to
it and to the people; it tied with the acts themselves and the admin was asked to pick one with
--table (and picked, it would give a visit per role: five visits for one appointment).

The rule, from the shape: a candidate B that refers (declared, or learned from its values) to
another candidate A, and whose date columns are A's by name (every date column of B that A
also has, at least one, and B has no date of its own beside them), gives way to A: its rows are
A's rows seen from another side. A row's own stamps (created, changed, deleted: stamps.py) are
no copy: every table of a framework has them (a booking's ``deleted_at`` beside its patient's is
not the patient's date), so they are left out on both sides.

A copy whose own name says a booking or an appointment, of a record whose name says neither, is
the booking that confirms the record, and the record gives way to it (a booking plugin keeps
each form entry, abandoned or paid, and copies the entry's day and times onto the booking it
becomes: ``appointment_bookings.entry_id`` -> ``entries``); the entries are no visits.

Rejected: keeping whichever scores higher (they tie, or the copy wins by its people), and asking
the database whether the values match (a read per candidate pair, while the names with a
reference already say it).
"""

from __future__ import annotations

from collections.abc import Callable

from clinicsync.sync.discover.graph import Schema, audit
from clinicsync.sync.discover.stamps import stamp_columns


def copies(table: str, schema: Schema, dates: dict[str, list[str]],
           booking: Callable[[str], bool] = lambda _name: False) -> str | None:
    """The candidate whose dates ``table`` copies (``dates``: each candidate's date columns), or None.
    ``booking``: whether a table's name says a booking or an appointment."""
    own = set(dates.get(table, [])) - set(stamp_columns(schema.tables[table]))
    if not own:
        return None
    key = set(schema.tables[table].primary_key)
    for ref in schema.refs(table):  # its own key naming another row is a subclass row's, no reference to a parent
        if ref.target == table or audit(ref.column) or ref.target not in dates or ref.column in key:
            continue
        if own <= set(dates[ref.target]) and not _confirms(table, ref.target, booking):
            return ref.target
    return None


def _confirms(table: str, record: str, booking: Callable[[str], bool]) -> bool:
    """Whether ``table`` is named a booking and ``record`` is not, read past the start the two
    names share (``wp_bookingpress_appointment_bookings`` beside ``wp_bookingpress_entries``: the
    product's own name says 'booking' in both)."""
    a, b = table.lower(), record.lower()
    shared = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return booking(table[shared:]) and not booking(record[shared:])


def give_way(scored: list[tuple[float, str]], schema: Schema, dates: dict[str, list[str]],
             booking: Callable[[str], bool] = lambda _name: False) -> list[tuple[float, str]]:
    """``scored`` (score, table) without the tables that copy another candidate's dates."""
    candidates = {name: dates.get(name, []) for _, name in scored}
    confirmed = {record for _, name in scored if (record := copies(name, schema, candidates)) is not None
                 and _confirms(name, record, booking)}
    return [(score, name) for score, name in scored
            if name not in confirmed and copies(name, schema, candidates, booking) is None]

