"""Soft-delete and preference flags for `discover` (issue 57): the columns that say a row is
gone without deleting it (``voided``, ``retired``, ``deleted``, ``is_deleted``; ``active``
the other way round; a ``deleted_at`` date; the names are clinicsync/common/soft_delete.py's,
which `check` reads too), and the ``preferred`` flag of a names table.

Why: EHRs void rather than delete. A voided appointment imported as booked texts a patient
about a visit that does not exist, and a voided name or phone is an old one. The conditions
are written for the column's real type on PostgreSQL (``boolean``: ``IS NOT TRUE``) and on
MariaDB/MySQL (``TINYINT(1)``: ``COALESCE(x, 0) = 0``), and treat NULL as "not deleted".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clinicsync.common.soft_delete import meaning
from clinicsync.sync.discover.graph import Table

_PREFERRED = re.compile(r"^(is_?)?(preferred|primary|principal|default|main|preferid[oa])$", re.I)
_DATE = re.compile(r"date|time", re.I)


@dataclass(frozen=True)
class Flag:
    column: str
    meaning: str  # "gone" (true = deleted), "alive" (false = deleted), "gone_at" (a date = deleted)
    boolean: bool  # a real boolean type (PostgreSQL's); else a number 0/1


def _boolean(type_name: str, dialect: str) -> bool:
    return dialect == "postgresql" and "BOOL" in type_name.upper()


def flag(table: Table, dialect: str) -> Flag | None:
    """The table's soft-delete column, if it has one (a flag before a date)."""
    for wanted in ("gone", "alive"):
        for column, type_name in table.columns.items():
            if meaning(column) == wanted and not _DATE.search(type_name):
                return Flag(column, wanted, _boolean(type_name, dialect))
    for column, type_name in table.columns.items():
        if meaning(column) == "gone_at" and _DATE.search(type_name):
            return Flag(column, "gone_at", False)
    return None


def kept(found: Flag, alias: str, quote: str) -> str:
    """The SQL condition that keeps the rows not deleted (``quote``: the quoted column name)."""
    ref = f"{alias}.{quote}"
    if found.meaning == "gone_at":
        return f"{ref} IS NULL"
    if found.meaning == "gone":
        return f"{ref} IS NOT TRUE" if found.boolean else f"COALESCE({ref}, 0) = 0"
    return f"{ref} IS NOT FALSE" if found.boolean else f"COALESCE({ref}, 1) <> 0"


def describe(found: Flag) -> str:
    what = {"gone": "true", "alive": "false", "gone_at": "set"}[found.meaning]
    return f"{found.column!r} {what} means deleted"


def preferred(table: Table) -> str | None:
    """The column that marks a person's preferred row among several (names, phones)."""
    return next((c for c, t in table.columns.items() if _PREFERRED.match(c) and not _DATE.search(t)), None)


def truthy(table: Table, column: str, alias: str, quote: str, dialect: str) -> str:
    """``column`` is set, as SQL that works for a boolean and for a 0/1 number."""
    ref = f"{alias}.{quote}"
    return f"{ref} IS TRUE" if _boolean(table.columns[column], dialect) else f"COALESCE({ref}, 0) <> 0"
