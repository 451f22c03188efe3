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

from clinicsync.sync.discover.mobilefirst import mobile_order


def in_turn(best: str, held: Sequence[tuple[str, Sequence[str | None]]], region: str) -> list[str]:
    """``held``'s columns (name, sampled cells, in the table's order), the one the scorer chose
    first unless another holds mobiles clearly more often, then the rest in the table's order."""
    ordered = [*(c for c in held if c[0] == best), *(c for c in held if c[0] != best)]
    order = mobile_order(ordered, region)
    head = ordered[order[0]][0]
    return [head, *(name for name, _ in held if name != head)]


def describe(columns: Sequence[str]) -> str:
    """What the proposal says of the order."""
    return (f"then {', '.join(map(repr, columns[1:]))} in turn where it is empty (the person's other phone "
            "columns; mobiles first)")
