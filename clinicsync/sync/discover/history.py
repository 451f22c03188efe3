"""The current row of a table kept with history (an address or contact table where a change
closes the old row and opens a new one): ``stop IS NULL``, a ``valid_to``/``end_date`` empty or
in the future, else the newest start.

Why: such a table has several rows per person, most of them closed; the newest key is not
always the current one (a correction re-opens an older row), and an old phone texts a stranger.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from clinicsync.sync.discover.graph import Ref, Schema, Table, audit
from clinicsync.sync.discover.probe import Run

_DATE = re.compile(r"date|time", re.I)
_END = re.compile(r"^(stop|stopped(_?at)?|ended(_?at)?|end(_?(date|time|ts|at|on))?|date_?(end|to|until|stop)|"
                  r"valid_?(to|until|thru|through|end)|effective_?(to|until|end)|to_?date|thru_?date|"
                  r"until|expir(y|es|ed)(_?(date|at|on))?|period_?end)$", re.I)
_START = re.compile(r"^(start|started(_?at)?|start_?(date|time|ts|at|on)|date_?(start|from)|"
                    r"valid_?(from|since|start)|effective_?(from|start|date)?|from_?date|since|period_?start)$",
                    re.I)


def _find(table: Table, pattern: re.Pattern[str]) -> str | None:
    return next((c for c, t in table.columns.items() if pattern.match(c) and _DATE.search(t)), None)


def end_column(table: Table) -> str | None:
    """The date-time column that closes a row of ``table`` (``stop``, ``valid_to`` …), if any."""
    return _find(table, _END)


def start_column(table: Table) -> str | None:
    """The date-time column that opens a row of ``table`` (``start``, ``valid_from`` …), if any."""
    return _find(table, _START)


def current(alias: str, quote: str) -> str:
    """SQL keeping the rows still open (``quote``: the end column, quoted)."""
    return f"({alias}.{quote} IS NULL OR {alias}.{quote} > CURRENT_TIMESTAMP)"


def describe(table: Table) -> str | None:
    """How the current row is chosen, for a proposal's reason; None for a table without history."""
    end, start = end_column(table), start_column(table)
    if end is None and start is None:
        return None
    parts = [f"the row still open ({end!r} empty or in the future)"] if end else []
    if start:
        parts.append(f"the newest {start!r}")
    return "kept with history: " + ", then ".join(parts)


# Rows kept as versions of a stable id (an act and its versions; a concept and its words): every
# change writes a new row for the same id and marks the one in force, by a boolean ``head`` true on
# exactly one row per id, or by an obsolete stamp empty on exactly one row per id.
_BOOL = re.compile(r"bool|bit", re.I)
STABLE_COLUMNS = 3  # columns of the table of stable ids: its key, perhaps a class or template
_STAMP = re.compile(r"date|time", re.I)


def head_of(run: Run, quote: Callable[[str], str], table: Table, by: str) -> str | None:
    """SQL (over the alias put for ``{a}``) keeping ``table``'s one row in force per value of ``by``: a
    boolean true on exactly one row of every id (preferred: set and cleared as versions are
    written), else a date-time column empty on exactly one row of every id; None when the table
    holds one row per id or neither column tells the one in force. Told by the rows, never by the
    column's name: a ``head``, ``is_current`` or ``latest`` flag and an ``obsoleted_at`` or
    ``superseded`` stamp read alike."""
    rows = run(f"SELECT COUNT(*), COUNT(DISTINCT {quote(by)}) FROM {quote(table.name)}")
    total, ids = (int(rows[0][0] or 0), int(rows[0][1] or 0)) if rows else (0, 0)
    if not ids or total == ids:
        return None
    for pattern, kept in ((_BOOL, "{{a}}.{c} = TRUE"), (_STAMP, "{{a}}.{c} IS NULL")):
        for column, type_name in table.columns.items():
            if column == by or not pattern.search(type_name):
                continue
            held = kept.format(c=quote(column))
            row = run(f"SELECT COUNT(*), COUNT(DISTINCT cs_v.{quote(by)}) FROM {quote(table.name)} AS cs_v "
                      f"WHERE {held.format(a='cs_v')}")
            if row and int(row[0][0] or 0) == ids == int(row[0][1] or 0):
                return held
    return None


def versioned_id(run: Run, quote: Callable[[str], str], schema: Schema, table: Table) -> tuple[Ref, str] | None:
    """``table`` as versions of another table's rows: its reference (not its own key) to the
    table of stable ids, several rows for some id, one told in force (``head_of``); the
    reference and the condition (over ``{a}``). None for a table of plain rows."""
    for ref in schema.refs(table.name):
        if ref.target == table.name or ref.column in table.primary_key or audit(ref.column):
            continue
        target = schema.tables.get(ref.target)
        if target is None or target.primary_key != [ref.target_column] or len(target.columns) > STABLE_COLUMNS:
            continue  # the stable row holds its id and little else: what changes is on the versions
        held = head_of(run, quote, table, ref.column)
        if held is not None:
            return ref, held
    return None


def valid_until(run: Run, quote: Callable[[str], str], schema: Schema, table: Table) -> str | None:
    """SQL (over the alias put for ``{a}``) keeping the rows of ``table`` still in force when a row is valid
    from one version to another: two references to the same column of a table (the version it
    took effect and the one it ended) whose rows are versions (``versioned_id``), the first always
    set, the second empty on the rows in force (a participant replaced keeps a row whose ending
    version is set). None otherwise."""
    refs = [r for r in schema.refs(table.name) if r.target != table.name and not audit(r.column)]
    versions: dict[str, bool] = {}
    for first in refs:
        for second in refs:
            if first.column == second.column or (first.target, first.target_column) != \
                    (second.target, second.target_column):
                continue
            if first.target not in versions:  # two codes of one dictionary (a role, a class) are no range
                versions[first.target] = versioned_id(run, quote, schema, schema.tables[first.target]) is not None
            if not versions[first.target]:
                continue
            row = run(f"SELECT COUNT(*), COUNT({quote(first.column)}), COUNT({quote(second.column)}) "
                      f"FROM {quote(table.name)}")
            total, set_first, set_second = (int(v or 0) for v in row[0])
            if total and set_first == total and set_second < total:
                return f"{{a}}.{quote(second.column)} IS NULL"
    return None


# A text flag that marks a row replaced by a newer one (``outdated`` 'y' beside '' on the row a
# value was changed from): the row's value is history, like a closed row's.
_SUPERSEDED = re.compile(r"^(is_?)?(outdated|obsolete|superseded|stale|replaced|historic(al)?|old|archived)$", re.I)
_TEXT = re.compile(r"char|text|enum", re.I)


def superseded(table: Table) -> list[str]:
    """The table's text columns that flag a row as replaced (its name says so): a row whose flag
    is a true word ('y', 'yes', '1') holds an old value."""
    return [c for c, t in table.columns.items() if _SUPERSEDED.match(c) and _TEXT.search(t)]
