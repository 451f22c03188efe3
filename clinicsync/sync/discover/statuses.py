"""What a source's status word means: FHIR's own word, a known synonym in any of the languages
the vocabulary holds (``common/vocabulary.py``), or a word past a one-character marker; and the
note for a word that says a visit moved, which is asked, never guessed. Shared by every discover
path (SQL shapes, CSV, HL7) and the scorer.

Here, and only here, a word that is a status only as a value of the status column
(``vocabulary.STATUS_COLUMN_SYNONYMS``: 'Consultation', the patient with the doctor now) is read:
these functions map the words of a column already chosen as the status. The scorer chooses that
column with ``values.status_of``, which does not know those words (rejected: adding them to
``STATUS_SYNONYMS``, which made a title column full of 'Consultation' the visit's status)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from clinicsync.common.vocabulary import (
    RESCHEDULED_WORDS,
    STATUS_COLUMN_SYNONYMS,
    STATUS_SYNONYMS,
    STATUSES,
    status_key,
)
from clinicsync.sync.discover.proposal import StatusWord
from clinicsync.sync.discover.values import status_of


def status_word(value: str) -> tuple[str | None, float]:
    """The FHIR status a word of the visit's status column means, and how sure: 1.0 for FHIR's
    own word, 0.9 for a known synonym (``vocabulary.STATUS_SYNONYMS``), 0.8 past a
    one-character marker (OpenEMR's ``x Canceled``) or for a word that is a status only in a
    status column (``vocabulary.STATUS_COLUMN_SYNONYMS``: 'Consultation'), (None, 0.0) for a
    word not known. Asked only of the chosen status column's words, never to choose it."""
    key = status_key(value)
    if key in STATUSES:
        return key, 1.0
    if key in STATUS_SYNONYMS:
        return STATUS_SYNONYMS[key], 0.9
    found = status_of(value) or STATUS_COLUMN_SYNONYMS.get(key)
    return (found, 0.8) if found is not None else (None, 0.0)


def rescheduled_note(words: Sequence[StatusWord]) -> str | None:
    """Why a word that says a visit moved (``vocabulary.RESCHEDULED_WORDS``) is left unmapped:
    a product that keeps the old row with it beside a new row at the new time needs the pair
    read as one moved visit (``replaces``), one that moves the row itself needs ``booked``;
    mapping it to booked in the first kind kept the old row live and reminded, so the admin is asked."""
    found = [w.value for w in words if w.status is None and status_key(w.value) in RESCHEDULED_WORDS]
    if not found:
        return None
    return (f"status word(s) {', '.join(repr(w) for w in found)} left unmapped: if the source keeps the old row "
            "with it and books a new row at the new time, map `replaces` to the new row's column naming the old row "
            "and the word to cancelled (the pair is then one moved visit); if the row itself moved, map it to booked")


def status_words(values: Sequence[str | None]) -> list[StatusWord]:
    """Every distinct sampled word of a status column with its count, most common first."""
    counts = Counter(v.strip() for v in values if v is not None and v.strip())
    words = []
    for value, count in counts.most_common():
        status, confidence = status_word(value)
        words.append(StatusWord(value, status, count, confidence))
    return words
