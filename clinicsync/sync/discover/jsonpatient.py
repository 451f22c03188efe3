"""Rows whose JSON text that names the patient is empty name no patient: left out of the query.

Why: where no column names the patient and the patient is read from a JSON text of the visit's
own (a calendar event's attendee list, a booking form's answers: jsontext.py), a row with no
such text (a doctor's day off, a lunch break: an event nobody is invited to) is no visit, yet it
was read as one, a visit without a patient on the doctor's agenda. A column that names the
patient gets the same rule where it is empty (people.py's open slots); this is that rule for a
JSON text: NULL, '' or an empty list ('[]') name no one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan

_TEXT = re.compile(r"char|text|clob|string", re.I)


def empty_filter(run: Run, plan: ReadPlan, guesses: Sequence[Guess], json_columns: Sequence[str]
                 ) -> tuple[str, str] | None:
    """(the condition keeping the rows whose JSON text names someone, the note) when the patient's
    id is read from one of ``json_columns`` (a column of the visit's own) and some rows leave it
    empty; else None."""
    patient = next((g for g in guesses if g.field == "patient.external_id"), None)
    if patient is None:
        return None
    source = patient.source
    column = next((c for c in json_columns if source.startswith((f"{c}[", f"{c}.")) and c in plan.main.columns
                   and plan.select.get(c) == f"a.{plan.quote(c)}"), None)
    if column is None or not _TEXT.search(plan.types.get(column, "")):  # a json/jsonb column has no TRIM
        return None
    q = plan.quote
    named = f"a.{q(column)} IS NOT NULL AND TRIM(a.{q(column)}) NOT IN ('', '[]', '{{}}')"
    total, kept = run(f"SELECT COUNT(*), COUNT(CASE WHEN {named} THEN 1 END) FROM {q(plan.main.name)} AS a")[0]
    if not 0 < int(kept) < int(total):
        return None
    return (f"({named})", f"{int(total) - int(kept)} of {int(total)} rows have no {column!r} (nobody invited: a day "
                          f"off, a break): they name no patient, left out of the query")
