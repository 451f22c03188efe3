"""A visit approved by a 0/1 flag instead of a status word: a booking plugin keeps ``approved``
1 once the clinic accepted the request, 0 while it waits (Booking Calendar's
``wp_bookingdates.approved``, read per visit by daterows.py).

Why: with no status column that holds words, the status was left out and every request waiting
for the clinic's answer was imported as booked and reminded as if it stood. So where the scorer
placed no status, a whole-number column of the read whose name says approved, confirmed or
accepted and whose sampled values are only 0 and 1 is the status: ``booked`` on 1, ``pending``
on 0 (NULL counts as not approved). A cancellation flag is cancelflags.py's, and a flag that
is the status by cancelling (cancelstatus.py) comes first: a record ``valide`` beside ``annule``
(Mediboard) is no approval of the visit, and such a word is not read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from clinicsync.sync.discover.proposal import Guess, StatusWord
from clinicsync.sync.discover.readplan import ReadPlan

OUT = "status"
_APPROVED = re.compile(r"^(is_?)?(approved|confirmed|accepted|aprobad[oa]|confirmad[oa])$", re.I)
WORDS = [StatusWord("booked", "booked", 0, 0.8), StatusWord("pending", "pending", 0, 0.8)]


def placed(plan: ReadPlan, guesses: list[Guess], unplaced: list[str],
           values: Mapping[str, Sequence[str | None]]) -> tuple[list[Guess], list[str], bool]:
    """The status read from an approval flag where no status is placed; whether it was."""
    if any(g.field == "status" for g in guesses):
        return guesses, unplaced, False
    for out in plan.select:
        seen = {v.strip() for v in values.get(out, ()) if v is not None}
        if not _APPROVED.match(out) or not seen or not seen <= {"0", "1"}:
            continue
        sql = f"CASE WHEN COALESCE({plan.select[out]}, 0) = 1 THEN 'booked' ELSE 'pending' END"
        status = plan.expr(sql, OUT, plan.tables_of[out], "VARCHAR(16)")
        guess = Guess("status", status, 0.75, f"the 0/1 flag {out!r}: booked on 1, pending (awaiting the clinic's "
                                                "answer) on 0", {"from": status})
        return [*guesses, guess], [u for u in unplaced if u != out], True
    return guesses, unplaced, False
