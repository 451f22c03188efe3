"""Soft-delete and preference flags for `discover`: the columns that say a row is gone without
deleting it (``voided``, ``retired``, ``deleted``, ``is_deleted``; ``active`` the other way
round; a ``deleted_at`` date; table-prefixed ``APT_ACTIVE``, ``PAT_DELETED``; the names are
clinicsync/common/soft_delete.py's, which `check` reads too), and the ``preferred`` flag of a
names table.

Why: EHRs void rather than delete. A voided appointment imported as booked texts a patient
about a visit that does not exist, and a voided name or phone is an old one; a deleted
patient's visits are withdrawn with it, so the patient's own flag (and its person's) is a
condition of the query too. The conditions are written for the column's real type: a
PostgreSQL ``boolean`` (``IS NOT TRUE``), a number 0/1 (MariaDB/MySQL ``TINYINT(1)``:
``COALESCE(x, 0) = 0``), or a text flag (``'Y'``/``'N'``, ``'true'``/``'false'``, ``'1'``/``'0'``:
compared as upper-case words); NULL is "not deleted".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from clinicsync.common.soft_delete import meaning, owns_visits
from clinicsync.sync.discover import sharedrow
from clinicsync.sync.discover.graph import Ref, Table
from clinicsync.sync.discover.readplan import ReadPlan

# ``primary_address`` of a CRM's email link rows: the person's primary one of several
_PREFERRED = re.compile(r"^(is_?)?(preferred|primary|principal|default|main|preferid[oa])"
                        r"(_?(address|email|phone|number|contact))?$", re.I)
_DATE = re.compile(r"date|time", re.I)
_TEXT = re.compile(r"char|text|string|enum", re.I)
_TRUE_WORDS = "('Y', 'YES', 'T', 'TRUE', '1', 'S', 'SI', 'J', 'JA')"
_FALSE_WORDS = "('N', 'NO', 'F', 'FALSE', '0')"


@dataclass(frozen=True)
class Flag:
    column: str
    meaning: str  # "gone" (true = deleted), "alive" (false = deleted), "gone_at" (a date = deleted)
    boolean: bool  # a real boolean type (PostgreSQL's); else a number 0/1, or text when ``text``
    text: bool = False  # a text flag: Y/N, true/false, 1/0 as words


def _boolean(type_name: str, dialect: str) -> bool:
    return dialect == "postgresql" and "BOOL" in type_name.upper()


def flag(table: Table, dialect: str) -> Flag | None:
    """The table's soft-delete column, if it has one (a flag before a date)."""
    names = list(table.columns)
    for wanted in ("gone", "alive"):
        for column, type_name in table.columns.items():
            if meaning(column, names) == wanted and not _DATE.search(type_name):
                return Flag(column, wanted, _boolean(type_name, dialect), bool(_TEXT.search(type_name)))
    for column, type_name in table.columns.items():
        if meaning(column, names) == "gone_at" and _DATE.search(type_name):
            return Flag(column, "gone_at", False)
    return None


def stamp_beside(table: Table, found: Flag | None) -> Flag | None:
    """The table's deletion stamp (``deletedAt``) when its soft-delete flag is another column
    (``isCanceled``). Why: a product that keeps both sets the stamp when a row is trashed and the
    flag for something else; keeping only the flag's rows lets every trashed row through."""
    if found is None or found.meaning == "gone_at":
        return None
    names = list(table.columns)
    return next((Flag(column, "gone_at", False) for column, type_name in table.columns.items()
                 if meaning(column, names) == "gone_at" and _DATE.search(type_name)), None)


