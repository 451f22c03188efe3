"""A visit's length split over two whole-number columns, hours and minutes (CRM meetings:
``duration_hours`` + ``duration_minutes``, where a one-hour meeting keeps minutes 0).

Why: the scorer places the minutes column alone as ``duration_minutes`` (its name says so and
0, 15, 30, 45 look like lengths), and every visit of an hour or more then lasts its leftover
minutes: an hour-long visit becomes zero minutes long. So when the visit's own row has both
columns of one stem (``<stem>_hours`` and ``<stem>_minutes``, ``<stem>`` a length word or
none), the length is read as one expression, hours times 60 plus minutes; an empty part counts
as 0. Placed only where the scorer took the minutes column or no length at all; an ``end``
column, when there is one, still comes first in the mapping engine.
"""

from __future__ import annotations

import re

from clinicsync.sync.discover.kinds import WHOLE
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan

_HOURS = re.compile(r"^(?P<stem>(duration|length|dur|len)_?)?(hours|hrs|horas|stunden)$", re.I)
_MINUTES = ("minutes", "mins", "minutos", "minuten")
OUT = "length_minutes"


def _pair(plan: ReadPlan) -> tuple[str, str] | None:
    """The visit's (hours, minutes) columns of one stem, whole numbers both; None when none."""
    columns = {c.lower(): c for c, t in plan.main.columns.items() if WHOLE.search(t)}
    for lowered, hours in columns.items():
        found = _HOURS.match(lowered)
        if found is None:
            continue
        stem = found.group("stem") or ""
        minutes = next((columns[stem + m] for m in _MINUTES if stem + m in columns), None)
        if minutes is not None:
            return hours, minutes
    return None


def placed(plan: ReadPlan, guesses: list[Guess], unplaced: list[str],
           notes: list[str] | None = None) -> tuple[list[Guess], list[str]]:
    """``guesses`` with ``duration_minutes`` read from both columns, when the visit has the pair
    and the scorer took its minutes column or no length; both taken off ``unplaced``, and the
    scorer's ``notes`` about either column (``duration_hours: a time with no date column``: its
    0..23 read as hours of a day) taken off ``notes``: the column is a length's part, no clock."""
    pair = _pair(plan)
    current = next((g for g in guesses if g.field == "duration_minutes"), None)
    if pair is None or (current is not None and current.spec.get("from") != pair[1]):
        return guesses, unplaced
    hours, minutes = pair
    q = plan.quote
    out = plan.expr(f"COALESCE(a.{q(hours)}, 0) * 60 + COALESCE(a.{q(minutes)}, 0)", OUT, plan.main.name, "INTEGER")
    guess = Guess("duration_minutes", out, 0.8, f"the length in two columns: {hours!r} x 60 + {minutes!r} "
                                                "(an hour-long visit keeps 0 minutes)", {"from": out})
    kept = [g for g in guesses if g.field != "duration_minutes"] + [guess]
    if notes is not None:
        notes[:] = [n for n in notes if not any(n.startswith(f"{column}: a time with no ") for column in pair)]
    return kept, [u for u in unplaced if u not in pair]
