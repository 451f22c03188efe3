"""The current row of a table kept with history (an address or contact table where a change
closes the old row and opens a new one): ``stop IS NULL``, a ``valid_to``/``end_date`` empty or
in the future, else the newest start.

Why: such a table has several rows per person, most of them closed; the newest key is not
always the current one (a correction re-opens an older row), and an old phone texts a stranger.
"""

from __future__ import annotations

import re

from clinicsync.sync.discover.graph import Table

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


# A text flag that marks a row replaced by a newer one (``outdated`` 'y' beside '' on the row a
# value was changed from): the row's value is history, like a closed row's.
_SUPERSEDED = re.compile(r"^(is_?)?(outdated|obsolete|superseded|stale|replaced|historic(al)?|old|archived)$", re.I)
_TEXT = re.compile(r"char|text|enum", re.I)


def superseded(table: Table) -> list[str]:
    """The table's text columns that flag a row as replaced (its name says so): a row whose flag
    is a true word ('y', 'yes', '1') holds an old value."""
    return [c for c, t in table.columns.items() if _SUPERSEDED.match(c) and _TEXT.search(t)]
