"""Talking to a source database: engines with short-lived connections, a read-only
transaction with a statement timeout, driver-neutral row values, and database
errors turned into the connector's error kinds (without passwords)."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from time import monotonic
from typing import Any

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool, QueuePool

from clinicsync.connectors.base import ConnectorError, FatalConnectorError, RetriableConnectorError

_CONNECT_TIMEOUT = 10
_MESSAGE_LIMIT = 300
# MySQL/MariaDB server errors worth retrying: too many connections, shutdown, network
# read/write, lock wait timeout, deadlock, connection killed, statement time limits.
# (Client errors 2000-2999 — cannot connect, server gone — are retried too.)
_MYSQL_TRANSIENT = frozenset({1040, 1053, 1158, 1159, 1160, 1161, 1205, 1213, 1927, 1969, 3024})


def source_engine(url: URL, timeout: float) -> Engine:
    """One connection per use (NullPool): a poller holds nothing open between runs."""
    return create_engine(url, poolclass=NullPool, connect_args=_connect_args(url, timeout))


def _connect_args(url: URL, timeout: float) -> dict[str, Any]:
    backend = url.get_backend_name()
    if backend == "mysql" or backend == "mariadb":
        # the socket's own read timeout, a little after the hang guard's (HangGuard)
        return {"connect_timeout": _CONNECT_TIMEOUT, "read_timeout": int(hang_limit(timeout)) + 5}
    if backend == "postgresql":
        return {"connect_timeout": _CONNECT_TIMEOUT}
    return {}


# -- source engines kept across polls (the long-running service) -----------------------------------
# An engine made for each poll costs its dialect's first connect (server version, type lookups:
# about a third of an idle SQL poll's CPU on PostgreSQL) and a new connection. In `clinicsync
# run` the polls of a source keep one engine and one idle connection per source database (URL
# and timeout): sources reading tables of one database share it. `sync --once` and one-off
# reads (check, discover, tests) keep nothing, as before. At most KEPT_LIMIT engines are kept
# (the least recently used is disposed), so a service of many source databases holds at most
# that many idle connections per worker.
KEPT_LIMIT = 32
_KEEPING: ContextVar[bool] = ContextVar("clinicsync_keep_source_engines", default=False)
_KEPT: OrderedDict[tuple[str, float], Engine] = OrderedDict()
_KEPT_LOCK = threading.Lock()


@contextmanager
def keeping_engines() -> Iterator[None]:
    """Inside: ``read_engine`` keeps its engines for the next poll (the service's poll job)."""
    token = _KEEPING.set(True)
    try:
        yield
    finally:
        _KEEPING.reset(token)


def read_engine(url: URL, timeout: float) -> tuple[Engine, bool]:
    """The engine of a source's reads and whether it is kept (then not the connector's to
    dispose). Kept: a pool of one idle connection (more while polls of one database overlap,
    closed as they return) without the pool's pre-ping, an extra round trip per read that a
    source which stops answering would hang in outside any guard: a connection the server
    dropped meanwhile is found by the read's first statement, under the hang guard, and the
    read opens another (``read_only_connection``). SQLite sources are never kept (a file
    opens in microseconds; its ``query_only`` would stay set)."""
    if not _KEEPING.get() or url.get_backend_name() not in ("postgresql", "mysql", "mariadb"):
        return source_engine(url, timeout), False
    key = (url.render_as_string(hide_password=False), timeout)
    with _KEPT_LOCK:
        engine = _KEPT.get(key)
        if engine is not None:
            _KEPT.move_to_end(key)
            return engine, True
        engine = create_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=-1,
                               connect_args=_connect_args(url, timeout))
        _KEPT[key] = engine
        while len(_KEPT) > KEPT_LIMIT:
            _, oldest = _KEPT.popitem(last=False)
            oldest.dispose()  # its checked-out connections close when they return
        return engine, True


def dispose_kept_engines() -> None:
    """Close every kept engine's idle connection (tests; at the end of a service the process exit does it)."""
    with _KEPT_LOCK:
        engines = list(_KEPT.values())
        _KEPT.clear()
    for engine in engines:
        engine.dispose()


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


def hang_limit(timeout: float) -> float:
    """How long one driver call may wait for the source before its connection is cut: the
    statement timeout, which the server enforces, plus a grace for the server's own answer
    to arrive (2 s + the timeout, at most 30 s more)."""
    return timeout + min(30.0, 2.0 + timeout)


