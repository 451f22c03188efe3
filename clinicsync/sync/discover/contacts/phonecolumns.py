"""A person's row with several phone columns (a desk's ``Tel1``, ``Tel2``, ``Tel3``): every one
read, in the order a text message reaches them, each where the ones before it are empty.

Why: French practice systems keep up to three numbers on the patient's sheet (MedinTux's
``fchpat.FchPat_Tel1..3``, each with a free-text kind beside it), the landline typed first and
the mobile second, or both in one cell ("04 78 12 34 56 / 06 12 34 56 78"). Taking the one
column most often a phone left every patient who has only a landline, or whose mobile sits in
the first cell, without a number. The column whose numbers are mobiles more often goes first
(mobilefirst.py: where the region's numbering plan tells them apart), the others follow in the
table's order; a cell of several numbers is read by the mapping as its first mobile.

Rejected: reading only the mobiles' column (a patient with a landline alone gets no call); a
fixed order by the columns' names (``Tel1`` is a mobile as often as a landline elsewhere).
"""

from __future__ import annotations

from collections.abc import Sequence

from clinicsync.sync.discover.contacts.mobilefirst import mobile_order

COPY = 0.9  # of the rows where both are filled, the same digits: a copy of the number, not another


def in_turn(best: str, held: Sequence[tuple[str, Sequence[str | None]]], region: str) -> list[str]:
    """``held``'s columns (name, sampled cells of the same rows, in the table's order), the one
    the scorer chose first unless another holds mobiles clearly more often, then the rest in the
    table's order; a column that copies another's number in other characters (CiviCRM's
    ``phone_numeric`` beside ``phone``) is left out: it adds no number."""
    kept: list[tuple[str, Sequence[str | None]]] = []
    for column in [*(c for c in held if c[0] == best), *(c for c in held if c[0] != best)]:
        if not any(_copies(column[1], other[1]) for other in kept):
            kept.append(column)
    order = mobile_order(kept, region)
    head = kept[order[0]][0]
    return [head, *(name for name, _ in held if name != head and any(name == k for k, _ in kept))]


def _digits(cell: str | None) -> str:
    return "".join(c for c in cell or "" if c.isdigit())


def _copies(cells: Sequence[str | None], others: Sequence[str | None]) -> bool:
    """Whether ``cells`` hold ``others``' numbers on the same rows: the same last nine digits
    (a leading 0 or a country code aside) on at least ``COPY`` of the rows where both are filled."""
    both = [(_digits(a), _digits(b)) for a, b in zip(cells, others, strict=False) if _digits(a) and _digits(b)]
    return bool(both) and sum(a[-9:] == b[-9:] for a, b in both) >= COPY * len(both)


def describe(columns: Sequence[str]) -> str:
    """What the proposal says of the order."""
    return (f"then {', '.join(map(repr, columns[1:]))} in turn where it is empty (the person's other phone "
            "columns; mobiles first)")
