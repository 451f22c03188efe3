"""Of several references from the visit to the doctor's table, the one its rows fill.

Why: a visit may name two users (Tamanu's ``clinician_id`` and ``additional_clinician_id``, a
product's ``doctor_id`` beside ``assistant_doctor_id``); the first declared reference was taken,
and foreign keys are listed by their constraint's name, so ``additional_…`` came before
``clinician_…``: an empty column became every visit's doctor. The rows say which one is the
doctor: the reference filled on the most rows (ties keep the declared order). Rejected: words
for a second role (additional, assistant, backup...), a list that never ends; the count needs none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from clinicsync.sync.discover.graph import Ref, Table
from clinicsync.sync.discover.kinds import Run


def fullest(run: Run, q: Callable[[str], str], table: Table, refs: Sequence[Ref]) -> Ref | None:
    """The reference of ``refs`` (columns of ``table``) filled on the most rows; the only one
    without a read; None for none."""
    if len(refs) < 2:
        return refs[0] if refs else None
    counts = run(f"SELECT {', '.join(f'COUNT({q(r.column)})' for r in refs)} FROM {q(table.name)}")[0]
    best = max(range(len(refs)), key=lambda i: (int(counts[i] or 0), -i))
    return refs[best]
