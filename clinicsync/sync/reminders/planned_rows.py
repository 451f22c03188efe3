"""The planner's rows as they are written: the columns a planned reminder fills, its key, and
the batched insert of new rows (one driver executemany on PostgreSQL and MariaDB, multi-row
statements with shared values as literals on SQLite). It knows nothing of the planning cases
(planner.py); the planner, re-planning and the agendas all write through ``insert_new``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from itertools import chain, compress
from operator import itemgetter, not_
from typing import Any

from sqlalchemy import Connection, insert, select

from clinicsync.common.vocabulary import ReminderStatus
from clinicsync.sync.store.bulk import bind_column, quoted, utc_time_table
from clinicsync.sync.store.tables import REMINDERS

# The columns a planned row fills, in the order of the tuples built below; the rest start NULL.
COLUMNS = ("key", "appointment_id", "connector", "recipient", "recipient_ref", "kind", "offset", "version",
           "starts_at", "due_at", "status", "reason", "note", "channel", "tried", "attempts", "created_at",
           "updated_at")
STATUS = COLUMNS.index("status")
# A planned row's status, as the plain text a row tuple carries: the SQLite insert writes a value
# shared by every row into the statement only when it is exactly a str (_sqlite_literal).
PLANNED, PLANNED_SKIPPED = ReminderStatus.PENDING.value, ReminderStatus.SKIPPED.value
DATETIMES = tuple(COLUMNS.index(c) for c in ("starts_at", "due_at", "created_at", "updated_at"))
KEY = COLUMNS.index("key")
ROWS_PER_STATEMENT = 200  # rows of one multi-row INSERT on SQLite (fewer if its parameters would pass the limit)


@dataclass
class PlanReport:
    planned: int = 0
    skipped: int = 0
    cancelled: int = 0
    events: int = 0
    replanned: int = 0  # appointments whose plan was made again because the settings changed

    def as_dict(self) -> dict[str, int]:
        return asdict(self)



def reminder_key(appointment_id: int, recipient: str, kind: str, offset: str | None, version: int) -> str:
    return ":".join([f"a{appointment_id}", recipient, kind, *([offset] if offset else []), f"v{version}"])


def known_keys(connection: Connection, keys: list[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(keys), 500):
        known.update(connection.execute(
            select(REMINDERS.c.key).where(REMINDERS.c.key.in_(keys[start:start + 500]))).scalars())
    return known


def _statement(connection: Connection, absent: Sequence[bool] = ()) -> str | None:
    """A plain driver-level INSERT of COLUMNS, or None for a paramstyle not handled here. A
    column flagged in ``absent`` (NULL in every row of the call) is written as the literal
    NULL and takes no parameter. (SQLite has its own statement: :func:`_insert_sqlite`.)"""
    dialect = connection.dialect
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(dialect.paramstyle)
    if mark is None:
        return None
    values = ", ".join("NULL" if absent and absent[at] else mark for at in range(len(COLUMNS)))
    return f"INSERT INTO {quoted(connection, REMINDERS.name)} ({_names(connection)}) VALUES ({values})"


def _names(connection: Connection) -> str:
    """COLUMNS quoted as the dialect quotes them ("offset" is a keyword), comma-separated."""
    return ", ".join(quoted(connection, c) for c in COLUMNS)


def insert_new(connection: Connection, rows: dict[str, tuple[Any, ...]], report: PlanReport,
                known: set[str] | None = None, texts: dict[datetime, str] | None = None) -> None:
    """Insert the rows whose key is not stored yet (``known``: the stored keys, when the caller
    has them), in key order of ``rows`` (ids follow it: the dispatcher breaks ties by id),
    with the datetimes converted up front (on SQLite through ``texts``, Rules.texts)."""
    if not rows:
        return
    if known is None:
        known = known_keys(connection, list(rows))
    new = [row for key, row in rows.items() if key not in known] if known else list(rows.values())
    if not new:
        return
    if connection.dialect.name == "sqlite":
        _insert_sqlite(connection, new, {} if texts is None else texts)
    else:
        _insert_bound(connection, new)
    statuses = list(map(itemgetter(STATUS), new))  # counted in C: no generator frame per row
    report.planned += statuses.count(PLANNED)
    report.skipped += statuses.count(PLANNED_SKIPPED)


def _insert_bound(connection: Connection, new: list[tuple[Any, ...]]) -> None:
    """PostgreSQL and MariaDB: one driver executemany, a column NULL in every row written as
    the literal NULL (their drivers bind the rest cheaply); another paramstyle: Core's insert."""
    columns: list[Any] = list(zip(*new, strict=True))  # converted a column at a time: they repeat their values
    absent = [column.count(None) == len(new) for column in columns]  # NULL in every row: a literal NULL
    statement = _statement(connection, absent)
    if statement is None:
        connection.execute(insert(REMINDERS), [dict(zip(COLUMNS, row, strict=True)) for row in new])
        return
    for at in DATETIMES:
        if not absent[at]:
            columns[at] = bind_column(connection, REMINDERS.c[COLUMNS[at]], columns[at])
    connection.exec_driver_sql(statement, list(zip(*compress(columns, map(not_, absent)), strict=True)))


