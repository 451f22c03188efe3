"""Talking to a source database: engines with short-lived connections, a read-only
transaction with a statement timeout, driver-neutral row values, and database
errors turned into the connector's error kinds (without passwords)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from clinicsync.connectors.base import ConnectorError, FatalConnectorError, RetriableConnectorError

_CONNECT_TIMEOUT = 10
_MESSAGE_LIMIT = 300
# MySQL/MariaDB server errors worth retrying: too many connections, shutdown, network
# read/write, lock wait timeout, deadlock, connection killed, statement time limits.
# (Client errors 2000-2999 — cannot connect, server gone — are retried too.)
_MYSQL_TRANSIENT = frozenset({1040, 1053, 1158, 1159, 1160, 1161, 1205, 1213, 1927, 1969, 3024})


def source_engine(url: URL, timeout: float) -> Engine:
    """One connection per use (NullPool): a poller holds nothing open between runs."""
    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "mysql" or backend == "mariadb":
        connect_args = {"connect_timeout": _CONNECT_TIMEOUT, "read_timeout": int(timeout) + 30}
    elif backend == "postgresql":
        connect_args = {"connect_timeout": _CONNECT_TIMEOUT}
    return create_engine(url, poolclass=NullPool, connect_args=connect_args)


def is_mysql(connection: Connection) -> bool:
    return connection.dialect.name in ("mysql", "mariadb")


def apply_timeout(connection: Connection, seconds: float) -> None:
    """A statement timeout for this transaction (PostgreSQL) or session (MySQL/MariaDB)."""
    millis = max(1, int(seconds * 1000))
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {millis}")
    elif is_mysql(connection):
        if getattr(connection.dialect, "is_mariadb", False):
            connection.exec_driver_sql(f"SET SESSION max_statement_time = {millis / 1000:.3f}")
            connection.exec_driver_sql(f"SET SESSION innodb_lock_wait_timeout = {max(1, int(seconds))}")
        else:
            connection.exec_driver_sql(f"SET SESSION max_execution_time = {millis}")


def read_only_supported(dialect_name: str) -> bool:
    return dialect_name in ("postgresql", "mysql", "mariadb", "sqlite")


@contextmanager
def read_only_connection(engine: Engine, timeout: float) -> Iterator[Connection]:
    """A connection inside a read-only transaction, rolled back at the end.

    PostgreSQL: SET TRANSACTION READ ONLY + SET LOCAL statement_timeout. MySQL/MariaDB:
    the session's statement time limit, then START TRANSACTION READ ONLY. SQLite:
    PRAGMA query_only. Elsewhere (SQL Server …) only the login's rights and the
    statement check stand guard; `check` says so.
    """
    with engine.connect() as connection:
        name = connection.dialect.name
        if name == "postgresql":
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            apply_timeout(connection, timeout)
        elif is_mysql(connection):
            apply_timeout(connection, timeout)
            connection.exec_driver_sql("START TRANSACTION READ ONLY")
        elif name == "sqlite":
            connection.exec_driver_sql("PRAGMA query_only = ON")
        try:
            yield connection
        finally:
            connection.rollback()


def plain_value(value: Any, mysql: bool) -> Any:
    """Driver values as the mapping engine and the cursor can use them: PyMySQL gives a
    TIME column as a timedelta (made a time of day here), binary ids become hex, and
    decimals ints where whole. Dates, times and date-times stay as they are."""
    if value is None or isinstance(value, str | int | float | datetime | date | time):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, timedelta):
        if mysql and timedelta(0) <= value < timedelta(days=1):
            return (datetime.min + value).time()
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):  # PostgreSQL arrays
        return [plain_value(v, mysql) for v in value]
    if isinstance(value, dict):  # JSON columns
        return {str(k): plain_value(v, mysql) for k, v in value.items()}
    return str(value)


def describe(exc: BaseException) -> str:
    """A database error in one line: the driver's message, never the URL or password."""
    original = getattr(exc, "orig", None) or exc
    text = " ".join(str(original).split())
    if len(text) > _MESSAGE_LIMIT:
        text = text[:_MESSAGE_LIMIT] + "…"
    return f"{type(original).__name__}: {text}"


def connector_error(connector: str, action: str, exc: SQLAlchemyError) -> ConnectorError:
    """OperationalError (unreachable, timeout, deadlock, lock wait) is passing; anything
    else (bad SQL, missing column, refused write) needs a person."""
    message = f"connector {connector}: {action} failed: {describe(exc)}"
    return RetriableConnectorError(message) if _transient(exc) else FatalConnectorError(message)


def _transient(exc: SQLAlchemyError) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    original = getattr(exc, "orig", None)
    if type(original).__module__.split(".")[0] in ("pymysql", "MySQLdb"):
        # MySQL drivers raise OperationalError for most server errors (an unknown column
        # too), so the error number decides.
        code = (getattr(original, "args", None) or (None,))[0]
        return isinstance(code, int) and (code in _MYSQL_TRANSIENT or 2000 <= code < 3000)
    return isinstance(exc, OperationalError)
