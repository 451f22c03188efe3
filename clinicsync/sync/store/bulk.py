"""Driver-level bulk statements for the store's hot path (large imports).

SQLAlchemy's ``execute(insert(table), rows)`` processes every value of every row through
its generic machinery; for 100,000 appointments that costs more than the mapping. Here a
statement is rendered once and handed to the driver with tuples, each value passed through
the column type's own bind processor — only for the columns that have one, column by
column — so what is stored (e.g. SQLite's date-time text, naive UTC) is exactly what the
SQLAlchemy path stores.

On PostgreSQL through psycopg 3, rows go in with ``COPY ... FROM STDIN`` (one stream, no
per-row statement: an executemany cost ~2.3 s of CPU for 20,000 appointments, most of it
in psycopg's pipeline) and lookups pass their keys as one array (``= ANY(%s)``) instead of
chunked ``IN`` lists that psycopg re-parses for each chunk. Driver errors are raised as
SQLAlchemy's (``DataError``, ``IntegrityError``...), as the SQLAlchemy path raises them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, Connection, Table
from sqlalchemy.exc import DBAPIError

from clinicsync.sync.store.db import at_cursor

Processor = Callable[[Any], Any] | None

# Looked up, never filled: its ``get`` answers None for any key (see bind_none_directly).
_NOTHING: dict[Any, None] = {}


def bind_none_directly() -> None:
    """Let the sqlite3 driver bind a None parameter as NULL without two failed look-ups.
    Why: sqlite3 binds only an exact int, float, str or bytearray as it is; any other value,
    None included, goes through its adapter protocol (the registered adapters, then the
    protocol's ``__adapt__``, then the value's ``__conform__``), and for None both attribute
    look-ups fail, each formatting an AttributeError message that is then dropped. A first
    import binds ~8 Nones a row (an appointment's unset columns, a patient's, events'): 5 %
    of its instructions (callgrind). With an adapter registered for None (a C-level
    ``dict.get`` on an empty dict: None for None), the registry answers first and the value
    bound is the same None, so SQLite stores the same NULL. sqlite3's registry is the
    process's, but an adapter of None to None changes no value anywhere; None's type is not
    one of the four the driver binds directly, so their fast path is untouched."""
    sqlite3.register_adapter(type(None), _NOTHING.get)


bind_none_directly()


def placeholder(connection: Connection) -> str:
    """The driver's parameter mark."""
    return "?" if connection.dialect.paramstyle in ("qmark", "numeric") else "%s"


def quoted(connection: Connection, name: str) -> str:
    """An identifier quoted as the dialect quotes it."""
    return str(connection.dialect.identifier_preparer.quote(name))


def uses_copy(connection: Connection) -> bool:
    """PostgreSQL through psycopg 3: COPY and array parameters are available."""
    return connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg"


def bind_processors(connection: Connection, columns: Sequence[Column[Any]]) -> list[Processor]:
    dialect = connection.dialect
    return [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns]


def result_processors(connection: Connection, columns: Sequence[Column[Any]]) -> list[Processor]:
    dialect = connection.dialect
    return [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns]


def _per_distinct_value(process: Callable[[Any], Any], values: Iterable[Any]) -> Callable[[Any], Any]:
    """A column's bind processor run once per distinct value of the statement (a batch
    repeats its timestamps: ``now`` in every row, appointments sharing a slot) and then
    looked up by a C-level ``dict.__getitem__``, not a Python call per value (100,000
    appointments: ~0.5 s less). Values that cannot be hashed are processed one by one."""
    try:
        return {value: process(value) for value in set(values)}.__getitem__
    except TypeError:
        return process


def processed_rows(rows: Sequence[Sequence[Any]], processors: Sequence[Processor]) -> list[tuple[Any, ...]]:
    """``rows`` as tuples, each column that has a processor passed through it and the others
    left as they are, by one function made for this list of processors: ``lambda r: (r[0],
    p1(r[1]), ...)`` costs a third of transposing the rows, mapping the columns and zipping
    them back (20,000 appointments: 0.018 s against 0.052 s)."""
    if not any(processors):
        return [tuple(row) for row in rows]
    return list(map(_row_function(processors), rows))


def _row_function(processors: Sequence[Processor]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    return _row_factory(tuple(p is not None for p in processors))(*(p for p in processors if p is not None))


@lru_cache(maxsize=64)
def _row_factory(processed: tuple[bool, ...]) -> Callable[..., Callable[[Sequence[Any]], tuple[Any, ...]]]:
    """Compiled once per pattern of processed columns; the generated code holds nothing but
    item indexes and the processors' parameter names."""
    names = [f"p{i}" for i, flag in enumerate(processed) if flag]
    body = ", ".join(f"p{i}(r[{i}])" if flag else f"r[{i}]" for i, flag in enumerate(processed))
    factory: Callable[..., Callable[[Sequence[Any]], tuple[Any, ...]]] = eval(  # noqa: S307
        f"lambda {', '.join(names)}: lambda r: ({body},)")
    return factory


def _column_values(rows: Sequence[Sequence[Any]], index: int) -> list[Any]:
    return list(map(itemgetter(index), rows))


@contextmanager
def _as_sqlalchemy_errors(connection: Connection, statement: str) -> Iterator[None]:
    """Raise a driver error met outside SQLAlchemy (COPY) as SQLAlchemy would have."""
    dbapi = connection.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dbapi.Error, hide_parameters=True,
                                  dialect=connection.dialect) from exc


class BoundValues(dict[Any, Any]):
    """One column's values as the driver receives them, each distinct value through the
    column's bind processor once, on first sight (``__missing__``), then by a C-level lookup:
    for rows built already bound (``insert_rows(bound=True)``) in one pass, rather than built,
    then processed column by column (:func:`_per_distinct_value`). Unhashable values are not
    for it. One per column and statement: it holds the values it has seen."""

    def __init__(self, process: Callable[[Any], Any]) -> None:
        super().__init__()
        self.process = process

    def __missing__(self, value: Any) -> Any:
        bound = self[value] = self.process(value)
        return bound


def insert_rows(connection: Connection, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]],
                bound: bool = False, literals: Mapping[str, str] | None = None) -> None:
    """INSERT ``rows`` (tuples in ``names`` order): COPY on PostgreSQL, else one executemany.
    ``bound``: the rows' values are already as the driver receives them (:class:`BoundValues`).
    ``literals``: columns the same in every row, as SQL literals the caller made safe (store.py
    ``_inlined``), written into the statement after ``names``' marks; not for COPY."""
    if not rows:
        return
    if literals:
        assert bound and not uses_copy(connection), "literals go into an executemany's INSERT of bound rows"
    if bound:
        values: Sequence[Sequence[Any]] = rows
    else:
        processors = [None if p is None else _per_distinct_value(p, map(itemgetter(i), rows))
                      for i, p in enumerate(bind_processors(connection, [table.c[name] for name in names]))]
        values = processed_rows(rows, processors)
    columns = ", ".join(quoted(connection, n) for n in names)
    if uses_copy(connection) and len(values) > 1:  # one row (a push): a plain INSERT costs less than a COPY
        sql = f"COPY {quoted(connection, table.name)} ({columns}) FROM STDIN"
        cursor = connection.connection.cursor()
        try:
            with _as_sqlalchemy_errors(connection, sql), cursor.copy(sql) as copy:
                write = copy.write_row
                for row in values:
                    write(row)
        finally:
            cursor.close()
        return
    mark = placeholder(connection)
    marks = [mark] * len(names)
    if literals:
        columns = ", ".join(quoted(connection, n) for n in (*names, *literals))
        marks += literals.values()
    head = f"INSERT INTO {quoted(connection, table.name)} ({columns}) VALUES "
    group = f"({', '.join(marks)})"
    if connection.dialect.name == "sqlite" and len(values) >= VALUES_ROWS:
        values = _insert_grouped(connection, head, group, values)
        if not values:
            return
    connection.exec_driver_sql(head + group, values)