def _insert_sqlite(connection: Connection, new: list[tuple[Any, ...]], texts: dict[datetime, str]) -> None:
    """SQLite: the rows in multi-row ``INSERT … VALUES (…), (…), …`` statements of
    ROWS_PER_STATEMENT rows, a column with one value in every row written into the statement
    as a literal (:func:`_sqlite_column`). Why: the sqlite3 module binds each parameter under
    SQLite's mutex (a text copied each time) and runs each row of an ``executemany`` as a
    statement of its own; a first import's rows share their connector, recipient, kind,
    status and clock, so ~6 of 16 values per row are left to bind, and one statement inserts
    ROWS_PER_STATEMENT rows (prepared once per shape of the columns: the sqlite3 module
    caches it; compiling one costs ~7 M instructions, so the rows that do not fill one go
    in one a statement). The rows go in in order, so they get the ids one executemany gave them;
    each value is stored as binding it stored it (a literal takes the column's affinity too)."""
    count = len(new)
    values: list[str] = []
    bound: list[Iterable[Any]] = []
    for at, column in enumerate(zip(*new, strict=True)):
        sql, parameters = _sqlite_column(connection, at, column, texts)
        values.append(sql)
        if parameters is not None:
            bound.append(parameters)
    width = len(bound)  # the key at least: it is never a literal
    flat = tuple(chain.from_iterable(zip(*bound, strict=True)))  # row after row
    per = _rows_per_statement(connection, width)
    head = f"INSERT INTO {quoted(connection, REMINDERS.name)} ({_names(connection)}) VALUES "
    group = f"({', '.join(values)})"
    size, whole = per * width, count // per
    if whole:
        connection.exec_driver_sql(head + ", ".join([group] * per),
                                   [flat[at * size:(at + 1) * size] for at in range(whole)])
    if count > whole * per:  # the rest one row a statement: a statement of its own length would be compiled anew
        connection.exec_driver_sql(head + group, [flat[at:at + width] for at in range(whole * size, len(flat), width)])


def _rows_per_statement(connection: Connection, width: int) -> int:
    """ROWS_PER_STATEMENT, or fewer where the rows' parameters would pass the connection's
    limit (SQLITE_LIMIT_VARIABLE_NUMBER: 32,766 since SQLite 3.32, 999 before)."""
    driver: Any = connection.connection.driver_connection
    try:
        limit = int(driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    except (AttributeError, sqlite3.Error):  # not the sqlite3 module's connection: the oldest default
        limit = 999
    return max(1, min(ROWS_PER_STATEMENT, limit // max(width, 1)))


def _sqlite_column(connection: Connection, at: int, column: tuple[Any, ...],
                   texts: dict[datetime, str]) -> tuple[str, Iterable[Any] | None]:
    """How COLUMNS[at] is written into an SQLite insert of ``column`` (its value in each row):
    (its SQL, the values to bind or None). One value in every row (the key aside) is a literal
    (:func:`_sqlite_literal`); a date-time column is bound as the column's text
    (:func:`clinicsync.sync.store.bulk.utc_time_table`); the rest is bound as it is (a None costs no failed look-up:
    ``bulk.bind_none_directly``)."""
    if at in DATETIMES:
        table = utc_time_table(connection, REMINDERS.c[COLUMNS[at]], column, texts)
        if len(table) == 1:
            literal = _sqlite_literal(next(iter(table.values())), ())
            if literal is not None:
                return literal, None
        return "?", map(table.__getitem__, column)
    first = column[0]
    if at != KEY and column.count(first) == len(column):  # equal to the first in every row
        literal = _sqlite_literal(first, column)
        if literal is not None:
            return literal, None
    return "?", column


LITERAL_TEXT_MAX = 200  # characters: longer shared texts are bound, not written into the statement


def _sqlite_literal(value: Any, column: Sequence[Any]) -> str | None:
    """``value`` as an SQLite literal that stores what binding it stores, or None where there
    is none: NULL; an int of 64 bits when every value of ``column`` is an int (``==`` lets
    True and 1.0 pass for 1; they bind otherwise); a str without NUL (a literal would end
    there) and at most LITERAL_TEXT_MAX long, its quotes doubled."""
    if value is None:
        return "NULL"
    if type(value) is str:  # a long text is bound: repeated in 200 rows it could pass SQLite's statement limit
        return None if "\x00" in value or len(value) > LITERAL_TEXT_MAX else "'" + value.replace("'", "''") + "'"
    if type(value) is int and -(2 ** 63) <= value < 2 ** 63 and set(map(type, column)) <= {int}:
        return str(value)
    return None
