"""Status words a quarantine reason hid, named by `check` once they repeat.

A sync's quarantine reason is about one record, so it shows a status word the mapping does not
know only when it has a status's shape (mappings/model.py ``quoted_status``): a name typed in
the status column must not reach a log. `check` reads the whole source, so it can count: a word
that repeats on ``VOCABULARY_ROWS`` rows or more is the product's vocabulary, and the admin
needs the word itself to map it ("status: unknown status word 'Facturado' …", not
"value not shown: 1 capitalized word, 9 characters"). A word on fewer rows, or of no word's
shape (digits, an '@', a sentence), stays described. The raw words are held in memory only,
at most ``KEEP_WORDS`` of them, and never printed unless they pass.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from clinicsync.mappings.model import quoted_status

KEEP_WORDS = 200  # distinct hidden words counted; a column with more is no status column
_DESCRIBED = re.compile(r"\(value not shown: [^)]*\)")
_UNQUOTED_MAP = "value not in the mapping's value map"


def _named(reason: str, quoted: str) -> str | None:
    """``reason`` with the word in place of its description (None: the reason has no place)."""
    if _DESCRIBED.search(reason):
        return _DESCRIBED.sub(lambda _: quoted, reason, count=1)
    if _UNQUOTED_MAP in reason:  # a `status: map:` without `quote: true` says no value at all
        return reason.replace(_UNQUOTED_MAP, f"value {quoted} not in the mapping's value map", 1)
    return None


class HiddenStatusWords:
    """Counts the raw status word of each record quarantined for its status, by reason."""

    def __init__(self, column: str | None) -> None:
        self.column = column  # the raw column status is read from (None: not one plain column)
        self.rows: Counter[tuple[str, str]] = Counter()  # (reason, word) -> records
        self.first: dict[tuple[str, str], str] = {}  # (reason, word) -> first position

    def add(self, reason: str, record: Mapping[str, Any], position: str) -> None:
        if self.column is None or not reason.startswith("status:"):
            return
        value = record.get(self.column)
        word = str(value).strip() if value is not None else ""
        key = (reason, word)
        if word and (key in self.rows or len(self.rows) < KEEP_WORDS):
            self.rows[key] += 1
            self.first.setdefault(key, position)

    def name(self, quarantined: Counter[str], examples: dict[str, str]) -> None:
        """Move each repeated vocabulary word's records to a reason that names it."""
        moved: set[tuple[str, str]] = set()
        for (reason, word), count in self.rows.items():
            quoted = quoted_status(word, count)
            if not quoted.startswith("'") or f"{quoted}" in reason:
                continue  # still described, or the reason already shows it
            named = _named(reason, quoted)
            if named is None:
                continue
            quarantined[reason] -= count
            if quarantined[reason] <= 0:
                del quarantined[reason]
                examples.pop(reason, None)
            quarantined[named] += count
            examples.setdefault(named, self.first[(reason, word)])
            moved.add((reason, word))
        for reason in {reason for reason, _ in moved if reason in quarantined}:  # its example moved away
            if examples.get(reason) in {self.first[key] for key in moved if key[0] == reason}:
                examples[reason] = next(p for (r, w), p in self.first.items() if r == reason and (r, w) not in moved)
