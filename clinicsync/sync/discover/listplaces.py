"""A dated list and its places: a theatre list, a clinic session, a surgery block is a row with
a day and its opening and closing times; each patient booked on it is a row of its own that
names the list and holds the patient's own time of day on that day (``admission_time``).

Why: both rows are dated and both name a product's booking words, so they tie; a tie went to
the row the other refers to (eventparts.py: an event beside its participants), and the list was
read as the visits, one per list, with no patient. A row that names a dated row and keeps a
time of day of its own, not a copy of the list's (copiedcolumns.py), is a place on that list:
the visit is the place, the list only its day. Settled only where the place scores at least as
the list."""

from __future__ import annotations

import re

from clinicsync.sync.discover.copiedcolumns import copied_columns
from clinicsync.sync.discover.graph import Ref, Schema, Table, audit
from clinicsync.sync.discover.stamps import stamp_columns

_TIME_OF_DAY = re.compile(r"^time\b(?!stamp)", re.I)
_DAY = re.compile(r"^date\b|datetime|timestamp", re.I)


def own_times(schema: Schema, table: Table) -> list[str]:
    """``table``'s time-of-day columns (a TIME type) that are neither copies nor stamps."""
    copies, stamps = copied_columns(schema, table), set(stamp_columns(table))
    return [c for c, t in table.columns.items() if _TIME_OF_DAY.match(t.strip()) and c not in copies
            and c not in stamps]


def _dated(table: Table) -> bool:
    """A list's row: a day and its own times of day (a session's date, its opening and closing)."""
    return any(_DAY.search(t.strip()) for t in table.columns.values()) \
        and any(_TIME_OF_DAY.match(t.strip()) for t in table.columns.values())


def list_of(schema: Schema, table: Table, ref: Ref) -> bool:
    """Whether ``ref`` names the dated list ``table``'s rows are places on: what the visit is
    booked into, whose team or owner sees the patient (doctors.candidates)."""
    return not audit(ref.column) and ref.target != table.name and ref.target in schema.tables \
        and _dated(schema.tables[ref.target]) and bool(own_times(schema, table))


def give_way(scored: list[tuple[float, str]], schema: Schema) -> list[tuple[float, str]]:
    """``scored`` (score, table, best first) without the lists whose places are candidates scoring
    at least as they do; as it is otherwise."""
    score = {name: s for s, name in scored}
    lists = set()
    for name, mine in score.items():
        table = schema.tables[name]
        if not own_times(schema, table):
            continue
        lists |= {r.target for r in schema.refs(name)
                  if not audit(r.column) and r.target != name and r.target in score and score[r.target] <= mine
                  and _dated(schema.tables[r.target])}
    return [(s, n) for s, n in scored if n not in lists] if lists else scored
