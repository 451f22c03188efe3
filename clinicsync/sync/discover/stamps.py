"""The change stamp of a joined read, for an incremental `sql` connector: one column
that moves whenever any table the query reads changes, not only the appointment's own row.

Why: a patient's new phone is a new row in an attribute table; a cursor on the appointment's
``date_changed`` never sees it, and the store keeps the old number. The stamp is the
``GREATEST`` of every joined table's stamps, and of the newest stamp among a person's rows in a
names or contacts table (``MAX`` in a correlated subquery, so that a voided row with no
successor counts too).

NULLs are dealt with explicitly: a ``date_changed`` set only on update is NULL on rows never
changed (``COALESCE(changed, created)``), a LEFT JOIN finds no row, and MySQL/MariaDB's
``GREATEST`` is NULL when any argument is (PostgreSQL's ignores them): every term falls back to
the appointment's own stamp, so the whole never is NULL where the appointment has one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from clinicsync.sync.discover.graph import Table
from clinicsync.sync.discover.proposal import Guess

# 'tstamp': a date-time stamp abbreviated (``DateTStamp``, ``tstamp``), the row's own change stamp
_STAMP = re.compile(r"creat|chang|updat|modif|void|retir|delet|edit|mtime|ctime|actualiz|alta|geaendert|tstamp|"
                    r"write_?(date|at|time)", re.I)
_CHANGED = re.compile(r"chang|updat|modif|edit|mtime|actualiz|geaendert|tstamp|write_?(date|at|time)", re.I)
_CREATED = re.compile(r"creat|ctime|alta", re.I)
_MOMENT = re.compile(r"timestamp|datetime", re.I)
_OUTS = re.compile(r" \+ | \| ")  # a guess's source: its output columns, joined (" + ") or in turn (" | ")


def stamp_columns(table: Table) -> list[str]:
    """The table's date-time columns that say when a row was written, changed or voided:
    the change stamps first, the creation stamp last (the one always set)."""
    found = [c for c, t in table.columns.items() if _MOMENT.search(t) and _STAMP.search(c)]
    return sorted(found, key=lambda c: 0 if _CHANGED.search(c) else 2 if _CREATED.search(c) else 1)


def unstamped_sources(guesses: Iterable[Guess], tables_of: Mapping[str, str], tables: Mapping[str, Table],
                      main: str) -> dict[str, list[str]]:
    """The joined or child tables that supply a placed field and carry no stamp at all: table ->
    the fields it supplies. No cursor moves when they change (a patient's new phone in a
    contacts table), so such a read must be a snapshot. A table the query joins but no placed
    field reads (a status list, a type list) is not one: what it holds reaches no stored visit.
    A table with only a creation stamp (``created_at``, ``date_created``) counts as unstamped:
    a row added moves that stamp, a row edited in place (a number corrected) does not, so a
    cursor on it would miss the edit."""
    found: dict[str, list[str]] = {}
    for guess in guesses:
        for out in _OUTS.split(guess.source):
            table = tables_of.get(out.strip())
            if table is None or table == main or table not in tables or changes(tables[table]):
                continue
            fields = found.setdefault(table, [])
            if guess.field not in fields:
                fields.append(guess.field)
    return dict(sorted(found.items()))


def changes(table: Table) -> bool:
    """Whether a stamp of the table moves when a row is edited in place: any stamp that is not
    only a creation stamp (an update stamp, or a void/retire/delete stamp of a product that
    edits by voiding a row and writing a new one)."""
    return any(not is_creation(c) or is_change(c) for c in stamp_columns(table))


def creation_only(table: Table) -> list[str]:
    """The table's creation stamps when it has no other stamp (empty otherwise): named in the
    reason a read over it is a snapshot."""
    return [] if changes(table) else stamp_columns(table)


def is_creation(column: str) -> bool:
    """A stamp set when the row is written first (``date_created``, ``created_at``)."""
    return bool(_CREATED.search(column))


def greatest(dialect: str) -> str:
    """The dialect's many-argument maximum (SQLite spells it ``MAX``)."""
    return "MAX" if dialect == "sqlite" else "GREATEST"


def is_change(column: str) -> bool:
    """A stamp that moves when the row changes (``date_changed``, ``updated_at``, Tryton's and
    Odoo's ``write_date``), not only when it is created."""
    return bool(_CHANGED.search(column))


def row_stamp(table: Table, alias: str, quote: Callable[[str], str], most: str = "GREATEST") -> str | None:
    """When one row was last touched: the latest of its change stamps, each read as
    ``COALESCE(stamp, created)`` (the creation stamp, the last one, is set on every row), so
    that no argument of GREATEST is NULL where the row has a creation stamp."""
    columns = stamp_columns(table)
    if not columns:
        return None
    refs = [f"{alias}.{quote(c)}" for c in columns]
    if len(refs) == 1:
        return refs[0]
    terms = [f"COALESCE({ref}, {refs[-1]})" for ref in refs[:-1]]
    return terms[0] if len(terms) == 1 else f"{most}({', '.join(terms)})"


def child_stamp(table: Table, link_column: str, parent: str, quote: Callable[[str], str],
                most: str = "GREATEST") -> str | None:
    """The newest stamp among the rows of ``table`` that belong to ``parent`` (an SQL
    expression of the outer query), voided ones included."""
    inner = row_stamp(table, "cs_x", quote, most)
    if inner is None:
        return None
    return f"(SELECT MAX({inner}) FROM {quote(table.name)} AS cs_x WHERE cs_x.{quote(link_column)} = {parent})"


def epoch(dialect: str) -> str:
    """A moment before any stamp, as a date-time literal both servers read as one (SQLite: text)."""
    return "'1970-01-01 00:00:00'" if dialect == "sqlite" else "TIMESTAMP '1970-01-01 00:00:00'"


def combined(base: str, others: Sequence[str], dialect: str) -> str:
    """``base`` (the appointment's own stamp) and the latest of the others; a table with no row
    for this visit (a LEFT JOIN, a person without phones) counts as the epoch, never as NULL."""
    if not others:
        return base
    floor = epoch(dialect)
    return f"{greatest(dialect)}(" + ", ".join([base, *(f"COALESCE({o}, {floor})" for o in others)]) + ")"
