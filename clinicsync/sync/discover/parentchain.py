"""A visit that reaches its patient only through the rows it belongs to: a place on a theatre list
names the operation it books, the operation its clinical event, the event the patient's episode
of care, the episode the patient (``booking.element_id`` -> ``operation.event_id`` -> ``event.episode_id``
-> ``episode.patient_id`` -> ``patient``). No column of the visit's row names a person.

Why: the rules that look for the patient look at the visit's own references and at the rows that
refer to it (attendees, link tables); four hops up they found nothing, and took whoever the
nearest rows named (a user who cancelled, a site) for the patient. Each row on the way is the
visit's owner: one per visit, reached by the row's own reference (many rows to one), so the
join keeps one row per visit. The shortest such chain to a table named for the patient is
followed when it is the only one that short; each row on it that carries a soft-delete flag
withdraws the visit when deleted (an event or an episode entered in error, deleted with its
bookings), as the patient's own flag does.
"""

from __future__ import annotations

from clinicsync.sync.discover.graph import Ref, Schema, audit
from clinicsync.sync.discover.kinds import kind_of

MAX_HOPS = 5  # the visit's row, then at most four rows it belongs to before the patient


def find(schema: Schema, main: str) -> list[Ref] | None:
    """The only shortest chain of references (two hops or more) from ``main`` up to a table whose
    name says the patient, or None (none, or two as short)."""
    level: list[list[Ref]] = [[r] for r in schema.refs(main) if _hop(r, main)]
    seen = {main} | {c[-1].target for c in level}
    for depth in range(2, MAX_HOPS + 1):
        below = [[*chain, r] for chain in level for r in schema.refs(chain[-1].target)
                 if _hop(r, main) and r.target not in seen and r.target in schema.tables]
        found = [c for c in below if kind_of(c[-1].target) == "patient"]
        if found:
            return found[0] if len(found) == 1 else None
        seen |= {c[-1].target for c in below}
        level = below
        if depth == MAX_HOPS:
            break
    return None


def _hop(ref: Ref, main: str) -> bool:
    """A reference the chain may take: a row's own, not who entered or changed it, not back to
    the visit, nor to a person's row on the way (a user who cancelled is nobody the visit is for)."""
    return not audit(ref.column) and ref.target != main and ref.target != ref.table \
        and kind_of(ref.target) != "person"
