"""What a person row bought: the product (a first dose, a booster, a PCR test) a ticket refers
to, its label the visit's type.

Why: a ticket row of a booking tool names what was booked only by a reference to the product
sold, a table called for what it sells ("item", "product", "offer"), whose label column says
just "name". No column's name says type, so the visit's kind was left out: the desk and the
patient's reminder could not tell a first dose from a booster.

When: the visits are person rows of a booking (bookingrow.py) and no type was placed; the visit
refers to a table with a label column (name, title) that is not the booking, not the slot it
books, and holds no contact (no person's or booking's row); the visits refer to two rows of it or
more (an organizer, one row for every visit, says nothing of a visit). Of several, none is taken.

Rejected: any joined label as the type outside this shape (a room's or a department's name is a
place, read as one by its own words).
"""

from __future__ import annotations

from clinicsync.sync.discover import slottime
from clinicsync.sync.discover.bookingrow import Booking
from clinicsync.sync.discover.calendarowner import label_of
from clinicsync.sync.discover.datedslots import contact_columns
from clinicsync.sync.discover.graph import Schema, audit
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan


def placed(run: Run, schema: Schema, plan: ReadPlan, booking: Booking | None, guesses: list[Guess],
           unplaced: list[str], notes: list[str]) -> tuple[list[Guess], list[str]]:
    """``guesses`` with the product's label as the type, in the shape above."""
    main, q = plan.main, plan.quote
    if booking is None or any(g.field == "type" for g in guesses):
        return guesses, unplaced
    slots = {t.name for t in slottime.booked_tables(main, schema)}
    found = []
    for ref in schema.refs(main.name):
        target = schema.tables.get(ref.target)
        if target is None or audit(ref.column) or target.name in slots | {booking.table, main.name} \
                or contact_columns(target):
            continue
        label = label_of(target.columns)
        out = next((o for o, t in plan.tables_of.items() if t == target.name and label is not None
                    and plan.select[o].endswith(f".{q(label)}")), None)
        if out is None:
            continue
        if int(run(f"SELECT COUNT(DISTINCT {q(ref.column)}) FROM {q(main.name)}")[0][0] or 0) >= 2:
            found.append((target.name, label, out))
    if len(found) != 1:
        return guesses, unplaced
    table, label, out = found[0]
    why = f"what the person booked: the {table!r} row the visit refers to, its {label!r}"
    notes.append(f"type: {why}")
    return [*guesses, Guess("type", out, 0.6, why, {"from": out})], [u for u in unplaced if u != out]
