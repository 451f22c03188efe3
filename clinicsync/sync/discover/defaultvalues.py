"""A place, kind or visit mode whose every sampled value is the column's declared default.

Why: a column that no screen of the product fills keeps what the table definition gives every
new row: a CRM's meeting ``type`` is ``'Sugar'`` on every row (the meeting provider, not the
visit's kind), a ``location`` is ``'Main office'``. Placed, it tells every patient the same word
about their visit, which is noise or wrong. A column whose sampled values are all its default
says nothing about one visit; it is left out, and the reason names the default.
Rejected: leaving out any column with one value on every row (one word as people write it,
``Consultation``, where the product has no default, is the visit's kind).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.values import filled

FIELDS = ("type", "location", "visit_mode")
MIN_ROWS = 5  # filled sampled rows before a default can be said to be all there is
# A text literal as the catalogues write a default: 'Sugar' (MySQL, SQLite), 'Sugar'::character
# varying (PostgreSQL), N'Sugar' (SQL Server), in parentheses or not.
_LITERAL = re.compile(r"\(*N?'((?:[^']|'')*)'(?:::[\w ]+)?\)*")


def declared_defaults(defaults: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each column's default text literal, from the catalogue's defaults as the schema read them
    (``graph.Table.defaults``: column, default as written); columns whose default is no text
    literal (a number, a function) are not listed."""
    found = {}
    for name, written in defaults:
        match = _LITERAL.fullmatch(written.strip())
        if match is not None and match.group(1).strip():
            found[name] = match.group(1).replace("''", "'")
    return found


def placed(defaults: Mapping[str, str], plan: ReadPlan, guesses: list[Guess], unplaced: list[str],
           values: Mapping[str, Sequence[str | None]], notes: list[str]) -> tuple[list[Guess], list[str]]:
    """``guesses`` without the fields of ``FIELDS`` read from a visit column holding only its
    declared default on the sampled rows; the column back among ``unplaced`` with a note."""
    kept = []
    for guess in guesses:
        column = guess.source
        default = defaults.get(column)
        seen = filled(values.get(column, ()))
        if guess.field not in FIELDS or default is None or guess.spec != {"from": column} \
                or plan.select.get(column) != f"a.{plan.quote(column)}" or len(seen) < MIN_ROWS \
                or any(v.strip() != default.strip() for v in seen):
            kept.append(guess)
            continue
        unplaced = [*unplaced, column]
        notes.append(f"{guess.field}: left out: {column!r} holds {default!r} on all {len(seen)} sampled rows, the "
                     "value its table gives a row by default (nobody set it): nothing about one visit; map it by "
                     "hand if the product does fill it")
    return kept, unplaced
