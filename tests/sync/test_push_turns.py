"""Pushes take turns per appointment, not per source (issue 32): concurrent pushes to
different appointments of one source all land, each in one transaction with its run;
concurrent pushes to one appointment, through separate receivers as two replicas would,
keep the newer whatever order they commit in (on MariaDB through two engines, as two replicas
are: there only the database's GET_LOCK orders them); on PostgreSQL and MariaDB a push to one
appointment is not held up by another appointment's turn."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest.push import PushReceiver, mysql_turn_name
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.locks import advisory_key
from clinicsync.sync.store.model import Appointment, Event, SyncRun
from clinicsync.sync.store.store import Store
from tests.conftest import migrate

A = Appointment.__table__  # type: ignore[attr-defined]
E = Event.__table__  # type: ignore[attr-defined]
R = SyncRun.__table__  # type: ignore[attr-defined]


@pytest.fixture
def settings(write_settings: Callable[..., Path]) -> Settings:
    return load_settings(write_settings(connectors=f"""
- name: website
  kind: rest_api
  api_keys: [{{name: site, sha256: {key_digest('csk_test-turns-0123456789abcdefghijklmnopqrst')}}}]
"""))


def booking(external_id: str, start: str = "2030-03-12T09:30:00", updated_at: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": external_id, "status": "booked", "start": start, "duration_minutes": 30,
        "timezone": "America/New_York", "patient": {"id": "P-shared", "name": "Ana Ruiz", "phone": "(212) 555-0101"},
        "practitioner": {"id": "D-1", "name": "Dr. Amelia Hart"}}
    if updated_at is not None:
        record["updated_at"] = updated_at
    return record


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released together; their results in order (errors raised)."""
    gate = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        gate.wait()
        try:
            results[index] = calls[index]()
        except BaseException as exc:  # reraised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def count(store: Store, table: Any, *where: Any) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def test_eight_concurrent_pushes_to_one_source_all_land(settings: Settings, store: Store) -> None:
    receiver = PushReceiver(settings, store, settings.connectors[0])
    results = at_once([lambda n=n: receiver.receive(booking(f"B-{n}", start=f"2030-03-{n + 10}T09:30:00"),
                                                     f"api POST B-{n}", quarantine_bad=False) for n in range(8)])
    assert [r.outcome for r in results] == ["created"] * 8
    assert count(store, A, A.c.connector == "website") == 8
    assert count(store, E, E.c.kind == "created") == 8
    # Each push is one run in the history, written with its transaction, all of them finished.
    assert count(store, R, R.c.connector == "website", R.c.status == "ok") == 8
    assert count(store, R, R.c.status != "ok") == 0


@pytest.mark.parametrize("rounds", [6])
def test_two_concurrent_pushes_to_one_appointment_keep_the_newer(settings: Settings, store: Store,
                                                                  rounds: int) -> None:
    race_on_one_appointment([PushReceiver(settings, store, settings.connectors[0]) for _ in range(2)], store, rounds)


def race_on_one_appointment(replicas: list[PushReceiver], store: Store, rounds: int) -> None:
    """Two receivers push two versions of one appointment at once, ``rounds`` times: the newer wins."""
    replicas[0].receive(booking("B-1", updated_at="2020-01-01T00:00:00Z"), "api POST B-1", quarantine_bad=False)
    for round_ in range(rounds):
        day = f"2020-01-{round_ + 2:02d}"
        older = booking("B-1", start=f"2030-04-{round_ + 1:02d}T09:00:00", updated_at=f"{day}T00:00:00Z")
        newer = booking("B-1", start=f"2030-05-{round_ + 1:02d}T15:00:00", updated_at=f"{day}T00:00:01Z")
        # The order they are started in alternates: the newer wins either way.
        pair = [(replicas[0], older), (replicas[1], newer)]
        if round_ % 2:
            pair.reverse()
        outcomes = at_once([lambda r=r, b=b: r.receive(b, "api PUT B-1", quarantine_bad=False).outcome
                            for r, b in pair])
        with store.engine.connect() as connection:
            row = connection.execute(select(A.c.start_utc, A.c.version).where(A.c.external_id == "B-1")).one()
        assert row.start_utc.strftime("%m-%d %H") == f"05-{round_ + 1:02d} 19", (round_, outcomes)
        assert "rescheduled" in outcomes
    # One version per change that won, each with its event: no two writes from one read.
    with store.engine.connect() as connection:
        versions = [v for (v,) in connection.execute(select(E.c.version).order_by(E.c.id))]
    assert versions == sorted(set(versions))


