"""The locks several workers coordinate with, on each kind of database."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine

from clinicsync.sync.store.db import current_revision, head_revision, make_engine, upgrade
from clinicsync.sync.store.locks import (
    LockTimeout,
    WorkerLocked,
    lock_held,
    migration_lock,
    poll_lock,
    sqlite_worker_lock,
    store_lane,
    try_lock,
)
from clinicsync.sync.store.store import Store
from tests.conftest import POSTGRES_URL, postgres_schema


def test_one_poller_per_connector_and_the_others_never_wait(store: Store) -> None:
    with poll_lock(store.engine, "emr") as first:
        assert first is not None and not first.lost()
        with poll_lock(store.engine, "emr") as second:
            assert second is None
        with poll_lock(store.engine, "lab") as other:
            assert other is not None
    with poll_lock(store.engine, "emr") as again:
        assert again is not None


@pytest.mark.mariadb
def test_poll_lock_on_mariadb(mariadb_database: dict[str, object]) -> None:
    engine = make_engine(str(mariadb_database["url"]))
    try:
        with poll_lock(engine, "emr") as first:
            assert first is not None
            with poll_lock(engine, "emr") as second:
                assert second is None
        with poll_lock(engine, "emr") as again:
            assert again is not None
    finally:
        engine.dispose()


def held_is_told(engine: Engine) -> None:
    """``lock_held`` tells a held lock from a free one without taking it (`status`
    names a worker hung in the calendar stage; taking the lock to look would make a run that
    starts at that moment skip its stage)."""
    assert lock_held(engine, "stage", "calendar") is False
    with try_lock(engine, "stage", "calendar") as held:
        assert held is not None
        assert lock_held(engine, "stage", "calendar") is True
        assert lock_held(engine, "stage", "other") is False
    assert lock_held(engine, "stage", "calendar") is False


def test_whether_a_lock_is_held_is_told_without_taking_it(store: Store) -> None:
    held_is_told(store.engine)


def test_whether_an_in_memory_stores_lock_is_held_is_told() -> None:
    engine = make_engine("sqlite://")
    try:
        held_is_told(engine)
    finally:
        engine.dispose()


@pytest.mark.mariadb
def test_whether_a_lock_is_held_is_told_on_mariadb(mariadb_database: dict[str, object]) -> None:
    engine = make_engine(str(mariadb_database["url"]))
    try:
        held_is_told(engine)
    finally:
        engine.dispose()


@pytest.fixture
def second_schema_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


@pytest.mark.postgres
def test_postgres_locks_are_scoped_by_schema(postgres_url: str, second_schema_url: str) -> None:
    """Two deployments sharing one server (one schema each) never block each other."""
    one, two = make_engine(postgres_url), make_engine(second_schema_url)
    try:
        with poll_lock(one, "emr") as first, poll_lock(two, "emr") as other:
            assert first is not None and other is not None
    finally:
        one.dispose()
        two.dispose()


@pytest.mark.postgres
def test_a_lock_whose_session_died_is_reported_lost(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        with poll_lock(engine, "emr") as held:
            assert held is not None
            pid = held.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()  # type: ignore[attr-defined]
            with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            assert held.lost()
            with poll_lock(engine, "emr") as successor:  # the server released it with the session
                assert successor is not None
        with poll_lock(engine, "emr") as again:
            assert again is not None
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_concurrent_upgrades_migrate_once(postgres_url: str) -> None:
    engines = [make_engine(postgres_url) for _ in range(3)]
    barrier = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def migrate(engine: object) -> None:
        barrier.wait()
        try:
            upgrade(engine)  # type: ignore[arg-type]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(e,), daemon=True) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)  # a hang guard: without the lock, concurrent migrations block each other
    try:
        assert not any(t.is_alive() for t in threads), "concurrent migrations never finished"
        assert errors == []
        assert current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            engine.dispose()


def test_a_blocking_lock_gives_up_after_its_bound(store: Store) -> None:
    with migration_lock(store.engine) as held:
        assert held is not None
        with pytest.raises(LockTimeout), try_lock(store.engine, "migrate", wait=0.2):
            pass
    with migration_lock(store.engine, wait=0.2) as again:
        assert again is not None


def test_one_run_worker_per_sqlite_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with sqlite_worker_lock(engine):
        with pytest.raises(WorkerLocked) as refused, sqlite_worker_lock(engine):
            pass
        message = str(refused.value)
        assert "another `clinicsync run`" in message and "PostgreSQL" in message and str(tmp_path) in message
    with sqlite_worker_lock(engine):  # released on exit
        pass
    engine.dispose()


@pytest.mark.postgres
def test_no_worker_limit_and_no_lane_on_postgres(postgres_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(postgres_url)
    sqlite = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with sqlite_worker_lock(engine), sqlite_worker_lock(engine):
            pass
        assert store_lane(engine) is not store_lane(engine) or not hasattr(store_lane(engine), "acquire")
        assert store_lane(sqlite) is store_lane(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    finally:
        engine.dispose()
        sqlite.dispose()


def test_an_in_memory_stores_locks_are_dropped_when_released() -> None:
    """An in-memory SQLite store locks by name in the process (locks._MEMORY_LOCKS). A name that
    keeps arriving — the waitlist books each freed slot under ``("waitlist-book", id)`` — must
    not stay registered after its block, or a service keeps one lock per slot it ever booked
    (main: 5,000 entries after 5,000 slots). Held and waited-for names stay, and still exclude."""
    from clinicsync.sync.store import locks

    engine = make_engine("sqlite://")
    try:
        before = len(locks._MEMORY_LOCKS)
        for slot in range(5_000):
            with try_lock(engine, "waitlist-book", str(slot)) as held:
                assert held is not None
        assert len(locks._MEMORY_LOCKS) == before
        with try_lock(engine, "waitlist-book", "7") as first:
            assert first is not None and ("waitlist-book", "7") in locks._MEMORY_LOCKS
            with try_lock(engine, "waitlist-book", "7") as second:
                assert second is None  # held: the other worker skips it
            with pytest.raises(LockTimeout), try_lock(engine, "waitlist-book", "7", wait=0.05):
                pass
            assert ("waitlist-book", "7") in locks._MEMORY_LOCKS  # still held
        assert len(locks._MEMORY_LOCKS) == before
        with try_lock(engine, "waitlist-book", "7") as again:
            assert again is not None
    finally:
        engine.dispose()



def test_a_sqlite_file_stores_lock_files_go_with_their_locks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A lock named per thing (the waitlist books each freed slot under its own name) left one
    file per name ever used in `<store>.locks/` on main: 500 slots, 500 files, for the store's
    life. Each file now goes when its lock is released."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    for slot in range(500):
        with try_lock(engine, "waitlist-book", str(slot)) as held:
            assert held is not None
    assert list((tmp_path / "store.db.locks").iterdir()) == []


def test_a_worker_that_opened_a_removed_lock_file_does_not_hold_the_lock(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The race the removal brings: B opens the lock file, A (holding it) releases and removes
    it, C makes a new file and takes the lock, then B's flock on the removed file is granted.
    B must see that its file is no longer the one at the path and not hold the lock beside C."""
    import fcntl as real

    from clinicsync.sync.store import locks

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    b_opened, go_on = threading.Event(), threading.Event()

    class PausedFlock:  # B's first flock waits until A released and C holds the new file
        LOCK_EX, LOCK_NB, LOCK_UN = real.LOCK_EX, real.LOCK_NB, real.LOCK_UN

        @staticmethod
        def flock(fd: int, operation: int) -> None:
            if threading.current_thread().name == "B" and not b_opened.is_set():
                b_opened.set()
                go_on.wait(5)
            real.flock(fd, operation)

    monkeypatch.setattr(locks, "fcntl", PausedFlock)
    b_held: list[bool] = []
    c_holds = threading.Event()

    def b() -> None:
        with try_lock(engine, "waitlist-book", "7", wait=5) as held:
            b_held.append(held is not None and not c_holds.is_set())

    with try_lock(engine, "waitlist-book", "7") as a:
        assert a is not None
        thread = threading.Thread(target=b, name="B")
        thread.start()
        assert b_opened.wait(5)
    with try_lock(engine, "waitlist-book", "7") as c:  # A released and removed the file: C makes a new one
        assert c is not None
        c_holds.set()
        go_on.set()  # B's flock on the removed file is granted now
        time.sleep(0.3)
        assert thread.is_alive()  # B waits for C: it did not take the removed file's lock
        c_holds.clear()
    thread.join(5)
    assert b_held == [True]
