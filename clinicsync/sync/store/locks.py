"""Who may do what when several workers share one store: one poller per connector, one
calendar stage and one write-back stage at a time, one migrator per database, one `run`
worker per SQLite file.

Built on the database's own locks, never on a home-made coordinator: PostgreSQL session
advisory locks (held on a dedicated connection, so a worker that dies releases them with
its connection), MySQL/MariaDB ``GET_LOCK``, and for SQLite ``flock`` files in a folder
next to the database file (released by the kernel when the process dies, even on kill -9).
Lock names are scoped by the schema/database, so two deployments on one server never
block each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError


# An in-memory SQLite store's locks by name, each with how many callers hold or wait for it:
# dropped when the last one leaves, so names that keep arriving (a waitlist slot's id) do not
# stay for the process's life.
class _Shared:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock, self.users = threading.Lock(), 0


_MEMORY_LOCKS: dict[tuple[str, ...], _Shared] = {}
_LANES: dict[str, FairLane] = {}
_ENGINE_LANES: weakref.WeakKeyDictionary[Engine, FairLane] = weakref.WeakKeyDictionary()
_REGISTRY_GUARD = threading.Lock()
_FILE_WAIT_STEP = 0.05
BUSY = "busy"  # a stage's count in its run's report when another worker holds its stage_lock


class LockTimeout(RuntimeError):
    """A blocking lock was not granted within its bound."""


class WorkerLocked(RuntimeError):
    """Another `clinicsync run` already works on this SQLite file."""

    def __init__(self, database: Path, holder: str) -> None:
        self.database, self.holder = database, holder
        who = f" (pid {holder})" if holder else ""
        super().__init__(
            f"another `clinicsync run`{who} is already using the SQLite store {database}. SQLite supports "
            "one worker: stop the other one, or move the store to PostgreSQL (store.url) to run several.")


class StageLockLost(RuntimeError):
    """A stage's lock (:func:`stage_lock`) lost with its database session mid-stage: another run
    may be in the stage now, so this one stops before its next write (the next run goes on)."""


class HeldLock:
    """A lock this worker holds. ``lost()`` says whether it may have been taken from us."""

    def lost(self) -> bool:
        return False


class _SessionLock(HeldLock):
    """A lock tied to a database session: lost when that connection is gone."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.gone = False

    def lost(self) -> bool:
        if not self.gone:
            try:
                self.connection.exec_driver_sql("SELECT 1")
            except SQLAlchemyError:
                self.gone = True
        return self.gone


