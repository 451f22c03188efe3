"""A visit cancelled by a date of its own row: ``booking_cancellation_date`` (``cancelled_at``,
``cancellation_date``) empty while the booking stands, set when it was cancelled or moved to
another list. The row stays, so that the hospital keeps who cancelled it and why.

Why: no status column of the visit's row says it; the status the scorer found was a joined row's
(the operation's ``Scheduled``/``Rescheduled``/``Cancelled``), which speaks for the operation and
all its bookings: a booking moved to another list read as the operation's ``Rescheduled`` (a
word no status knows, quarantined), and the moved booking's old place was never cancelled. The
visit's own stamp is the visit's: ``cancelled`` when set, else ``booked``. A status of the
visit's own row stays the scorer's.

The rule, from the shape and one read: a date or date-time column of the visit's own row (not a
stamp of who changed it) whose name says a cancellation, empty on most rows and set on some."""

from __future__ import annotations

import re

from clinicsync.sync.discover.cancelflags import Flags
from clinicsync.sync.discover.graph import Table, audit
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.vocab import names_cancellation

OUT = "status"
_MOMENT = re.compile(r"date|time", re.I)


def find(run: Run, plan: ReadPlan, main: Table) -> Flags | None:
    """The visit's own cancellation date (one read per candidate column), or None."""
    q = plan.quote
    for column, type_name in main.columns.items():
        if not _MOMENT.search(type_name) or audit(column) or not names_cancellation(column):
            continue
        total, stamped = (int(v or 0) for v in run(f"SELECT COUNT(*), COUNT({q(column)}) FROM {q(main.name)}")[0])
        if not stamped or stamped * 2 >= total:
            continue
        why = (f"the visit's own cancellation date {column!r} ({stamped} of {total} rows set): cancelled when set, "
               "else booked")
        return Flags([column], f"CASE WHEN a.{q(column)} IS NOT NULL THEN 'cancelled' ELSE 'booked' END",
                     {column: stamped}, why)
    return None


def placed(run: Run, plan: ReadPlan, guesses: list[Guess],
           unplaced: list[str]) -> tuple[list[Guess], list[str], Flags | None]:
    """The status read from the visit's cancellation date where the status placed is a joined
    row's (it gives way); the guesses as they are otherwise. With no status placed at all the
    date is left to the soft-delete rule, which leaves the cancelled rows out of the read."""
    current = next((g for g in guesses if g.field == "status"), None)
    if current is None or plan.tables_of.get(current.source, plan.main.name) == plan.main.name:
        return guesses, unplaced, None  # no status to replace: the date stays a soft-delete (softdelete.py)
    found = find(run, plan, plan.main)
    if found is None:
        return guesses, unplaced, None
    out = plan.expr(found.sql, OUT, plan.main.name, "VARCHAR(16)")
    kept = [g for g in guesses if g.field != "status"] + [found.guess(out)]
    return kept, [u for u in unplaced if u not in found.columns], found
