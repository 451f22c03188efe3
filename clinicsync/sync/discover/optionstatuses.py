"""A status column of codes read through the shared list table that holds their words.

Why: a status kept as a number ('1', '2', '8') is no word the status vocabulary knows, so every
code was left for the admin to type. When one list of an option table (optionlists.py) covers
the codes and its labels read as status words ('Scheduled', 'Completed', 'No-show'), each code
takes its label's status; a code whose label says no known status stays unknown (asked).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from clinicsync.sync.discover.optionlists import OptionList, choose
from clinicsync.sync.discover.proposal import StatusWord
from clinicsync.sync.discover.statuses import status_word

CONFIDENCE = 0.8  # of the label's own reading: the list was chosen, not declared


def _status(texts: tuple[str, ...]) -> tuple[str | None, float]:
    """The status a code's words say: its label first, then its name."""
    for text in texts:
        found = status_word(text)
        if found[0] is not None:
            return found
    return None, 0.0


def _mostly_statuses(labels: Sequence[tuple[str, ...]]) -> bool:
    """At least half the codes' labels are status words: the list is a status list."""
    return 2 * sum(_status(t)[0] is not None for t in labels) >= len(labels)


def read(lists: Iterable[OptionList], column: str, table: str,
         words: Sequence[StatusWord]) -> tuple[list[StatusWord], str] | None:
    """The status words with each unknown code read through its list's label, and the note
    saying which list; None when no one list covers the codes as status words."""
    unknown = [w for w in words if w.status is None]
    if not unknown:
        return None
    option = choose(lists, column, table, [w.value for w in words], _mostly_statuses)
    if option is None:
        return None
    out = []
    for word in words:
        status, sure = _status(option.words_of(word.value))
        out.append(word if word.status is not None or status is None else
                   StatusWord(word.value, status, word.count, round(sure * CONFIDENCE, 2)))
    said = ", ".join(f"{w.value!r} {option.words_of(w.value)[0]!r}" for w in out if option.words_of(w.value))
    left = [w.value for w in out if w.status is None]
    note = (f"status codes of {column!r} read through table {option.table!r}, list {option.group!r}: {said}"
            + (f"; {', '.join(map(repr, left))} say no known status: give them one in the mapping file"
               if left else ""))
    return out, note
