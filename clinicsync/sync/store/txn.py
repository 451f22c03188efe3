"""A write transaction that holds the write lock from its first statement: on SQLite
``BEGIN IMMEDIATE`` (one writer at a time, so a read-then-write never races another
process); elsewhere an ordinary transaction where rows are locked explicitly.

In the store, below every feature that writes a read-then-write (reminders, responses, the
waitlist, the desk, leases); ``sync/reminders/txn.py`` names it for the importers that took it
from there."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


def _in_transaction(connection: Connection) -> bool:
    """Is the SQLite connection inside a transaction already (a dry run's, see
    sync.db.make_rehearsal_engine)? Then a nested BEGIN would fail; its lock is held."""
    return bool(getattr(connection.connection.driver_connection, "in_transaction", False))


@contextmanager
def writer(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite" and not _in_transaction(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()
