"""A visit's place or kind read from a second column where the first is empty, when the two
are filled on different rows.

Why: a product books two kinds of visit in one table and names the place or the kind of each by
a different reference: Tamanu's clinic appointment names a location group and an appointment
type, its room booking a location and a booking type, never both. The scorer placed one
column per field, so every room booking had no place and no kind. Two columns that the scorer
reads as the same field and that the sampled rows fill apart (one where the other is empty,
seldom both) are one field written in two places: the first placed, the other its fallback
(``from: [first, other]``), as a second phone is.
Rejected: a fallback for any second candidate (a patient's town beside the clinic's room: both
filled on the same rows, they are two things).
"""

from __future__ import annotations

from collections.abc import Sequence

FIELDS = ("location", "type")
MIN_ALONE = 2  # sampled rows the second column alone fills
MAX_BOTH = 0.1  # of the second column's filled rows, the share the first fills too


def _filled(value: str | None) -> bool:
    return value is not None and value.strip() != ""


def complements(first: Sequence[str | None], other: Sequence[str | None]) -> bool:
    """Whether ``other`` fills the rows ``first`` leaves empty, and seldom the same rows (the
    values of one sample, row by row)."""
    pairs = list(zip(first, other, strict=False))
    alone = sum(1 for a, b in pairs if _filled(b) and not _filled(a))
    both = sum(1 for a, b in pairs if _filled(b) and _filled(a))
    return alone >= MIN_ALONE and both <= MAX_BOTH * (alone + both)