# Rows per multi-row INSERT on SQLite: sqlite3's executemany pays, per row, a reset,
# a step of its own with the GIL released and taken back, a changes count and the loop's
# Python-level checks; ``VALUES (…), (…)`` of 16 rows pays them once per 16. The same binds, the
# same rows in the same order (SQLite numbers them as it inserts them, in the list's order). More
# rows a statement cost more than they save: the statement's text holds a batch's ``now``
# (store._inlined), so it is prepared once per batch, and a 128-row one prepares slowly (bare
# sqlite3, callgrind: executemany 35.7 k instructions a row, 16 rows 29.2 k, 32 29.7 k, 128 36.1 k).
VALUES_ROWS = 16


def _insert_grouped(connection: Connection, head: str, group: str,
                    values: Sequence[Sequence[Any]]) -> Sequence[Sequence[Any]]:
    """INSERT the leading whole groups of ``VALUES_ROWS`` rows of ``values``, one statement
    each (``head`` + ``group`` repeated), on the connection's cursor (:func:`at_cursor`: a
    driver error is raised as SQLAlchemy's, and listeners see each statement); returns the rest,
    fewer than ``VALUES_ROWS`` rows, for the caller's executemany."""
    whole = len(values) - len(values) % VALUES_ROWS
    sql = head + ", ".join([group] * VALUES_ROWS)
    for start in range(0, whole, VALUES_ROWS):
        at_cursor(connection, sql, tuple(chain.from_iterable(values[start:start + VALUES_ROWS]))).close()
    return values[whole:]