def sqlite_file(engine: Engine) -> Path | None:
    """The database file of a SQLite engine (None for other databases or in-memory)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).resolve()


def lock_folder(database: Path) -> Path:
    return database.with_name(database.name + ".locks")


def _digest(parts: tuple[str, ...]) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def advisory_key(*parts: str) -> int:
    """A stable signed 64-bit key (PostgreSQL advisory lock ids are bigint)."""
    return int.from_bytes(_digest(("clinicsync", *parts))[:8], "big", signed=True)


@contextlib.contextmanager
def try_lock(engine: Engine, *name: str, wait: float | None = None) -> Iterator[HeldLock | None]:
    """Hold the lock ``name`` (e.g. ``("poll", "emr")``) for the block.

    ``wait=None`` never waits: yields None at once when another worker holds it.
    ``wait=seconds`` waits up to that long, then raises LockTimeout.
    """
    dialect = engine.dialect.name
    if dialect == "postgresql":
        manager = _postgres_lock(engine, name, wait)
    elif dialect in ("mysql", "mariadb"):
        manager = _mysql_lock(engine, name, wait)
    else:
        database = sqlite_file(engine)
        if database is not None:
            manager = _file_lock(lock_folder(database) / f"{'-'.join(name)}.lock", wait)
        else:
            manager = _memory_lock(name, wait)
    with manager as held:
        yield held


def poll_lock(engine: Engine, connector: str) -> contextlib.AbstractContextManager[HeldLock | None]:
    """One worker polls a connector at a time; the others skip it and never wait."""
    return try_lock(engine, "poll", connector)


def lock_held(engine: Engine, *name: str) -> bool | None:
    """Whether some worker holds the lock ``name`` now, asked without taking it (a `status`
    that took it, even for a moment, would make a run that starts then skip its stage).
    None when it cannot be told (a SQLite store whose host has no /proc/locks)."""
    dialect = engine.dialect.name
    if dialect in ("postgresql", "mysql", "mariadb"):
        with engine.connect() as connection:
            if dialect == "postgresql":
                key = postgres_key(connection, name)
                return bool(connection.execute(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "AND classid = CAST(:high AS BIGINT) AND objid = CAST(:low AS BIGINT)"),
                    {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF}).scalar())
            return connection.execute(text("SELECT IS_USED_LOCK(:name)"), _mysql_name(connection, name)).scalar() \
                is not None
    database = sqlite_file(engine)
    if database is None:
        with _REGISTRY_GUARD:
            entry = _MEMORY_LOCKS.get(name)
            return entry is not None and entry.lock.locked()
    return _file_locked(lock_folder(database) / f"{'-'.join(name)}.lock")


def _file_locked(path: Path) -> bool | None:
    """Whether a process holds a ``flock`` on the file at ``path``, from the kernel's table of
    locks (Linux /proc/locks: ``1: FLOCK ADVISORY WRITE <pid> <maj>:<min>:<inode> 0 EOF``; a
    lock another waits for is listed with ``->`` before its fields). Its holder removes the
    file before it lets go: no file, no lock."""
    try:
        at = os.stat(path)
        table = Path("/proc/locks").read_text()
    except FileNotFoundError:
        return False if not path.exists() else None
    except OSError:
        return None
    inode = f"{os.major(at.st_dev):02x}:{os.minor(at.st_dev):02x}:{at.st_ino}"
    # Any kind of lock on the file: over NFS the kernel emulates flock with a POSIX lock.
    return any(inode in line.split()[4:7] for line in table.splitlines())


def migration_lock(engine: Engine, wait: float = 600.0) -> contextlib.AbstractContextManager[HeldLock | None]:
    """Migrations run once: a second `db upgrade` waits for the first, then finds nothing to do."""
    return try_lock(engine, "migrate", wait=wait)


def store_lane(engine: Engine) -> contextlib.AbstractContextManager[object]:
    """SQLite has a single writer, and its outbox offsets are not row-locked: the write
    transactions of one process take turns. Other databases lock rows themselves: no lane.

    Held for a store's writes, never while a source is read: a poll takes it for each of its
    write transactions (its run row, each batch with its cursor, the sweep's deletions, its
    end) and lets go before it asks the source for more (sync/ingest/engine.py), so a source that
    hangs until its timeout delays no other job's writes. The jobs that consume the
    outbox hold it for their whole pass (sync/service/runner.py)."""
    if engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    lane = _ENGINE_LANES.get(engine)  # asked at every poll: no path resolved each time
    if lane is None:
        key = str(sqlite_file(engine) or id(engine))
        with _REGISTRY_GUARD:
            lane = _ENGINE_LANES[engine] = _LANES.setdefault(key, FairLane())
    return lane


class FairLane:
    """A lock that serves its waiters in arrival order. A plain ``threading.Lock`` lets a
    job that is due again at once (a source that hangs until its timeout, polled every
    minute) take the lane back before the jobs that waited for it: with 50 sources, 25 were
    never polled in 3 minutes. A ticket each: the lowest waiting ticket goes next.

    Re-entrant for its holder: a job that holds the lane for its pass (the stages) may call a
    helper that takes it for its own write (the zone rules' check); a second ticket there would
    wait for itself for ever."""

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._issued = 0
        self._serving = 0
        self._holder: int | None = None
        self._depth = 0

    def held(self) -> bool:
        """Whether the calling thread holds the lane (tests check a poll's writes with it)."""
        return self._holder == threading.get_ident()

    def __enter__(self) -> FairLane:
        me = threading.get_ident()
        with self._turn:
            if self._holder == me:
                self._depth += 1
                return self
            ticket = self._issued
            self._issued += 1
            while ticket != self._serving:
                self._turn.wait()
            self._holder, self._depth = me, 1
        return self

    def __exit__(self, *exc: object) -> None:
        with self._turn:
            self._depth -= 1
            if self._depth:
                return
            self._holder = None
            self._serving += 1
            self._turn.notify_all()


@contextlib.contextmanager
def sqlite_worker_lock(engine: Engine) -> Iterator[None]:
    """Refuse a second `clinicsync run` on one SQLite file (raises WorkerLocked).

    The lock file holds the owner's pid for the message; the kernel releases the lock
    when the process exits, however it exits. Other databases: nothing to do.
    """
    database = sqlite_file(engine)
    if database is None:
        yield
        return
    path = lock_folder(database) / "run.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            raise WorkerLocked(database, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# -- one implementation per kind of database --------------------------------------------------

def _autocommit(engine: Engine) -> Connection:
    """A dedicated connection that is never left idle in a transaction while holding a lock."""
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def _release_session(held: _SessionLock, statement: str, params: dict[str, object]) -> None:
    connection = held.connection
    try:
        if not held.gone:
            connection.execute(text(statement), params)
    except SQLAlchemyError:
        held.gone = True
    finally:
        if held.gone:
            connection.invalidate()  # the session is gone, and its locks with it
        connection.close()


# The store's schema, per engine: asked once, not before every lock (a poll's). It is
# fixed by the engine's URL (search_path); none (no schema of the path exists yet) is asked again.
_SCHEMAS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def postgres_key(connection: Connection, name: tuple[str, ...]) -> int:
    """The advisory lock's key, scoped by the schema."""
    schema = _SCHEMAS.get(connection.engine)
    if schema is None:
        schema = str(connection.exec_driver_sql("SELECT current_schema()").scalar() or "")
        if schema:
            _SCHEMAS[connection.engine] = schema
    return advisory_key(schema, *name)


def _mysql_name(connection: Connection, name: tuple[str, ...]) -> dict[str, object]:
    """The ``GET_LOCK`` name, scoped by the database (64 characters at most)."""
    database = connection.exec_driver_sql("SELECT DATABASE()").scalar() or ""
    return {"name": "clinicsync-" + _digest((str(database), *name)).hex()[:52]}


@contextlib.contextmanager
def _postgres_lock(engine: Engine, name: tuple[str, ...], wait: float | None) -> Iterator[HeldLock | None]:
    connection = _autocommit(engine)
    try:
        params: dict[str, object] = {"key": postgres_key(connection, name)}
        if wait is None:
            granted = bool(connection.execute(
                text("SELECT pg_try_advisory_lock(CAST(:key AS BIGINT))"), params).scalar())
        else:
            connection.exec_driver_sql(f"SET lock_timeout = {max(1, int(wait * 1000))}")
            try:
                connection.execute(text("SELECT pg_advisory_lock(CAST(:key AS BIGINT))"), params)
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                    raise LockTimeout(f"lock {'/'.join(name)} not granted within {wait:g} s") from None
                raise
            connection.exec_driver_sql("RESET lock_timeout")
            granted = True
    except BaseException:
        connection.close()
        raise
    if not granted:
        connection.close()
        yield None
        return
    held = _SessionLock(connection)
    try:
        yield held
    finally:
        _release_session(held, "SELECT pg_advisory_unlock(CAST(:key AS BIGINT))", params)


@contextlib.contextmanager
def _mysql_lock(engine: Engine, name: tuple[str, ...], wait: float | None) -> Iterator[HeldLock | None]:
    connection = _autocommit(engine)
    try:
        params = _mysql_name(connection, name)
        granted = connection.execute(text("SELECT GET_LOCK(:name, :wait)"),
                                     {**params, "wait": 0 if wait is None else wait}).scalar()
    except BaseException:
        connection.close()
        raise
    if granted != 1:
        connection.close()
        if wait is not None:
            raise LockTimeout(f"lock {'/'.join(name)} not granted within {wait:g} s")
        yield None
        return
    held = _SessionLock(connection)
    try:
        yield held
    finally:
        _release_session(held, "SELECT RELEASE_LOCK(:name)", params)


@contextlib.contextmanager
def _file_lock(path: Path, wait: float | None) -> Iterator[HeldLock | None]:
    """``flock`` on ``path``, whose file is removed when the lock is released: a lock named per
    thing (the waitlist's per slot) would otherwise leave a file per slot ever booked. A worker
    that opened the file before its holder removed it gets a lock on a file no longer at
    ``path``, which locks nothing: it sees the inode differ and opens the path again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = None if wait is None else time.monotonic() + wait
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if deadline is None:
                yield None
                return
            if time.monotonic() >= deadline:
                raise LockTimeout(f"lock file {path} not granted within {wait:g} s") from None
            time.sleep(_FILE_WAIT_STEP)  # flock has no timeout; migrations are rare
            continue
        if _still_at(fd, path):
            break
        os.close(fd)  # its holder removed it meanwhile: the lock is the file now at the path
    try:
        yield HeldLock()
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # while still holding it: a later worker creates a new file
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _still_at(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is the one at ``path`` now."""
    try:
        at = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (at.st_dev, at.st_ino)


@contextlib.contextmanager
def _memory_lock(name: tuple[str, ...], wait: float | None) -> Iterator[HeldLock | None]:
    with _REGISTRY_GUARD:
        entry = _MEMORY_LOCKS.get(name) or _MEMORY_LOCKS.setdefault(name, _Shared())
        entry.users += 1
    lock = entry.lock
    try:
        granted = lock.acquire(blocking=False) if wait is None else lock.acquire(timeout=wait)
        if not granted:
            if wait is not None:
                raise LockTimeout(f"lock {'/'.join(name)} not granted within {wait:g} s")
            yield None
            return
        try:
            yield HeldLock()
        finally:
            lock.release()
    finally:
        with _REGISTRY_GUARD:
            entry.users -= 1
            if not entry.users:
                del _MEMORY_LOCKS[name]
