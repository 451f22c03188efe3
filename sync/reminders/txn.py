"""A write transaction that holds the write lock from its first statement: on SQLite
``BEGIN IMMEDIATE`` (one writer at a time, so a read-then-write never races another
process); elsewhere an ordinary transaction where rows are locked explicitly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


@contextmanager
def writer(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()
