"""Of a typed contact table's several type columns, the one that types every row.

A person's contact details kept as typed rows may carry two type columns: the kind of detail
(PHONE, EMAIL, OTHER) on every row, and a sub-kind that only one kind has (MOBILE, LANDLINE on
the phone rows, empty on the email rows). With two columns named for a type, contactrows.py read
neither, and the patient's phone and email were lost. The rule: the type column filled on every
sampled row is the row's own type when each other one is a sub-type: empty on every row of
some code (the emails), filled on the rows of another (the phones), mixed on none.
Rejected: preferring the column named for its table (``<table>type``), which a name alone
decides, and choosing by the number of codes, which a long list of sub-kinds would win."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.graph import Table

SAMPLE = 200  # rows read to tell the type that every row has from a sub-type
MIN_ROWS = 3  # rows of a code for it to show whether a sub-type column fills them
FILLED = 0.8  # of a code's rows a sub-type fills for that code to have the sub-type


def row_type(run: Callable[[str], list[Any]], quote: Callable[[str], str], table: Table, types: Sequence[str],
             dialect: str) -> str | None:
    """The one column of ``types`` filled on every sampled row of ``table`` while every other is
    empty on some; None when that does not single one out (no rows, or all filled alike)."""
    if len(types) < 2 or table.key is None:
        return None
    columns = ", ".join(f"st.{quote(c)}" for c in types)
    rows = run(first_rows(f"SELECT {columns} FROM {quote(table.name)} AS st ORDER BY st.{quote(table.key)} DESC",
                          SAMPLE, dialect))
    if not rows:
        return None
    filled = [[r[at] is not None and str(r[at]).strip() != "" for r in rows] for at in range(len(types))]
    full = [at for at in range(len(types)) if all(filled[at])]
    if len(full) != 1:
        return None
    own = full[0]
    codes: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        codes.setdefault(str(row[own]), []).append(index)
    if all(_sub_kind(codes, filled[at]) for at in range(len(types)) if at != own):
        return types[own]
    return None


def _sub_kind(codes: dict[str, list[int]], filled: list[bool]) -> bool:
    """Whether a column types the rows of some codes only: empty on every row of one code (the
    emails), filled on most rows of another (the phones), and neither on no code. A column
    empty here and there at random (a patient's record with a blood type and a title left out)
    types no kind, and a row type chosen beside it read phones 'typed' by blood group."""
    empty = some = False
    for rows in codes.values():
        share = sum(filled[i] for i in rows) / len(rows)
        if share == 0 and len(rows) >= MIN_ROWS:
            empty = True
        elif share >= FILLED and len(rows) >= MIN_ROWS:
            some = True
        elif 0 < share < FILLED:
            return False
    return empty and some
