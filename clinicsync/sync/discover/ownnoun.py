"""A status word that names the row's own kind says the row is booked: 'Appointments' (or
'Appointment') in a table of appointments, 'Booking' in one of bookings.

Why: a diary that writes the state of a row as the word for the row itself (the visit is "in the
appointments" until it moves to waiting, consultation, complete or cancel) keeps most of its
visits ahead under that word, and no vocabulary lists it as a status: every one of them was
quarantined until the admin gave it one. The word and the table agree on what the row is, and
nothing has happened to it yet: booked.
Rejected: the word as a synonym of booked in the vocabulary (in another table, 'Appointment' may
be a kind of visit, or a column's label); a word that only contains the noun ('Appointment
cancelled' says more, and the vocabulary reads it).
"""

from __future__ import annotations

from collections.abc import Sequence

from clinicsync.common.names import name_words
from clinicsync.sync.discover.proposal import StatusWord

CONFIDENCE = 0.7


def _singular(word: str) -> str:
    word = word.lower()
    return word[:-1] if word.endswith("s") and not word.endswith("ss") and len(word) > 3 else word


def table_noun(table: str) -> str | None:
    """The noun a table is named by (its last word, singular; a prefix such as ``ck_`` aside)."""
    words = name_words(table)
    return _singular(words[-1]) if words else None


def read(words: Sequence[StatusWord], table: str) -> tuple[list[StatusWord], str | None]:
    """``words`` with an unknown one that is the table's own noun read as booked, and the note."""
    noun = table_noun(table)
    found = [w.value for w in words if w.status is None and noun is not None
             and len(name_words(w.value)) == 1 and _singular(w.value.strip()) == noun]
    if not found:
        return list(words), None
    out = [StatusWord(w.value, "booked", w.count, CONFIDENCE) if w.value in found else w for w in words]
    note = (f"status word(s) {', '.join(map(repr, found))} name the rows of table {table!r} themselves "
            "(nothing has happened to the visit yet): read as booked")
    return out, note