@pytest.fixture
def mariadb_replicas(mariadb_database: dict[str, Any], tmp_path: Path,
                     request: pytest.FixtureRequest) -> Iterator[tuple[Settings, list[Store]]]:
    """Two stores on one MariaDB database, each with an engine of its own, as two replicas have
    (this process's queue per appointment is per engine, so only the database orders them)."""
    url = str(mariadb_database["url"])
    path = tmp_path / "settings.yaml"
    path.write_text(f"clinic:\n  timezone: America/New_York\n  default_region: US\nstore:\n  url: \"{url}\"\n"
                    "connectors:\n  - name: website\n    kind: rest_api\n    api_keys: [{name: site, sha256: "
                    f"{key_digest('csk_test-turns-0123456789abcdefghijklmnopqrst')}}}]\n", encoding="utf-8")
    engines = [make_engine(url) for _ in range(2)]
    migrate(engines[0], request)  # at head, as `clinicsync db upgrade` leaves it
    stores = [Store(engine) for engine in engines]
    try:
        yield load_settings(path), stores
    finally:
        for store in stores:
            store.close()


@pytest.mark.mariadb
def test_two_replicas_on_mariadb_take_turns_per_appointment(mariadb_replicas: tuple[Settings, list[Store]]) -> None:
    settings, stores = mariadb_replicas
    race_on_one_appointment([PushReceiver(settings, store, settings.connectors[0]) for store in stores], stores[0],
                            rounds=8)


@pytest.mark.mariadb
def test_a_push_on_mariadb_waits_for_its_appointment_only(mariadb_replicas: tuple[Settings, list[Store]]) -> None:
    """Another replica holds B-1's turn: a push of B-2 goes through, B-1's waits, then lands;
    the turn is released with the transaction's connection (nothing left held)."""
    settings, (store, other) = mariadb_replicas
    receiver = PushReceiver(settings, store, settings.connectors[0])
    name = mysql_turn_name(store.engine, "website", "B-1")
    with other.engine.connect() as holder:  # another replica in the middle of a push of B-1
        assert holder.exec_driver_sql("SELECT GET_LOCK(%s, 0)", (name,)).scalar() == 1
        waiting = threading.Thread(target=receiver.receive, args=(booking("B-1"), "api POST B-1"),
                                   kwargs={"quarantine_bad": False})
        waiting.start()
        assert receiver.receive(booking("B-2"), "api POST B-2", quarantine_bad=False).outcome == "created"
        waiting.join(timeout=1)
        assert waiting.is_alive() and count(store, A, A.c.external_id == "B-1") == 0
        holder.exec_driver_sql("DO RELEASE_LOCK(%s)", (name,))  # B-1's turn is over
        waiting.join(timeout=60)
        assert not waiting.is_alive() and count(store, A, A.c.external_id == "B-1") == 1
        # The push released its turns when its connection went back to the pool.
        assert holder.exec_driver_sql("SELECT IS_FREE_LOCK(%s)", (name,)).scalar() == 1
        assert holder.exec_driver_sql("SELECT IS_FREE_LOCK(%s)", (mysql_turn_name(store.engine, "website", "B-2"),)
                                      ).scalar() == 1


@pytest.mark.postgres
def test_a_push_waits_for_its_appointment_only(settings: Settings, store: Store, store_url: str) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("the advisory lock is PostgreSQL's; SQLite has one writer")
    receiver = PushReceiver(settings, store, settings.connectors[0])
    with store.engine.connect() as holder:  # another replica in the middle of a push of B-1
        holder.execute(text("SELECT pg_advisory_xact_lock(CAST(:key AS BIGINT))"),
                       {"key": advisory_key("push", "website", "B-1")})
        waiting = threading.Thread(target=receiver.receive, args=(booking("B-1"), "api POST B-1"),
                                   kwargs={"quarantine_bad": False})
        waiting.start()
        other = receiver.receive(booking("B-2"), "api POST B-2", quarantine_bad=False)
        assert other.outcome == "created"  # not held up by B-1's turn
        waiting.join(timeout=1)
        assert waiting.is_alive() and count(store, A, A.c.external_id == "B-1") == 0
        holder.rollback()  # B-1's turn is over
    waiting.join(timeout=60)
    assert not waiting.is_alive() and count(store, A, A.c.external_id == "B-1") == 1
