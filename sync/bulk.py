"""Driver-level bulk statements for the store's hot path (large imports).

SQLAlchemy's ``execute(insert(table), rows)`` processes every value of every row through
its generic machinery; for 100,000 appointments that costs more than the mapping. Here a
statement is rendered once and handed to the DBAPI ``executemany`` with tuples, each value
passed through the column type's own bind processor, so what is stored (e.g. SQLite's
date-time text, naive UTC) is exactly what the SQLAlchemy path stores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table

Processor = Callable[[Any], Any] | None


def _placeholder(connection: Connection) -> str:
    return "?" if connection.dialect.paramstyle in ("qmark", "numeric") else "%s"


def _quote(connection: Connection, name: str) -> str:
    return str(connection.dialect.identifier_preparer.quote(name))


def bind_processors(connection: Connection, columns: Sequence[Column[Any]]) -> list[Processor]:
    dialect = connection.dialect
    return [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns]


def result_processors(connection: Connection, columns: Sequence[Column[Any]]) -> list[Processor]:
    dialect = connection.dialect
    return [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns]


def _remembering(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A bind processor remembered per value for one statement: a batch repeats its
    timestamps (``now`` in every row, appointments sharing a slot)."""
    memo: dict[Any, Any] = {}

    def processed(value: Any) -> Any:
        try:
            return memo[value]
        except KeyError:
            memo[value] = result = process(value)
            return result
        except TypeError:  # unhashable: nothing to remember
            return process(value)

    return processed


def insert_rows(connection: Connection, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT ``rows`` (tuples in ``names`` order) with one executemany."""
    if not rows:
        return
    processors = [None if p is None else _remembering(p)
                  for p in bind_processors(connection, [table.c[name] for name in names])]
    if any(processors):
        rows = [tuple(value if p is None else p(value) for p, value in zip(processors, row, strict=True))
                for row in rows]
    mark = _placeholder(connection)
    sql = (f"INSERT INTO {_quote(connection, table.name)} ({', '.join(_quote(connection, n) for n in names)}) "
           f"VALUES ({', '.join(mark for _ in names)})")
    connection.exec_driver_sql(sql, list(rows))


def select_in(connection: Connection, table: Table, names: Sequence[str], connector: str,
              keys: Sequence[str], chunk: int = 500, key: str = "external_id",
              condition: str = "") -> list[tuple[Any, ...]]:
    """``SELECT names FROM table WHERE connector = ? [AND condition] AND key IN (keys)``,
    chunked, values through the columns' result processors (aware UTC date-times and so
    on). ``condition``: a constant SQL fragment (no parameters), e.g. ``deleted_at IS NULL``."""
    processors = result_processors(connection, [table.c[name] for name in names])
    mark = _placeholder(connection)
    head = (f"SELECT {', '.join(_quote(connection, n) for n in names)} FROM {_quote(connection, table.name)} "
            f"WHERE connector = {mark}{f' AND {condition}' if condition else ''} AND {_quote(connection, key)} IN ")
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(keys), chunk):
        part = keys[start:start + chunk]
        sql = f"{head}({', '.join(mark for _ in part)})"
        rows = connection.exec_driver_sql(sql, (connector, *part)).all()
        if any(processors):
            found.extend(tuple(value if p is None else p(value) for p, value in zip(processors, row, strict=True))
                         for row in rows)
        else:
            found.extend(tuple(row) for row in rows)
    return found
