"""Engines and migrations. SQLite is the embedded default; PostgreSQL by URL."""

from __future__ import annotations

import importlib
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, Insert, Table, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from clinicsync.common.db_urls import driver_url
from clinicsync.sync.store.locks import migration_lock

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration's id. Every command that opens the store checks the schema against it;
# reading it from alembic's script directory imported alembic (and mako, pygments): a third of
# `status`'s start. tests/cli_start/test_imports.py keeps it equal to
# alembic's head, so a new migration (or the merger re-chaining them) must update it.
HEAD_REVISION = "0047"
T = TypeVar("T")


class StoreNotReady(RuntimeError):
    """The database schema is not at the current migration."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, pool_size: int = 5, echo: bool = False, max_overflow: int = 10,
                pool_timeout: float = 30.0) -> Engine:
    """``hide_parameters``: a failed statement's error (which reaches run reports) never
    carries the row's values, which may be patient data."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # pool_use_lifo: the connection checked in last is handed out first (see FRESH_FOR below).
    engine = create_engine(driver_url(url), echo=echo, pool_size=pool_size, max_overflow=max_overflow,
                           pool_timeout=pool_timeout, pool_pre_ping=True, pool_use_lifo=True, hide_parameters=True)
    if parsed.get_backend_name() == "postgresql":
        event.listen(engine, "connect", _postgres_session)
        if engine.dialect.driver == "psycopg":
            event.listen(engine, "checkin", _out_of_autocommit)
            _BEGINS_WITH.add(engine)
    _ping_unless_unpinged(engine)
    return engine


# -- checkouts without the pre-ping, for work that tells a dead connection by its first statement --
# The pool pings each connection it hands out (a round trip, so a connection the server dropped
# is never used). A push pays that on every request (two of a REST push's thirteen
# round trips on PostgreSQL); instead it checks out unpinged and, if its FIRST statement finds
# the connection dead, runs once more on a pinged checkout (:func:`on_live_connection`). Nothing
# was done on the dead connection (the transaction never began), so the retry is exact.
_UNPINGED: ContextVar[bool] = ContextVar("clinicsync_unpinged_checkout", default=False)


# A connection back in the pool for less than FRESH_FOR seconds is not pinged either: it was alive
# when its last work ended, and a poll checks out several in a row, a moment apart (its lock, its
# state, its run's and stage's rows), each ping a round trip that cost more CPU than the statement
# it guarded. The pre-ping is for a connection that sat in the pool, where a server restart, an
# idle timeout or a firewall may have dropped it. One the server drops within that second fails its
# first statement, as one dropped in the middle of a transaction does, and SQLAlchemy then
# invalidates it and every pooled connection as old, so none is handed out dead again.
# The pool hands out the connection checked in last (LIFO): in `clinicsync run` a dozen threads
# (poll slots, scheduler, jobs) share the pool, and first-in-first-out handed each checkout the
# connection that had sat longest, past FRESH_FOR at a poll a second, so nearly every checkout of
# an idle poll and of its claim and release was pinged. Last-in-first-out reuses the few
# connections just used; the others sit (and are pinged when next needed).
FRESH_FOR = 1.0
_RETURNED: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()  # DBAPI connection -> checked in


class _PingUnlessUnpinged:
    """The dialect's ``do_ping`` (``ping``), skipped inside :func:`on_live_connection` and for a
    connection checked in less than FRESH_FOR seconds ago."""

    def __init__(self, ping: Callable[[Any], bool]) -> None:
        self.ping = ping

    def __call__(self, dbapi_connection: Any) -> bool:
        if _UNPINGED.get():
            return True
        returned = _RETURNED.get(dbapi_connection)
        if returned is not None and time.monotonic() - returned < FRESH_FOR:
            return True
        return bool(self.ping(dbapi_connection))


def _note_returned(dbapi_connection: Any, _record: Any) -> None:
    """Check-in: when the connection came back (a connection the pool closed is None)."""
    if dbapi_connection is not None:
        with suppress(TypeError):  # a driver's connection that takes no weak reference: always pinged
            _RETURNED[dbapi_connection] = time.monotonic()


def _ping_unless_unpinged(engine: Engine) -> None:
    dialect: Any = engine.dialect
    dialect.do_ping = _PingUnlessUnpinged(dialect.do_ping)
    event.listen(engine, "checkin", _note_returned)


class DeadOnArrival(Exception):
    """Raised by work run by :func:`on_live_connection` when its first statement on a connection
    found it dead (:func:`dead_connection`): nothing happened on it, so the work may run again."""


