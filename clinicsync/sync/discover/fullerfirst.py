"""A person's phone or email read first from the column that reaches more visits, when the
person's typed rows and a column of the person's own row both hold it.

Why: a person kept in a contacts row with its own ``email`` and ``phone_number`` columns can also
own typed rows (``contact_details``: 'mobile', 'email', one per row). The people part read the
typed rows over the row's own columns, always: where only some persons have a typed 'email' row
(the others' address is on their contacts row) most visits got no email, and where the doctors
have no typed row at all every doctor's email was empty, though each doctor's own row had one
and the scorer had placed it. The sampled visits tell which of the two reaches the person: the
one filled on more of them is read first, the other where it is empty (``from: [first,
other]``), as a second phone is. Where the typed rows reach as many visits they stay first (a
number changed in a details tab is newer than the copy on the row).
Rejected: the row's column always first (the typed 'mobile' row is the number a product shows
when its own column is a stale copy, or empty for a person added by a quick form); a column of
another row (a clinic's email beside its doctor's): only a column read from the very row the
typed rows belong to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from clinicsync.sync.discover.proposal import Guess

FIELDS = ("patient.phone", "patient.email", "practitioner.email")


def _outs(guess: Guess | None) -> list[str]:
    """The columns a guess reads in turn (``from:`` one or a list), none for another spec."""
    source = (guess.spec if guess is not None else {}).get("from")
    if isinstance(source, str):
        return [source]
    return [s for s in source if isinstance(s, str)] if isinstance(source, list) else []


def _reach(texts: Mapping[str, Sequence[str | None]], outs: Sequence[str]) -> int:
    """Of the sampled visits, how many one of ``outs`` fills."""
    columns = [texts[o] for o in outs]
    return sum(1 for row in zip(*columns, strict=True) if any(v is not None and str(v).strip() for v in row))


def placed(guesses: Sequence[Guess], scored: Sequence[Guess], typed_rows: Mapping[str, str],
           select: Mapping[str, str], texts: Mapping[str, Sequence[Any]],
           unplaced: Sequence[str]) -> tuple[list[Guess], list[str]]:
    """``guesses`` with each person field read from typed rows put after the scorer's column of
    the same person's row where that column reaches more sampled visits; the columns left."""
    theirs_by_field = {g.field: g for g in scored}
    out: list[Guess] = []
    taken: set[str] = set()
    for guess in guesses:
        other = theirs_by_field.get(guess.field)
        mine = _outs(guess)
        rows = {typed_rows.get(o) for o in mine}
        alias = next(iter(rows)) if len(rows) == 1 else None
        theirs = [o for o in _outs(other) if alias is not None and select.get(o, "").startswith(f"{alias}.")]
        if (guess.field not in FIELDS or other is None or not mine or not theirs or alias is None
                or set(mine) & set(theirs) or any(o not in texts for o in [*mine, *theirs])):
            out.append(guess)
            continue
        first, second = _reach(texts, theirs), _reach(texts, mine)
        if first <= second:
            out.append(guess)
            continue
        n = len(next(iter(texts.values()), []))
        why = (f"{', '.join(map(repr, theirs))}, a column of the person's own row; read first: it reaches "
               f"{first} of {n} sampled visits, the typed rows {guess.source!r} {second} ({guess.why}), read "
               "where it is empty")
        both = [*theirs, *mine]
        out.append(Guess(guess.field, " + ".join(both), min(guess.confidence, other.confidence), why,
                         {"from": both}))
        taken.update(theirs)
    return out, [c for c in unplaced if c not in taken]
