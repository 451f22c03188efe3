"""An event whose parts are rows of their own: its occurrences (one row a start, keyed by the
event and the start) and its participants (one row a person taking part), each row naming the
event by its key, none declared (groupware calendars: an event row with the title, the place,
the owner; the dates and the people beside it).

Why: each part table has a date of its own (an occurrence's start, a reply's recurrence date)
and names one other table, so by shape it scores as the event does and the admin was asked to
pick one of the three with --table. The visit is the row the others' rows refer to: of the
candidates tied at the top, each that refers to another of them is a part of that one and gives
way to it; the one they all refer to is picked. Only a tie is settled so: a candidate that
outscores the row it names (an encounter naming its appointment) keeps its place.
"""

from __future__ import annotations

from clinicsync.sync.discover.graph import Schema, audit


def parent_of_tie(scored: list[tuple[float, str]], schema: Schema) -> list[tuple[float, str]]:
    """``scored`` (score, table, best first) with the tied top candidates that refer to another of
    them left out, when one of them is then left; ``scored`` as it is otherwise."""
    if len(scored) < 2 or scored[0][0] != scored[1][0]:
        return scored
    tied = {name for score, name in scored if score == scored[0][0]}
    parts = {name for name in tied
             if any(r.target in tied and r.target != name and not audit(r.column) for r in schema.refs(name))}
    left = tied - parts
    if len(left) != 1 or not parts:
        return scored
    return [(s, n) for s, n in scored if n not in parts]
