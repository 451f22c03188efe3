"""A visit cancelled by a flag of its own row (Twenty's ``isCanceled``, ``is_cancelled``,
Mediboard's ``annule``) where no status column says so: the flag is read as the visit's status,
``cancelled`` when set, else ``booked``, rather than leaving the row out of the query as a
deleted one.

Why: a cancelled visit is news for the patient and the desk (a cancellation notice, a freed
time for the waiting list), seen at the next read by the row's change stamp; left out as
deleted it went only at the next delete sweep and read as "deleted at the source". A deletion
stamp beside the flag (``deletedAt``) stays the soft delete: a trashed row is still left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from clinicsync.sync.discover.proposal import Guess, StatusWord
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.softdelete import Flag, kept
from clinicsync.sync.discover.vocab import names_cancellation

OUT = "status"
WORDS = [StatusWord("booked", "booked", 0, 0.8), StatusWord("cancelled", "cancelled", 0, 0.8)]


def applies(gone: Flag | None, guesses: Sequence[Guess]) -> bool:
    """Whether the visit's soft-delete flag says cancelled and nothing else gives the status."""
    return (gone is not None and gone.meaning == "gone" and names_cancellation(gone.column)
            and not any(g.field == "status" for g in guesses))


def guess(plan: ReadPlan, gone: Flag) -> Guess:
    """The status expression over the visit's row, and why."""
    standing = kept(gone, "a", plan.quote(gone.column))
    out = plan.expr(f"CASE WHEN {standing} THEN 'booked' ELSE 'cancelled' END", OUT, plan.main.name, "VARCHAR(16)")
    return Guess("status", out, 0.8, f"the visit's table has no status column; its flag {gone.column!r} set means "
                 "cancelled (the visit is kept and its patient told), else booked", {"from": out})
