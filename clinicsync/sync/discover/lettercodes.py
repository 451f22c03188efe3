"""A status kept as one-letter codes (``n``, ``p``, ``e``, ``c``: the choices of the product's
code, not words): the one the data proves read, the others asked, never guessed.

Why: a letter says nothing by itself ('p' is paid in one product, pending in another), so every
code was listed unknown and the admin was not told why. One reading the data does give: where a
cancellation's stamp sits beside the status (``cancelled_at``, ``cancellation_date``), the code
whose rows all carry it, while no other code's row does, is the cancelled one. The rest are
listed with a note saying what they are and that the product's documentation says what each
means; `check` quarantines their rows until the admin gives each a status.

Rejected: a letter read as the first letter of a status word ('c' cancelled, 'p' pending): true
in one product and wrong in silence in the next.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import Connection

from clinicsync.sync.discover.proposal import Guess, StatusWord
from clinicsync.sync.discover.readplan import ReadPlan
from clinicsync.sync.discover.sql_reading import run_checked
from clinicsync.sync.discover.vocab import names_cancellation

_DATED = re.compile(r"date|time", re.I)


def _letters(words: Sequence[StatusWord]) -> list[str]:
    """The unknown words that are one letter."""
    return [w.value for w in words if w.status is None and len(w.value.strip()) == 1 and w.value.strip().isalpha()]


def read(connection: Connection, plan: ReadPlan, guess: Guess | None, words: list[StatusWord], kept: str,
         notes: list[str]) -> list[StatusWord]:
    """``words`` with the letter the cancellation stamp proves read as cancelled; a note for the
    letters left unknown."""
    letters = _letters(words)
    if guess is None or guess.source not in plan.select or not letters:
        return words
    stamp = next((o for o in plan.select if names_cancellation(o) and _DATED.search(plan.types.get(o, ""))),
                 None)
    proven: set[str] = set()
    if stamp is not None:
        expr = plan.select[guess.source]
        where = f"\nWHERE {kept}" if kept else ""
        rows = run_checked(connection, f"SELECT {expr}, COUNT(*), COUNT({plan.select[stamp]})\n{plan.from_sql()}"
                                       f"{where}\nGROUP BY {expr}")
        stamped = {str(v): (int(n), int(s)) for v, n, s in rows if v is not None}
        full = [v for v in letters if v in stamped and stamped[v][0] == stamped[v][1] > 0]
        if len(full) == 1 and all(s == 0 for v, (_, s) in stamped.items() if v != full[0] and v in letters):
            proven = set(full)
            notes.append(f"status: {full[0]!r} read as cancelled: every row with it, and no row with another code, "
                         f"has a {stamp!r}")
    out = [StatusWord(w.value, "cancelled", w.count, 0.8) if w.value in proven else w for w in words]
    left = [v for v in letters if v not in proven]
    if left:
        notes.append(f"status: {guess.source!r} holds one-letter codes ({', '.join(sorted(left))}) that no word or "
                     "table of the database explains: their meaning is in the product's documentation; give each "
                     "a status in the mapping's status_map (its rows are quarantined until then)")
    return out