def dead_connection(exc: BaseException) -> bool:
    """The statement failed because the connection is gone: SQLAlchemy has invalidated it, and
    the pool's other connections of its age (the pool reconnects them at their next checkout),
    so no dead connection is handed out twice."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


@contextmanager
def _unpinged() -> Iterator[None]:
    token = _UNPINGED.set(True)
    try:
        yield
    finally:
        _UNPINGED.reset(token)


def on_live_connection(work: Callable[[], T]) -> T:
    """``work()`` with the pool's checkouts unpinged; once more, pinged as usual, if its first
    statement on a checkout (:func:`first_statement`) met a connection the server had dropped
    (e.g. after a restart). Any other failure is the work's own."""
    try:
        with _unpinged():
            return work()
    except DeadOnArrival:
        return work()


def first_statement(connection: Connection, sql: str, parameters: Any = None) -> Any:
    """``exec_driver_sql`` of the first statement a checkout runs (its transaction begins with
    it): under :func:`on_live_connection`, a connection found dead raises :class:`DeadOnArrival`
    (nothing happened on it), so the work runs again on a pinged checkout; otherwise as is."""
    try:
        return connection.exec_driver_sql(sql, parameters)
    except DBAPIError as exc:
        if _UNPINGED.get() and dead_connection(exc):
            raise DeadOnArrival(type(exc).__name__) from exc
        raise


def first_at_cursor(connection: Connection, sql: str, parameters: Any = ()) -> Any:
    """:func:`first_statement` on the connection's DB-API cursor (:func:`at_cursor`, ~30-60 us
    less than ``exec_driver_sql``): a connection found dead raises :class:`DeadOnArrival` under
    :func:`on_live_connection` (:func:`at_cursor` raised SQLAlchemy's error for it, with the
    connection invalidated, as ``exec_driver_sql`` does). Returns the open cursor."""
    try:
        return at_cursor(connection, sql, parameters)
    except DBAPIError as exc:
        if _UNPINGED.get() and dead_connection(exc):
            raise DeadOnArrival(type(exc).__name__) from exc
        raise


def at_cursor(connection: Connection, sql: str, parameters: Any = ()) -> Any:
    """``sql`` (in the driver's own paramstyle) on the connection's DB-API cursor, past
    SQLAlchemy's execution context: a push's own statements, read as the driver returns
    them, cost ~10-25 us less each (result metadata, its processors). A driver
    error is raised as ``exec_driver_sql`` raises it (SQLAlchemy's ``IntegrityError``... with
    the parameters hidden), and a connection it shows dead is invalidated. Returns the open
    cursor: the caller reads and closes it. A connection with listeners or echo (tests that
    count statements, ``store.echo``) goes through ``exec_driver_sql``, so they see it."""
    if connection._has_events or connection.engine._has_events or connection._echo:
        return _Fetched(connection.exec_driver_sql(sql, parameters, execution_options={"preserve_rowcount": True}))
    dbapi_connection = connection.connection
    cursor = None
    try:
        # Opened inside: a driver that refuses a cursor on a connection it knows is gone raises
        # here, and that too goes through SQLAlchemy's handler (invalidated, flagged), as
        # exec_driver_sql's own cursor would (first_at_cursor's retry depends on it).
        cursor = dbapi_connection.cursor()
        cursor.execute(sql, parameters)
    except Exception as exc:
        # SQLAlchemy's handler closes the cursor itself, guarded: a close here could raise on a
        # dead connection and hide the error, and skip the invalidation a retry depends on.
        connection._handle_dbapi_exception(exc, sql, parameters, cursor, None)
    return cursor


