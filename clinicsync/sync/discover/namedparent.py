"""What a table's name says about the rows it belongs to, for references found by values
(valuerefs.py): a table named as another table plus more words (``pretixbase_event_settingsstore``
beside ``pretixbase_event``, ``wp_latepoint_booking_meta`` beside ``wp_latepoint_bookings``)
keeps rows of that table, and a word that is the last word of a table's name (``item`` of
``pretixbase_item``) names that table.

Why: frameworks keep an object's settings or meta rows in a table named for it, pointing at it by
a generic column (``object_id``) that names no table; and a word that elsewhere numbers a row
(an ``item`` of a list, an ``object``) is, when a table is named by it, a reference to that
table. Without the keys declared, neither was found: the event's zone and the product a ticket
sold were not reached.
"""

from __future__ import annotations

from collections.abc import Iterable

from clinicsync.common.names import name_words
from clinicsync.sync.discover.kinds import stems


def _word_list(name: str) -> list[str]:
    """A name's words in order, each as ``stems`` reads it (``Bookings`` -> booking)."""
    return [next(iter(stems(w)), w) for w in name_words(name)]


def named_parent(owner: str, tables: Iterable[str]) -> str | None:
    """The table whose name ``owner``'s name begins with, word by word, and adds words to: the
    longest such (None when no table is so named)."""
    mine = _word_list(owner)
    found = [(len(theirs), name) for name in tables if name != owner
             and 0 < len(theirs := _word_list(name)) < len(mine) and mine[:len(theirs)] == theirs]
    return max(found)[1] if found else None


def head_words(tables: Iterable[str]) -> dict[str, str]:
    """Each table's last word (as ``stems`` reads it) with that table: the word names it."""
    out: dict[str, str] = {}
    for name in tables:
        words = _word_list(name)
        if words:
            out.setdefault(words[-1], name)
    return out
