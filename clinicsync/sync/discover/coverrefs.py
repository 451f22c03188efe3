"""Of several tables whose keys hold a column's values, the one those values cover.

Why: with no foreign key, a reference whose name says no table (a booking's ``element_id``
holding the key of the operation it books, a table named for no "element") matches every
table numbered as far: the operation table and the bigger event table both hold 1 … 130.
valuerefs.py leaves such a column unfollowed when its name does not decide, and the visit then
reaches no patient. The values still say which: the column names (nearly) every row of the
table it refers to, and only a part of a bigger table that merely holds the same numbers.

How, for one column and its tied tables only (the caller's ambiguous matches, whose keys hold
its first sampled values): the column's distinct values counted, and how many of them each
table's key holds (a subquery, no literal list). The one table holding ``SHARE`` of them is
taken (a sequence number of act versions beside a smaller table of entity versions: the sample's
first numbers are in both, the later ones only in the first). Of several holding them, the one
whose rows they (nearly) all name (``SHARE`` of its row count) is taken; none when no table or
several are (two tables numbered alike as far: the values cannot decide).

Rejected: the smallest table holding the values (a column naming only some rows of its table,
beside a smaller table numbered 1 … n by chance, would take that one), and coverage without
the full column (the sample keeps the first values only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from clinicsync.sync.discover.graph import Table
from clinicsync.sync.discover.kinds import WHOLE
from clinicsync.sync.discover.probe import Run

SHARE = 0.95  # of the column's distinct values held, and of the table's keys named
MIN_DISTINCT = 10  # distinct values a column needs: a few small numbers cover any small table


def covered(run: Run, quote: Callable[[str], str], owner: Table, column: str,
            targets: Sequence[tuple[Table, str]]) -> tuple[Table, str] | None:
    """The one of ``targets`` (tables and a unique key of each) whose key holds the whole
    column's values, else of those holding them the one whose keys they (nearly) all name; None
    when that does not decide. Only keys of the column's type family are weighed."""
    whole = bool(WHOLE.search(owner.columns[column]))
    alike = [(t, k) for t, k in targets if bool(WHOLE.search(t.columns[k])) == whole]
    if len(alike) < 2:
        return None
    col, table = quote(column), quote(owner.name)
    distinct = int(run(f"SELECT COUNT(DISTINCT {col}) FROM {table}")[0][0] or 0)
    if distinct < MIN_DISTINCT:
        return None
    holding = []
    for target, key in alike:
        held = run(f"SELECT COUNT(DISTINCT {col}) FROM {table} WHERE {col} IN (SELECT {quote(key)} "
                   f"FROM {quote(target.name)})")[0][0]
        if int(held or 0) >= SHARE * distinct:
            holding.append((target, key))
    if len(holding) < 2:
        return holding[0] if holding else None
    named_all = [(t, k) for t, k in holding
                 if distinct >= SHARE * int(run(f"SELECT COUNT(*) FROM {quote(t.name)}")[0][0] or 0)]
    return named_all[0] if len(named_all) == 1 else None