def insert_with_ids(connection: Connection, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]],
                    connector: str, key: str = "external_id", bound: bool = False,
                    literals: Mapping[str, str] | None = None) -> list[int]:
    """INSERT ``rows`` of a table with an ``id`` primary key and a unique (connector, key);
    returns the new ids in row order, without reading the rows back where it can:

    * PostgreSQL: the ids are drawn from the column's sequence first and written with the rows;
    * SQLite: one executemany gives consecutive ids ending at ``last_insert_rowid()`` while
      the transaction holds the write lock and the table's largest rowid is not the
      maximum (then SQLite picks free ids at random); both ends and the count in between
      are checked, and the ids are read back by key when they do not match;
    * elsewhere: read back by key.

    ``bound``, ``literals``: as for :func:`insert_rows` (then the key column must have no bind
    processor: it is read back by its values)."""
    if not rows:
        return []
    if len(rows) == 1 and not bound:  # a push: one plain INSERT, its id from the driver
        return [_insert_one(connection, table, names, rows[0])]
    position = list(names).index(key)
    if uses_copy(connection):
        assert not literals, "COPY writes every column"
        # One array, not a row per id; any order will do, each id is the row's own.
        # The sequence is looked up once, not once per id.
        ids: list[int] = _fetch(connection, "SELECT array_agg(nextval(s.seq)) FROM (SELECT "
                                "pg_get_serial_sequence(%s, 'id')::regclass AS seq) AS s, generate_series(1, %s)",
                                (table.name, len(rows)))[0][0]
        insert_rows(connection, table, ("id", *names), [(i, *row) for i, row in zip(ids, rows, strict=True)], bound)
        return ids
    insert_rows(connection, table, names, rows, bound, literals)
    keys = _column_values(rows, position)
    if connection.dialect.name == "sqlite":
        consecutive = _consecutive_ids(connection, table, connector, keys[0], keys[-1], len(rows), key)
        if consecutive is not None:
            return consecutive
    found = dict(select_in(connection, table, (key, "id"), connector, keys, key=key))
    return [found[k] for k in keys]


_ONE_ROW: dict[tuple[int, str, tuple[str, ...]], tuple[str, list[Processor]]] = {}


def _insert_one(connection: Connection, table: Table, names: Sequence[str], row: Sequence[Any]) -> int:
    """INSERT one row and return its id: ``RETURNING`` on PostgreSQL, else the driver's
    ``lastrowid`` (SQLite, MySQL/MariaDB: the id of this very statement's row)."""
    sql, values = one_row_insert(connection, table, names, row)
    cursor = at_cursor(connection, sql, values)  # past SQLAlchemy's result machinery
    try:
        return int(cursor.fetchone()[0] if connection.dialect.name == "postgresql" else cursor.lastrowid)
    finally:
        cursor.close()


