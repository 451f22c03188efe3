"""Of a patient's phone columns, the one that holds mobiles first.

French, Spanish or British practice systems keep a landline and a mobile side by side (Mediboard's
``tel`` and ``tel2``, a ``telefono`` and a ``telefono2``) under names that do not say which is
which. The mapping reads the first column with a value, so with the landline first every patient
who has both is texted at home, where no SMS arrives. Where the numbering plan tells mobiles from
landlines (not North America's), the column whose sampled values are more often mobiles goes
first; a name that says mobile (``cell``, ``movil``) was already preferred by the scorer.
"""

from __future__ import annotations

from collections.abc import Sequence

from clinicsync.mappings.transforms import texts_to
from clinicsync.sync.discover.values import filled

MARGIN = 0.3  # more of its filled values mobiles than the first column's, to go before it


def mobile_share(values: Sequence[str | None], region: str) -> float:
    """The share of filled values that are numbers a text message reaches."""
    present = filled(values)
    return sum(texts_to(v, region) for v in present) / len(present) if present else 0.0


def mobile_order(columns: Sequence[tuple[str, Sequence[str | None]]], region: str) -> list[int]:
    """The order to read ``columns`` (name, sampled values) in: unchanged unless a later column
    holds mobiles clearly more often than the first (by ``MARGIN``), which then goes first."""
    shares = [mobile_share(values, region) for _, values in columns]
    best = max(range(len(columns)), key=lambda i: (shares[i], -i))
    if best == 0 or shares[best] - shares[0] < MARGIN:
        return list(range(len(columns)))
    return [best, *(i for i in range(len(columns)) if i != best)]