class SourceHung(RetriableConnectorError):
    """The source gave no answer to a call within ``hang_limit``: the connection was cut."""


class SourceTimedOut(RetriableConnectorError):
    """A query ran past the connector's ``timeout`` and was stopped (a SQLite source: its
    progress handler; PostgreSQL and MySQL/MariaDB stop it themselves: ``connector_error``)."""


class HangGuard:
    """Cuts a source connection whose driver call has waited past its limit.

    The server's statement timeout stops a slow query, but not a server that stops
    answering (a stopped process, a network that drops packets without a reset, a proxy
    that hangs): the driver then waits on its socket for ever, and the poll with it (on a
    SQLite store, every poll after it). The guard's thread watches each call made
    inside ``waiting()``; past the limit it shuts the socket down, so the blocked read
    returns an error at once. Time between calls (the store writing a batch) never counts.
    """

    def __init__(self, connection: Connection, limit: float) -> None:
        self.limit = limit
        self.cut = False
        self.interrupted = False  # a SQLite source's call stopped past its limit (``overdue``)
        self._fd = _socket_fd(connection)
        self._deadline: float | None = None
        self._closed = False
        self._changed = threading.Condition()
        if self._fd is not None:
            threading.Thread(target=self._watch, name="sql-hang-guard", daemon=True).start()

    @contextmanager
    def waiting(self) -> Iterator[None]:
        with self._changed:
            self._deadline = monotonic() + self.limit
            self._changed.notify()
        try:
            yield
        finally:
            with self._changed:
                self._deadline = None

    def overdue(self) -> int:
        """SQLite's progress handler (every few thousand steps of a statement): non-zero stops
        the statement (``sqlite3.OperationalError: interrupted``) once the call has run past its
        limit. A file on a hung network mount blocks inside a read, where no handler runs:
        nothing in-process can cut that (docs/connectors/sql.md)."""
        deadline = self._deadline
        if deadline is not None and monotonic() > deadline:
            self.interrupted = True
            return 1
        return 0

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()

    def _watch(self) -> None:
        with self._changed:
            while not self._closed:
                if self._deadline is None:
                    self._changed.wait()
                    continue
                left = self._deadline - monotonic()
                if left > 0:
                    self._changed.wait(left)
                    continue
                self.cut = True
                _shut_down(self._fd)
                return


GUARD = "clinicsync.hang_guard"  # the guard of a read-only connection, in its ``info``


def guard_of(connection: Connection) -> HangGuard | None:
    guard = connection.info.get(GUARD)
    return guard if isinstance(guard, HangGuard) else None


@contextmanager
def guarded(connection: Connection) -> Iterator[None]:
    """A driver call on ``connection`` under its hang guard (none: as is)."""
    guard = guard_of(connection)
    if guard is None:
        yield
        return
    with guard.waiting():
        yield


def _socket_fd(connection: Connection) -> int | None:
    """The socket of a psycopg or PyMySQL connection (None: another driver, or SQLite)."""
    dbapi: Any = connection.connection.dbapi_connection
    try:
        if hasattr(dbapi, "pgconn"):  # psycopg 3
            return int(dbapi.fileno())
        sock = getattr(dbapi, "_sock", None)  # PyMySQL
        return int(sock.fileno()) if sock is not None else None
    except Exception:  # a closed or odd connection: no guard rather than no read
        return None


def _shut_down(fd: int | None) -> None:
    if fd is None:
        return
    try:
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # closed meanwhile: the call already returned


def read_only_supported(dialect_name: str) -> bool:
    return dialect_name in ("postgresql", "mysql", "mariadb", "sqlite")


@contextmanager
def read_only_connection(engine: Engine, timeout: float, connector: str = "") -> Iterator[Connection]:
    """A connection inside a read-only transaction, rolled back at the end.

    PostgreSQL: SET TRANSACTION READ ONLY + SET LOCAL statement_timeout. MySQL/MariaDB:
    the session's statement time limit, then START TRANSACTION READ ONLY. SQLite:
    PRAGMA query_only, and a progress handler that stops a statement past ``timeout``
    (``SourceTimedOut``). Elsewhere (SQL Server …) only the login's rights and the
    statement check stand guard; `check` says so. On PostgreSQL and MySQL/MariaDB a
    ``HangGuard`` cuts the connection when a call made under ``guarded`` has no answer
    within ``hang_limit(timeout)``: the read then fails with ``SourceHung``. A pooled
    connection (``read_engine``) that the server dropped while it was idle is found by the
    first statement, and the read begins once more on a new connection. ``connector``: the
    name the errors start with.
    """
    connection, guard = _begin(engine, timeout, connector, retry=not isinstance(engine.pool, NullPool))
    try:
        yield connection
    except SQLAlchemyError:
        if guard.cut or guard.interrupted:
            raise _stopped(guard, timeout, connector) from None
        raise
    finally:
        _end(connection, guard)


