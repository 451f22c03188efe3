"""A visit's place or kind in a second column that the sample barely saw, read again where it
is filled.

Why: complement.py makes a second column the fallback of the placed one when the sampled rows
fill the two apart (a clinic booking names its location group, a room booking its room). It
needs at least two sampled rows that only the second column fills. A kind of visit that is a
tenth of the table is missed by a sample of 50 rows now and then (room bookings, one run in
thirty or so: none or one of them sampled), and then every such visit loses its place and kind
without a word. So a column that reads by its name as the placed field and that fewer than two
sampled rows fill is read again: the rows where it is filled (one query, at most
``REREAD_ROWS``), and the pair judged on them by the same rule as before.
Rejected: a larger sample for every column (every share in every reason moves, and the cost
grows with the width of the table for the sake of one or two columns).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover import complement
from clinicsync.sync.discover.columns import ColumnSample, candidates_of, fields_by_name, path_of, read_column
from clinicsync.sync.discover.probe import Run
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.values import filled

REREAD_ROWS = 50
_MIN_SCORE = 0.5  # the re-read values must carry the field, as a placed column's would


def placed(run: Run, savepoint: Callable[[], Any], plan: ReadPlan, kept: str, samples: Sequence[ColumnSample],
           guesses: list[Guess], unplaced: list[str], region: str, dialect: str,
           notes: list[str]) -> tuple[list[Guess], list[str]]:
    """``guesses`` with a fallback column added to a single-column place or kind where the rows
    the sample missed show one; the column taken off ``unplaced`` and a note said."""
    sampled = {s.name: s for s in samples}
    for at, guess in enumerate(guesses):
        if guess.field not in complement.FIELDS or guess.spec != {"from": path_of(guess.source)} \
                or guess.source not in plan.select:
            continue
        for name in unplaced:
            sample = sampled.get(name)
            if sample is None or name not in plan.select or len(filled(sample.values)) >= complement.MIN_ALONE \
                    or guess.field not in fields_by_name(read_column(sample, region)):
                continue
            pairs = _reread(run, savepoint, plan, kept, guess.source, name, dialect)
            first = [a for a, _ in pairs]
            other = dataclasses.replace(sample, values=[b for _, b in pairs])
            carried = any(c.field == guess.field and c.score >= _MIN_SCORE
                          for c in candidates_of(read_column(other, region)))
            if not carried or not complement.complements(first, other.values):
                continue
            guesses = [*guesses[:at], Guess(
                guess.field, f"{guess.source} + {name}", guess.confidence,
                f"{guess.why}; then {name!r} when it is empty (read again where it is filled: the sample "
                f"held {len(filled(sample.values))} such row(s), {len(pairs)} were read)",
                {"from": [path_of(guess.source), path_of(name)]}), *guesses[at + 1:]]
            unplaced = [u for u in unplaced if u != name]
            notes.append(f"{guess.field}: {name!r} is filled on rows the sample hardly held; read again where it "
                         f"is filled, it names the {guess.field} where {guess.source!r} is empty: its fallback")
            break
    return guesses, unplaced


def _reread(run: Run, savepoint: Callable[[], Any], plan: ReadPlan, kept: str, first: str, other: str,
            dialect: str) -> list[tuple[str | None, str | None]]:
    """(first, other) on the rows where ``other`` is filled; none when the read fails (a view
    the login cannot scan, a timeout): the proposal then stands as it was."""
    condition = f"{plan.select[other]} IS NOT NULL" + (f" AND ({kept})" if kept else "")
    sql = f"SELECT {plan.select[first]}, {plan.select[other]}\n{plan.from_sql()}\nWHERE {condition}"
    try:
        with savepoint():
            rows = run(first_rows(sql, REREAD_ROWS, dialect))
    except SQLAlchemyError:
        return []
    return [(None if a is None else str(a), None if b is None else str(b)) for a, b in rows]