def one_row_insert(connection: Connection, table: Table, names: Sequence[str],
                   row: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
    """The INSERT of one row (``RETURNING id`` on PostgreSQL) in the driver's positional style,
    and the row's values through their columns' bind processors: what :func:`_insert_one`
    sends, for a caller that sends it inside a larger statement (store.py's PostgreSQL push)."""
    key = (id(connection.dialect), table.name, tuple(names))
    made = _ONE_ROW.get(key)
    if made is None:  # the statement and the columns' processors, once per dialect, table and columns
        mark = placeholder(connection)
        sql = (f"INSERT INTO {quoted(connection, table.name)} ({', '.join(quoted(connection, n) for n in names)}) "
               f"VALUES ({', '.join([mark] * len(names))})")
        if connection.dialect.name == "postgresql":
            sql += f" RETURNING {quoted(connection, 'id')}"
        made = _ONE_ROW[key] = (sql, bind_processors(connection, [table.c[name] for name in names]))
    sql, processors = made
    return sql, tuple(value if process is None or value is None else process(value)
                      for process, value in zip(processors, row, strict=True))


@lru_cache(maxsize=256)
def leaves_null(table: Table, name: str) -> bool:
    """Does the table store NULL in column ``name`` when an INSERT leaves it out? Nullable,
    without a server default (the schema's DEFAULT) and not part of the primary key (SQLite
    numbers an INTEGER PRIMARY KEY left out): then leaving a None out stores what binding it
    stores (store.py ``_unset_columns``). tests/sync/test_bulk.py checks the migrated schema
    agrees for the tables the import writes."""
    column = table.c[name]
    return bool(column.nullable) and column.server_default is None and not column.primary_key


def last_insert_rowid(connection: Connection) -> int:
    return int(connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one())


def _consecutive_ids(connection: Connection, table: Table, connector: str, first_key: str, last_key: str,
                     count: int, key: str) -> list[int] | None:
    """The ids of the ``count`` rows just inserted, if they are ``last - count + 1 .. last``:
    the first and the last of those ids hold the first and the last row inserted, and
    nothing else lies between them. None: read them back instead."""
    last = last_insert_rowid(connection)
    first = last - count + 1
    name = quoted(connection, table.name)
    # By primary key alone, the connector checked here: with ``connector = ?`` in the WHERE,
    # SQLite walks the connector's whole (connector, key) index per batch.
    ends = {id_: (owner, value) for id_, owner, value in connection.exec_driver_sql(
        f"SELECT id, connector, {quoted(connection, key)} FROM {name} WHERE id IN (?, ?)", (first, last)).all()}
    if ends.get(first) != (connector, first_key) or ends.get(last) != (connector, last_key):
        return None
    between = connection.exec_driver_sql(f"SELECT count(*) FROM {name} WHERE id BETWEEN ? AND ?",
                                         (first, last)).scalar_one()
    if between != count:
        return None
    return list(range(first, last + 1))


def select_in(connection: Connection, table: Table, names: Sequence[str], connector: str,
              keys: Sequence[str], chunk: int = 500, key: str = "external_id",
              condition: str = "") -> list[tuple[Any, ...]]:
    """``SELECT names FROM table WHERE connector = ? [AND condition] AND key IN (keys)``:
    :func:`select_where_in` for one connector's rows."""
    return select_where_in(connection, table, names, key, keys, {"connector": connector}, condition, chunk)


def select_where_in(connection: Connection, table: Table, names: Sequence[str], key: str, keys: Sequence[Any],
                    where: Mapping[str, Any] | None = None, condition: str = "",
                    chunk: int = 500) -> list[tuple[Any, ...]]:
    """``SELECT names FROM table WHERE [column = value AND …] [condition AND] key IN (keys)``,
    chunked (PostgreSQL: ``key = ANY(keys)``, in one statement), values through the
    columns' result processors (aware UTC date-times, booleans). ``condition``: a constant
    SQL fragment (no parameters), e.g. ``deleted_at IS NULL``."""
    if not keys:
        return []
    fixed = dict(where or {})
    processors = result_processors(connection, [table.c[name] for name in names])
    mark = placeholder(connection)
    head = (f"SELECT {', '.join(quoted(connection, n) for n in names)} FROM {quoted(connection, table.name)} WHERE "
            + "".join(f"{quoted(connection, name)} = {mark} AND " for name in fixed)
            + (f"{condition} AND " if condition else "") + f"{quoted(connection, key)} ")
    found: list[tuple[Any, ...]] = []
    if uses_copy(connection):
        found = _fetch(connection, f"{head}= ANY({mark})", (*fixed.values(), list(keys)))
    else:
        for start in range(0, len(keys), chunk):
            part = keys[start:start + chunk]
            found.extend(_fetch(connection, f"{head}IN ({', '.join([mark] * len(part))})", (*fixed.values(), *part)))
    if found and any(processors):  # each column's distinct values once: reads repeat their date-times
        return processed_rows(found, [None if p is None else _per_distinct_value(p, map(itemgetter(i), found))
                                      for i, p in enumerate(processors)])
    return found


def select_where(connection: Connection, table: Table, names: Sequence[str], where: Mapping[str, Any],
                 condition: str = "", limit: int | None = None, scan: bool = False) -> list[tuple[Any, ...]]:
    """``SELECT names FROM table WHERE column = value AND … [AND condition] [LIMIT n]`` as the
    driver's tuples, for columns without a result processor (text): a whole connector's
    keys in one read, without a SQLAlchemy row per row. ``scan``: most of the table is
    wanted, so SQLite reads it in order (``NOT INDEXED``) rather than row by row through an
    index on ``connector`` (a third of the cost for 30,000 appointments)."""
    return _fetch(connection, _select_sql(connection, table, names, where, condition, scan) + (
        f" LIMIT {int(limit)}" if limit is not None else ""), tuple(where.values()))


def select_where_chunks(connection: Connection, table: Table, names: Sequence[str], where: Mapping[str, Any],
                        condition: str = "", order: str = "", chunk: int = 2_000,
                        scan: bool = False) -> Iterator[list[tuple[Any, ...]]]:
    """As :func:`select_where`, ``ORDER BY order`` (a constant SQL fragment) and read in chunks
    of driver tuples from a streamed cursor (PostgreSQL, MariaDB: server side): a whole
    connector's rows are never all held at once, as Python tuples or in the driver."""
    sql = _select_sql(connection, table, names, where, condition, scan) + (f" ORDER BY {order}" if order else "")
    if connection.dialect.name == "sqlite":  # its cursor reads lazily: the driver's tuples, no rows built
        result = connection.exec_driver_sql(sql, tuple(where.values()))
        fetch: Callable[[int], Sequence[Any]] = result.cursor.fetchmany if result.cursor is not None else lambda _: ()
    else:  # a server-side cursor, read through the result (it buffers the first rows itself)
        result = connection.execution_options(stream_results=True).exec_driver_sql(sql, tuple(where.values()))
        fetch = result.fetchmany
    try:
        while rows := fetch(chunk):
            yield list(rows)  # tuples (SQLite) or rows, which index alike
    finally:
        result.close()


def _select_sql(connection: Connection, table: Table, names: Sequence[str], where: Mapping[str, Any],
                condition: str, scan: bool) -> str:
    mark = placeholder(connection)
    source = quoted(connection, table.name) + (" NOT INDEXED" if scan and connection.dialect.name == "sqlite" else "")
    terms = [*(f"{quoted(connection, name)} = {mark}" for name in where), *([condition] if condition else [])]
    return f"SELECT {', '.join(quoted(connection, n) for n in names)} FROM {source} WHERE " + " AND ".join(terms)


def converted(process: Processor, values: Sequence[Any]) -> Iterable[Any]:
    """``values`` (one column) through ``process`` (None stays None), each distinct value once:
    a batch repeats its date-times, and a dict lookup is cheaper than a Python call."""
    if process is None:
        return values
    table = {value: None if value is None else process(value) for value in set(values)}
    return map(table.__getitem__, values)


def bind_value(connection: Connection, column: Column[Any], value: Any) -> Any:
    """``value`` as the driver receives it for ``column`` (e.g. SQLite's date-time text)."""
    [process] = bind_processors(connection, [column])
    return value if process is None or value is None else process(value)


def bind_column(connection: Connection, column: Column[Any], values: Sequence[Any]) -> Iterable[Any]:
    """``values`` as the driver receives them for ``column`` (SQLite's date-time text, naive UTC)."""
    [process] = bind_processors(connection, [column])
    return converted(process, values)


def insert_ignoring(connection: Connection, table: Table, names: Sequence[str],
                    rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT ``rows`` (tuples in ``names`` order, values already bound: :func:`bind_value`),
    skipping a row whose unique key another worker wrote first, as
    ``sync.db.insert_ignoring_duplicates`` does for SQLAlchemy statements."""
    if not rows:
        return
    mark = placeholder(connection)
    columns = ", ".join(quoted(connection, name) for name in names)
    into = f"{quoted(connection, table.name)} ({columns}) VALUES ({', '.join(mark for _ in names)})"
    if connection.dialect.name in ("sqlite", "postgresql"):
        sql = f"INSERT INTO {into} ON CONFLICT DO NOTHING"
    else:  # MySQL / MariaDB
        sql = f"INSERT IGNORE INTO {into}"
    connection.exec_driver_sql(sql, list(rows))


def update_by_id(connection: Connection, table: Table, assignments: Sequence[str],
                 rows: Sequence[tuple[Any, ...]], constants: str = "") -> None:
    """``UPDATE table SET a = ?, b = ?[, constants] WHERE id = ?`` for each row: its values in
    ``assignments`` order, then the id. ``constants``: a fixed SQL fragment (no parameters)."""
    if not rows:
        return
    mark = placeholder(connection)
    sets = [*(f"{quoted(connection, name)} = {mark}" for name in assignments), *([constants] if constants else [])]
    sql = f"UPDATE {quoted(connection, table.name)} SET {', '.join(sets)} WHERE {quoted(connection, 'id')} = {mark}"
    connection.exec_driver_sql(sql, list(rows))


def update_keyed(connection: Connection, table: Table, assignments: Sequence[str], keys: Sequence[str],
                 rows: Sequence[Sequence[Any]]) -> None:
    """``UPDATE table SET a = ?, … WHERE k = ? AND …`` for each row (its values in ``assignments``
    order, then its keys in ``keys`` order), each value through its column's bind processor as
    SQLAlchemy's executemany of the same update would pass it (:func:`insert_rows`): one
    statement at the driver, not a compiled construct and a dict per row."""
    if not rows:
        return
    names = (*assignments, *keys)
    processors = [None if p is None else _per_distinct_value(p, map(itemgetter(i), rows))
                  for i, p in enumerate(bind_processors(connection, [table.c[name] for name in names]))]
    mark = placeholder(connection)
    sets = ", ".join(f"{quoted(connection, name)} = {mark}" for name in assignments)
    terms = " AND ".join(f"{quoted(connection, name)} = {mark}" for name in keys)
    connection.exec_driver_sql(f"UPDATE {quoted(connection, table.name)} SET {sets} WHERE {terms}",
                               processed_rows(rows, processors))


def update_where(connection: Connection, table: Table, assignments: Sequence[str], values: Sequence[Any],
                 where: Mapping[str, Any]) -> None:
    """``UPDATE table SET a = ?, b = ? WHERE column = value AND …``: one row's values (already
    bound: :func:`bind_value`) in ``assignments`` order."""
    mark = placeholder(connection)
    sets = ", ".join(f"{quoted(connection, name)} = {mark}" for name in assignments)
    terms = " AND ".join(f"{quoted(connection, name)} = {mark}" for name in where)
    connection.exec_driver_sql(f"UPDATE {quoted(connection, table.name)} SET {sets} WHERE {terms}",
                               (*values, *where.values()))


def _fetch(connection: Connection, sql: str, parameters: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The rows as the driver returns them (tuples), without building SQLAlchemy rows."""
    result = connection.exec_driver_sql(sql, parameters)
    try:
        return list(result.cursor.fetchall()) if result.cursor is not None else []
    finally:
        result.close()


SQLITE_TIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"  # SQLAlchemy's SQLite DATETIME storage format


def sqlite_time_text(value: datetime) -> str:
    """An aware UTC date-time as SQLite stores it: what the column's bind processor writes
    (naive UTC, SQLAlchemy's "YYYY-MM-DD HH:MM:SS.ffffff"), without its chain of three Python
    calls. Only for a tzinfo of ``datetime.UTC`` (its offset is not written). By ``%``
    rather than ``isoformat(" ", "microseconds")[:26]``: ~10,700 instructions, not ~13,100
    (isoformat parses its keywords and formats the offset it is then cut of)."""
    return SQLITE_TIME % (value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond)


def utc_time_table(connection: Connection, column: Any, values: Sequence[Any],
                   texts: dict[datetime, str] | None = None) -> dict[Any, Any]:
    """Each distinct value of ``values`` (an SQLite UTC date-time column) as bound. Values
    tagged ``datetime.UTC`` (all that planning and the calendar's truth make) are written by
    :func:`sqlite_time_text` or found in ``texts`` (what it wrote before, or the text a start
    was read from, see reminders/rows.py _utc_from_text; new ones are added), checked against the column's own bind
    processor on one of them per call, so that a different storage format falls back to
    the processor for all. Why ``texts``: converted per column and per insert, a first
    import made ~24,600 texts at 20,000 appointments; they are ~13,300 distinct values, and
    most of them starts the read had as text."""
    [process] = bind_processors(connection, [column])
    distinct = set(values)
    if process is None:
        return {value: value for value in distinct}
    table: dict[Any, Any] = {}
    probe = None
    for value in distinct:
        if value is None:
            table[value] = None
        elif value.tzinfo is UTC:
            text = texts.get(value) if texts is not None else None
            if text is None:
                text = sqlite_time_text(value)
                if texts is not None:
                    texts[value] = text
            table[value] = text
            probe = value
        else:
            table[value] = process(value)
    if probe is not None and table[probe] != process(probe):
        return {value: process(value) for value in distinct}
    return table
