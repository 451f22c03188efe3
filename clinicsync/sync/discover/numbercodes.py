"""A status kept as bare numbers that no table of the database names (an enum of the product's
code: 1, 2, 3, 5 …): said so to the admin, never guessed.

Why: a number says nothing by itself (1 is 'scheduled' in one product, 'cancelled' in another)
and, with no lookup table to read (optionstatuses.py reads one when there is), its meaning is in
the product's documentation, not in its data. Discover already lists each code unmapped and
`check` quarantines its rows until the admin maps it; what the admin was not told is why no code
was mapped and what to do with codes that are no visit at all (a plan kept in the chart, a note
on the schedule): ``entered-in-error``, so they are stored as void and never reminded.

Rejected: mapping the codes by the order of their counts (the most frequent is 'booked'): true
often, and wrong in silence where it is not.
"""

from __future__ import annotations

from collections.abc import Sequence

from clinicsync.sync.discover.proposal import Guess, StatusWord

SHOWN = 12  # codes named in the note


def note(guess: Guess | None, words: Sequence[StatusWord]) -> str | None:
    """The note for a status column whose every value is a bare whole number, none mapped; None
    for a column with a word, or a code mapped (a lookup table read, a known code)."""
    if guess is None or not words or any(w.status is not None or not w.value.strip().isdigit() for w in words):
        return None
    codes = sorted((w.value.strip() for w in words), key=int)
    listed = ", ".join(codes[:SHOWN]) + (" …" if len(codes) > SHOWN else "")
    return (f"status: {guess.source!r} holds numbers ({listed}) that no table of the database names: what each "
            "means is the product's (its documentation), not the data's, so none is guessed; give each its "
            "status under status_map (a number that is no visit, a plan or a note, as entered-in-error); "
            "`check` quarantines their rows until then")