def kept(found: Flag, alias: str, quote: str) -> str:
    """The SQL condition that keeps the rows not deleted (``quote``: the quoted column name)."""
    ref = f"{alias}.{quote}"
    if found.meaning == "gone_at":
        return f"{ref} IS NULL"
    if found.text:
        words = _TRUE_WORDS if found.meaning == "gone" else _FALSE_WORDS
        return f"COALESCE(UPPER(TRIM({ref})), '') NOT IN {words}"
    if found.meaning == "gone":
        return f"{ref} IS NOT TRUE" if found.boolean else f"COALESCE({ref}, 0) = 0"
    return f"{ref} IS NOT FALSE" if found.boolean else f"COALESCE({ref}, 1) <> 0"


def describe(found: Flag) -> str:
    what = {"gone": "true", "alive": "false", "gone_at": "set"}[found.meaning]
    return f"{found.column!r} {what} means deleted"


def owners(plan: ReadPlan, tables: Iterable[Table], persons: Mapping[str, str] | None = None
           ) -> list[tuple[Flag, str, str]]:
    """The soft-delete conditions of the joined rows that own the visit (the patient's table and
    its person's, found by name: common/soft_delete.py ``owns_visits``; and ``persons``, table ->
    alias, the person rows the patient's role row was followed to, whatever their names: a
    ``users`` row), each ``(flag, table name, condition)``: a deleted patient's visits are not
    reminded. A row joined with LEFT JOIN and missing gives NULL, which the condition keeps."""
    found = []
    persons = persons or {}
    for table in tables:
        if table.name == plan.main.name or not (owns_visits(table.name) or table.name in persons):
            continue
        gone = flag(table, plan.dialect)
        alias = persons.get(table.name) or _alias(plan, table)
        if gone is not None and alias is not None:
            found.append((gone, table.name, kept(gone, alias, plan.quote(gone.column))))
    return found


def shared_row(plan: ReadPlan, tables: dict[str, Table], found: Iterable[Ref] = ()) -> tuple[Flag, str, str] | None:
    """The soft-delete condition of the row the visit shares its key with: a CRM keeps every
    record's deleted flag, owner and stamps in one entity table (Vtiger's ``crmentity``), and the
    visit's own primary key is a foreign key to that table's primary key, declared or found (the same
    value, one row each). The visit is deleted when that row says so: the row is joined on the
    key, ``(flag, table name, condition)``; None when the key refers to no such row with a flag."""
    if flag(plan.main, plan.dialect) is not None:
        return None
    row = sharedrow.shared_table(plan.main, tables, found)
    if row is None:
        return None
    shared, column = row
    gone = flag(shared, plan.dialect)
    if gone is None:
        return None
    alias = sharedrow.joined(plan, shared, column)
    return gone, shared.name, kept(gone, alias, plan.quote(gone.column))


def _alias(plan: ReadPlan, table: Table) -> str | None:
    """The alias ``table`` is joined under directly (not a row picked by a subquery)."""
    head = f"LEFT JOIN {plan.quote(table.name)} AS "
    for join in plan.joins:
        if join.startswith(head):
            return join[len(head):].split(" ", 1)[0]
    return None


def preferred(table: Table) -> str | None:
    """The column that marks a person's preferred row among several (names, phones)."""
    return next((c for c, t in table.columns.items() if _PREFERRED.match(c) and not _DATE.search(t)), None)


def truthy(table: Table, column: str, alias: str, quote: str, dialect: str) -> str:
    """``column`` is set, as SQL that works for a boolean and for a 0/1 number."""
    ref = f"{alias}.{quote}"
    return f"{ref} IS TRUE" if _boolean(table.columns[column], dialect) else f"COALESCE({ref}, 0) <> 0"


def live_links(table: Table, alias: str, quote: Callable[[str], str], dialect: str) -> str:
    """`` AND <not deleted>`` on a link table's rows (``alias``) when it has a soft-delete flag,
    else ''. Why: a CRM keeps an attendee it removed as a row with ``deleted = 1``; ranked among
    the live ones, the removed person would be taken for the visit's patient or doctor."""
    found = flag(table, dialect)
    return "" if found is None else f" AND {kept(found, alias, quote(found.column))}"
