"""A person's id that holds one value on every sampled visit while the person's name differs:
no id, left out.

Why: a product may keep a column it never writes (a hospital system's appointment keeps
``to_staff_nr``, but its form takes the doctor's name as text, so the number stays 0 on every
row). Named for the doctor and a whole number, it was placed as the doctor's id: every visit then
had the same doctor, one calendar and one agenda for all, the first name seen given to every
visit. A column with one value on every sampled row says nothing about one visit's person,
whatever its name says. It is left out with a note. A doctor is then known by the name the
rows give (the doctor's id read from the name's columns: a name typed the same way is the same
doctor); a patient is not (two patients share a name), so the patient's id is left empty and
`check` says no visit can be reminded.

Also left out: one value that is a "none" (``0``, ``-1``), with no name to tell the persons apart.
Rejected: leaving out a constant id whose name is constant too (a one-doctor practice keeps one
doctor's id on every visit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.values import filled

NAMES = {"practitioner.external_id": "practitioner.name", "patient.external_id": "patient.name"}
MIN_ROWS = 10  # filled sampled rows before one value can be said to be all there is
_NONE = frozenset({"0", "-1"})


def placed(guesses: list[Guess], unplaced: list[str], values: Mapping[str, Sequence[str | None]],
           notes: list[str]) -> tuple[list[Guess], list[str]]:
    """``guesses`` without a person's id read from one column holding one value on every sampled
    row, where the person's name differs between rows (or the value is a none); the column back
    among ``unplaced`` with a note."""
    by_field = {g.field: g for g in guesses}
    kept = []
    for guess in guesses:
        name = by_field.get(NAMES.get(guess.field, ""))
        column = guess.source
        seen = filled(values.get(column, ()))
        if guess.field not in NAMES or guess.spec != {"from": column} or len(seen) < MIN_ROWS \
                or len({v.strip() for v in seen}) != 1:
            kept.append(guess)
            continue
        names = _distinct_names(name, values)
        if names < 2 and not (names == 0 and seen[0].strip() in _NONE):
            kept.append(guess)
            continue
        unplaced = [*unplaced, column]
        person = guess.field.split(".")[0]
        said = (f"{column!r} holds {seen[0].strip()!r} on all {len(seen)} sampled rows"
                + (f" while the {person}'s name differs ({names} names)" if names else "")
                + f": no id tells one {person} from another")
        if person == "practitioner" and name is not None and names >= 2:
            kept.append(Guess(guess.field, name.source, min(name.confidence, 0.7),
                              f"the doctor's name identifies the doctor: {said}", dict(name.spec)))
            notes.append(f"{guess.field}: read from the doctor's name ({name.source}): {said}; a name typed two "
                         "ways is two doctors")
            continue
        notes.append(f"{guess.field}: left out: {said}")
    return kept, unplaced


def _distinct_names(name: Guess | None, values: Mapping[str, Sequence[str | None]]) -> int:
    """How many different names the sampled rows give (the name's columns read together)."""
    if name is None:
        return 0
    columns = [values.get(c, ()) for c in name.source.split(" + ")]
    rows = zip(*columns, strict=False)
    return len({tuple((v or "").strip() for v in row) for row in rows if any(v and v.strip() for v in row)})
