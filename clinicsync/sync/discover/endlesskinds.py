"""Kinds of rows that have a start but never an end, beside kinds whose rows always have one: tasks
and reminders (a due date, no length) kept in the visits' table, which are no visits.

Why: CRMs keep one "actions" table for events, to-dos, logged calls and notes, a kind code on
each row (X2CRM's ``type``: 'event', NULL for a to-do). A to-do about a contact ("call back with
the results") has a due date and names the contact, so it passes every rule that tells visits by
the patient they name (eventkinds.py), and was imported as a visit: the patient would be reminded
of an appointment that does not exist. A visit is booked for a length; a to-do is due at a moment.
When the visit's end column is placed and its kind column splits the rows with a start into kinds
whose rows hold an end (at least ``WITH`` of them) and kinds whose rows never do (at most
``WITHOUT``), the latter are left out of the query, said so with the counts.

Only with an end column placed (a product that keeps no end says nothing this way), only kinds
whose rows are counted in the table with a start (a note has none and is never read), and as
eventkinds.py writes it: the kinds left out are named, a kind added later is read.
Rejected: leaving out every row without an end (a visit whose end the desk left empty is still a
visit, and takes the default length).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from clinicsync.sync.discover.eventkinds import MAX_KINDS, left_out
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan

WITH = 0.9  # of a visit kind's rows with a start that hold an end
WITHOUT = 0.05  # at most, of a left-out kind's rows with a start that hold an end
FEWEST = 3  # rows a kind needs before it is judged
_PLAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,48}[A-Za-z0-9._-])?")


def _own(plan: ReadPlan, guess: Guess | None) -> str | None:
    """The visit table's own column a guess reads whole, else None."""
    if guess is None or guess.spec.get("from") != guess.source or guess.source not in plan.main.columns:
        return None
    return guess.source if plan.select.get(guess.source) == f"a.{plan.quote(guess.source)}" else None


def kind_filter(run: Run, plan: ReadPlan, by_field: Mapping[str, Guess]) -> tuple[str, str] | None:
    """(the condition leaving out the kinds without an end, the note) or None."""
    kind, end = _own(plan, by_field.get("type")), _own(plan, by_field.get("end"))
    start = by_field.get("start")
    start_column = start.spec.get("from") if start is not None else None
    if kind is None or end is None or not isinstance(start_column, str) or start_column not in plan.main.columns:
        return None
    q, table = plan.quote, plan.quote(plan.main.name)
    rows = run(f"SELECT {q(kind)}, COUNT(*), COUNT({q(end)}) FROM {table} WHERE {q(start_column)} IS NOT NULL "
               f"GROUP BY {q(kind)}")
    if not 1 < len(rows) <= MAX_KINDS:
        return None
    counts = {None if v is None else str(v): (int(n), int(e)) for v, n, e in rows}
    visits = {v for v, (n, e) in counts.items() if e >= WITH * n and n >= FEWEST}
    endless = {v: (n, 0) for v, (n, e) in counts.items() if e <= WITHOUT * n and n >= FEWEST}
    if not visits or not endless or not all(_PLAIN.fullmatch(v) for v in endless if v is not None):
        return None
    said = ", ".join(f"{'no kind' if v is None else repr(v)} ({n} rows, {counts[v][1]} with an end)"
                     for v, (n, _) in sorted(endless.items(), key=lambda i: (i[0] is None, i[0] or "")))
    kept = ", ".join("no kind" if v is None else repr(v) for v in sorted(visits, key=lambda v: (v is None, v or "")))
    return (left_out(f"a.{q(kind)}", endless, kind in plan.main.nullable),
            f"{kind!r}: {said} have a start and no end {end!r}, where {kept} have one: tasks due at a moment, no "
            "visits booked for a length: left out of the query (a kind added later is read)")