def _begin(engine: Engine, timeout: float, connector: str, retry: bool) -> tuple[Connection, HangGuard]:
    """A connection of ``engine`` under its hang guard, its read-only transaction begun."""
    connection = engine.connect()
    sqlite = connection.dialect.name == "sqlite"
    guard = HangGuard(connection, timeout if sqlite else hang_limit(timeout))
    connection.info[GUARD] = guard
    try:
        if sqlite:
            connection.connection.dbapi_connection.set_progress_handler(guard.overdue, 10_000)  # type: ignore[union-attr]
        with guard.waiting():
            _begin_read_only(connection, timeout)
    except SQLAlchemyError as exc:
        _end(connection, guard)
        if guard.cut or guard.interrupted:
            raise _stopped(guard, timeout, connector) from None
        if retry and isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return _begin(engine, timeout, connector, retry=False)  # a kept connection the server dropped
        raise
    except BaseException:
        _end(connection, guard)
        raise
    return connection, guard


def _stopped(guard: HangGuard, timeout: float, connector: str) -> RetriableConnectorError:
    named = f"connector {connector}: " if connector else ""
    if guard.interrupted:
        return SourceTimedOut(f"{named}a query ran past the timeout of {timeout:g} s (the connector's `timeout:`) "
                              "and was stopped; the next poll tries again")
    return SourceHung(f"{named}the source gave no answer for {guard.limit:g} s (its timeout is {timeout:g} s): "
                      "the connection was cut; the next poll tries again")


def _end(connection: Connection, guard: HangGuard) -> None:
    guard.close()
    try:
        if guard.cut or guard.interrupted or connection.invalidated:
            # the socket is shut (or a statement was stopped): no rollback to send, nor a connection to keep
            connection.invalidate()
        else:
            connection.info.pop(GUARD, None)
            connection.rollback()
    finally:
        connection.close()


def _begin_read_only(connection: Connection, timeout: float) -> None:
    name = connection.dialect.name
    if name == "postgresql":
        # One message, one round trip: a statement without parameters goes by the simple query
        # protocol, which takes several (what apply_timeout sets, with the transaction's mode).
        millis = max(1, int(timeout * 1000))
        connection.exec_driver_sql(f"SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = {millis}")
    elif is_mysql(connection):
        apply_timeout(connection, timeout)
        connection.exec_driver_sql("START TRANSACTION READ ONLY")
    elif name == "sqlite":
        connection.exec_driver_sql("PRAGMA query_only = ON")


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


def connector_error(connector: str, action: str, exc: SQLAlchemyError, timeout: float | None = None) -> ConnectorError:
    """OperationalError (unreachable, timeout, deadlock, lock wait) is passing; anything
    else (bad SQL, missing column, refused write) needs a person. ``timeout``: the statement
    timeout in force, named when the server stopped the query for it."""
    if timeout is not None and statement_timed_out(exc):
        return SourceTimedOut(f"connector {connector}: {action} failed: the query ran past the timeout of "
                              f"{timeout:g} s (the connector's `timeout:`) and the database stopped it; "
                              f"{describe(exc)}")
    message = f"connector {connector}: {action} failed: {describe(exc)}"
    return RetriableConnectorError(message) if _transient(exc) else FatalConnectorError(message)


# MariaDB's max_statement_time (1969) and MySQL's max_execution_time (3024) stopped the query.
_MYSQL_TIMED_OUT = frozenset({1969, 3024})


def statement_timed_out(exc: BaseException) -> bool:
    """The server stopped the statement at its statement timeout (PostgreSQL: query_canceled
    for ``statement_timeout``, not a cancel by hand)."""
    original = getattr(exc, "orig", None) or exc
    if getattr(original, "sqlstate", None) == "57014":
        return "statement timeout" in str(original)
    code = (getattr(original, "args", None) or (None,))[0]
    return type(original).__module__.split(".")[0] in ("pymysql", "MySQLdb") and code in _MYSQL_TIMED_OUT


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