# -- a write of one statement: its own transaction, in autocommit ------------------------------
# ``engine.begin()`` around one statement costs PostgreSQL three round trips (psycopg's BEGIN, the
# statement, COMMIT); in autocommit the statement is its own transaction, one round trip, with the
# same outcome (all or nothing, committed when it returns). A sync writes a dozen such rows per run
# (its stages' progress, its run row, its lock holders: ~250 of a simulated day's round
# trips). SQLite's autocommit is the same one statement, one transaction; a dry run's engine
# (:func:`make_rehearsal_engine`) ignores the isolation change, so the write stays in its transaction.
@contextmanager
def one_statement(engine: Engine) -> Iterator[Connection]:
    """A connection for a write transaction of exactly one statement (see above): run one
    ``execute`` on it; a second would be a transaction of its own, so use ``engine.begin()`` then."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        yield connection


# -- PostgreSQL: a transaction's BEGIN and its first statements in one message ------------------
# psycopg sends a transaction's BEGIN on its own, a round trip before the first statement
# (one of a push's six on PostgreSQL, with the push's turn the next). In autocommit, psycopg
# sends none, and a statement without parameters goes by the simple query protocol, which takes
# several statements in one message: "BEGIN ...;SELECT pg_advisory_xact_lock(...)". The server
# runs them in order, so the transaction holds the turn before its first read as before. From
# then on the connection is in a transaction psycopg did not open; psycopg commits and rolls
# back by the server's transaction status, not its autocommit flag, so the transaction ends as
# any other; the flag is switched back when the connection is checked in, out of the transaction.
_BEGINS_WITH: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines (make_engine, psycopg) that may
_BEGUN_BY_HAND = "clinicsync_begun_by_hand"  # in the pool record's info: autocommit to switch back


# -- PostgreSQL: a push's statements planned once per pooled connection, for a while -------------
# The pool's sessions plan every statement anew (``_postgres_session``: force_custom_plan, for a
# first import's sake), which was most of PostgreSQL's work per push (planning the one
# read 0.17-0.31 ms, running it 0.07-0.11 ms). A push's transaction instead lets PostgreSQL keep a
# generic plan of each statement psycopg prepared (``auto``), for that transaction only; elsewhere
# force_custom_plan never uses it. A cached plan outlives what it was chosen for, and is made
# without the values; three guards keep it what a plan for the values would be:
# - ``enable_seqscan = off`` (for the transaction): a plan for "any row of this source" is a table
#   scan when another source holds most rows (tombstone, quarantine), where a plan for the value
#   walks the index. Every table a push reads has an index that starts with what it reads by.
# - ``DISCARD PLANS`` when a connection's push plans are older than PLAN_LIFETIME_SECONDS: a plan
#   chosen while a table was small walked another index (ix_appointment_practitioner: every row
#   of the source) once it is large, and nothing else re-plans it while no ANALYZE runs (another
#   process's poll fills a table; this server runs without autovacuum).
# - an ANALYZE re-plans every cached statement that reads the table (PostgreSQL's PREPARE page):
#   sync/ingest/push.py ``_Statistics`` analyzes every table a push reads as the push source grows.
# All are sent with the push's BEGIN (``begin_first``), no round trip more.
PUSH_PLANS = "SET LOCAL plan_cache_mode = auto;SET LOCAL enable_seqscan = off"
PLAN_LIFETIME_SECONDS = 10.0
_PLANS_SINCE = "clinicsync_push_plans_since"  # in the pool record's info: when its plans were last discarded


def push_plans(connection: Connection) -> str:
    """:data:`PUSH_PLANS`, after ``DISCARD PLANS`` when the connection's cached plans are older than
    :data:`PLAN_LIFETIME_SECONDS` (prepared statements stay; each is planned again at its next use)."""
    info, now = connection.info, time.monotonic()
    since = info.setdefault(_PLANS_SINCE, now)
    if now - since < PLAN_LIFETIME_SECONDS:
        return PUSH_PLANS
    info[_PLANS_SINCE] = now
    return f"DISCARD PLANS;{PUSH_PLANS}"


def begin_first(connection: Connection, statements: str, *, cached_plans: bool = False) -> Any:
    """``statements`` (literal SQL without parameters, ``;``-separated) as the first of a
    checkout's transaction, with its BEGIN in the same message where the connection allows
    (psycopg, out of a transaction, on an engine from :func:`make_engine`); else as
    :func:`first_at_cursor` sends them (psycopg's BEGIN first). A connection found dead raises
    :class:`DeadOnArrival` under :func:`on_live_connection`, as :func:`first_at_cursor`. The
    BEGIN is psycopg's own for the connection's isolation level, read-only and deferrable
    settings. ``cached_plans``: the transaction keeps its statements' plans (:func:`push_plans`),
    only where this BEGIN is its own (a transaction begun elsewhere, e.g. a dry run's one, is left
    as it is). Returns the open cursor (at the BEGIN's result)."""
    driver: Any = connection.connection.driver_connection
    if connection.engine not in _BEGINS_WITH or driver.autocommit or _transaction_status(driver) != _IDLE:
        return first_at_cursor(connection, statements, None)
    driver.autocommit = True  # idle: no round trip, no failure (psycopg checks its own status only)
    connection.info[_BEGUN_BY_HAND] = True
    plans = f"{push_plans(connection)};" if cached_plans else ""
    return first_at_cursor(connection, f"{_begin_command(driver)};{plans}{statements}", None)


_IDLE = 0  # libpq's PQTRANS_IDLE (psycopg.pq.TransactionStatus.IDLE), without importing psycopg here


def _transaction_status(driver: Any) -> int:
    return int(driver.pgconn.transaction_status)


def _begin_command(driver: Any) -> str:
    """The BEGIN psycopg would send for the connection (its ``_get_tx_start_command``)."""
    parts = ["BEGIN"]
    if driver.isolation_level is not None:
        parts.append(f"ISOLATION LEVEL {driver.isolation_level.name.replace('_', ' ')}")
    if driver.read_only is not None:
        parts.append("READ ONLY" if driver.read_only else "READ WRITE")
    if driver.deferrable is not None:
        parts.append("DEFERRABLE" if driver.deferrable else "NOT DEFERRABLE")
    return " ".join(parts)


def _out_of_autocommit(dbapi_connection: Any, record: Any) -> None:
    """Check-in: a connection whose transaction :func:`begin_first` began goes back to the pool
    out of autocommit. Its transaction has ended (committed, or rolled back by the pool's reset);
    one still open (never expected) is not trusted to a next checkout: the connection is closed."""
    if dbapi_connection is None or not record.info.pop(_BEGUN_BY_HAND, False):
        return
    if _transaction_status(dbapi_connection) != _IDLE:
        record.invalidate()
        return
    dbapi_connection.autocommit = False


class _Fetched:
    """A ``CursorResult`` with the cursor's face :func:`at_cursor` callers use."""

    def __init__(self, result: Any) -> None:
        self.result = result

    @property
    def lastrowid(self) -> Any:
        return self.result.lastrowid

    @property
    def rowcount(self) -> int:
        return int(self.result.rowcount)

    def fetchone(self) -> Any:
        row = self.result.fetchone()
        return None if row is None else tuple(row)

    def close(self) -> None:
        self.result.close()


def make_rehearsal_engine(url: str) -> Engine:
    """An engine for a dry run: every checkout shares one connection, and its commits,
    rollbacks and isolation changes do nothing, so all the run writes stays in one open
    transaction that ``discard_rehearsal`` rolls back. Single-threaded use only.

    Isolation changes are refused because a lock connection's AUTOCOMMIT would otherwise
    switch the shared connection to autocommit and make the run's writes real."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, poolclass=StaticPool, connect_args={"timeout": 30, "check_same_thread": False},
                               hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(driver_url(url), poolclass=StaticPool, hide_parameters=True)
        if parsed.get_backend_name() == "postgresql":
            event.listen(engine, "connect", _postgres_session)
    dialect: Any = engine.dialect
    dialect.do_commit = lambda _dbapi_connection: None
    dialect.do_rollback = lambda _dbapi_connection: None
    dialect.set_isolation_level = lambda _dbapi_connection, _level: None
    dialect.reset_isolation_level = lambda _dbapi_connection: None
    _REHEARSALS.add(engine)
    raw = engine.raw_connection()
    if parsed.get_backend_name() == "sqlite":  # one transaction from here on (pysqlite would not open one for reads)
        raw.driver_connection.execute("BEGIN")  # type: ignore[union-attr]
    raw.close()
    return engine


_REHEARSALS: weakref.WeakSet[Engine] = weakref.WeakSet()


def is_rehearsal(engine: Engine) -> bool:
    """A dry run's engine (:func:`make_rehearsal_engine`): nothing it writes is ever committed."""
    return engine in _REHEARSALS


def discard_rehearsal(engine: Engine) -> None:
    """Roll back everything a dry run wrote, for real, and close its connection."""
    raw = engine.raw_connection()
    try:
        raw.driver_connection.rollback()  # type: ignore[union-attr]
    finally:
        raw.close()
        engine.dispose()


def _postgres_session(dbapi_connection: Any, _record: Any) -> None:
    """Plan every prepared statement for its own values. psycopg prepares a statement run
    five times; PostgreSQL then caches a generic plan, chosen while an import's tables were
    still small (no statistics yet): the batch lookups by external id kept scanning the
    whole table as it grew (100,000 rows: 10 s of CPU, 130 s of waiting on the server)."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_connection.commit()


def insert_ignoring_duplicates(connection: Connection, table: Table) -> Insert:
    """An INSERT that skips a row whose key another worker wrote first (not an error)."""
    dialect = connection.dialect.name  # each dialect's module on use: `status` must not import them all
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table).on_conflict_do_nothing()
    return table.insert().prefix_with("IGNORE")  # MySQL / MariaDB


def upsert_statement(connection: Connection, table: Table, keys: Sequence[str], columns: Sequence[str],
                     changed: str | None = None) -> Insert:
    """An INSERT that, when another worker already wrote the row's key (``keys``), writes
    ``columns`` over it instead of failing: ``ON CONFLICT DO UPDATE`` on PostgreSQL and
    SQLite, ``ON DUPLICATE KEY UPDATE`` on MySQL/MariaDB. ``changed``: a column (a content
    hash) that must differ for the row to be written, so a racing equal copy writes nothing
    (PostgreSQL and SQLite; MySQL rewrites the same values, which changes nothing).
    Built once per dialect, table and columns (a push upserts its people each time: building
    and compiling the statement anew was a sixth of its CPU)."""
    return _upsert(connection.dialect.name, table, tuple(keys), tuple(columns), changed)


@lru_cache(maxsize=256)
def _upsert(dialect: str, table: Table, keys: tuple[str, ...], columns: tuple[str, ...],
            changed: str | None) -> Insert:
    # On use, and only the store's own dialect: SQLAlchemy's MySQL dialect alone is ~15 ms of a
    # cron run's start on a SQLite or PostgreSQL store.
    if dialect in ("postgresql", "sqlite"):
        module: Any = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
        statement = module.insert(table)
        where = table.c[changed] != statement.excluded[changed] if changed else None
        return statement.on_conflict_do_update(index_elements=list(keys), where=where,
                                               set_={name: statement.excluded[name] for name in columns})
    from sqlalchemy.dialects import mysql

    statement = mysql.insert(table)
    return statement.on_duplicate_key_update({name: statement.inserted[name] for name in columns})


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    return HEAD_REVISION


def current_revision(engine: Engine) -> str | None:
    """The schema's revision as alembic recorded it (None before the first migration), read
    with one SELECT rather than alembic's MigrationContext, which only reads the same row."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
        return str(revision) if revision is not None else None


def known_revisions() -> frozenset[str]:
    """The revision ids of this release's migrations (their files' numbers), read from the
    folder's listing rather than alembic's script directory (see HEAD_REVISION)."""
    files = (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    return frozenset(path.name.partition("_")[0] for path in files)


def refuse_unknown_revision(revision: str | None) -> None:
    """A store migrated by a newer release (or another build) than this one: say so and stop,
    never migrate it (alembic cannot go down from a revision it does not know, and the newer
    release's workers need what it made). A forgotten cron job on another host, left on the
    previous release, meets this after the store was upgraded."""
    if revision is None or revision in known_revisions():
        return
    newer = revision.isdigit() and HEAD_REVISION.isdigit() and int(revision) > int(HEAD_REVISION)
    what = (f"newer than this clinicsync's {HEAD_REVISION}: a newer release migrated it, so this process runs an "
            "older one" if newer else
            f"which this clinicsync (newest {HEAD_REVISION}) does not know: another build of clinicsync migrated it")
    raise StoreNotReady(
        f"the store is at schema revision {revision}, {what} (clinicsync {_release()}). Upgrade clinicsync where "
        "this runs (every worker and cron job on one store must run the same release); do not run "
        "`clinicsync db upgrade` with this one, and never migrate the store down")


def _release() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("clinicsync")
    except PackageNotFoundError:
        return "unknown version"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate under the migration lock: several workers or replicas starting at once
    migrate once; the others wait for it, then find nothing to do. A store at a revision this
    release does not know is refused (StoreNotReady), never migrated."""
    with migration_lock(engine):
        refuse_unknown_revision(current_revision(engine))
        from alembic import command

        command.upgrade(alembic_config(engine), revision)


def ensure_schema(engine: Engine) -> None:
    """Migrate SQLite automatically (single user, embedded); ask for `db upgrade` elsewhere.
    A store newer than this release is refused on both, naming the two revisions."""
    current = current_revision(engine)
    if current == head_revision():
        return
    refuse_unknown_revision(current)
    if engine.dialect.name == "sqlite":
        upgrade(engine)
        return
    raise StoreNotReady(f"the database schema is at revision {current or 'none'}, older than this clinicsync's "
                        f"{HEAD_REVISION}: run `clinicsync db upgrade`")
