"""The sql connector against the machine's real MariaDB and PostgreSQL: the incremental
boundary, snapshot deletion and its safety stop, read-only enforcement, the statement
check, the statement timeout, and table mode."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError

from clinicsync.connectors import sql as sql_connector
from clinicsync.connectors import sql_guard, sql_passed
from clinicsync.connectors.base import RetriableConnectorError
from clinicsync.connectors.sql import SqlConnector
from clinicsync.connectors.sql_session import read_only_connection
from clinicsync.connectors.sql_settings import SqlSettings
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.model import ConnectorState, Event, Quarantine
from clinicsync.sync.store.model.sweeps import DeleteSweep
from clinicsync.sync.store.store import Store

MAPPING = Path(__file__).parent / "data" / "sql_appointments.yaml"
QUERY = "SELECT id, patient_id, starts_at, minutes, status, updated_at FROM appts"
T0 = datetime(2026, 3, 2, 10, 0, 0)
METADATA = MetaData()
APPTS = Table(
    "appts", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("patient_id", String(20)),
    Column("starts_at", DateTime),
    Column("minutes", Integer),
    Column("status", String(20)),
    Column("updated_at", DateTime),
)


@dataclass
class Source:
    kind: str
    url: str
    engine: Engine

    def add(self, *ids: int, updated_at: datetime = T0, start: datetime | None = None, status: str = "booked") -> None:
        start = start or datetime.now().replace(microsecond=0, second=0) + timedelta(days=3)
        with self.engine.begin() as connection:
            connection.execute(insert(APPTS), [
                {"id": i, "patient_id": f"p{i}", "starts_at": start + timedelta(hours=i), "minutes": 20,
                 "status": status, "updated_at": updated_at} for i in ids])

    def set(self, appointment_id: int, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(APPTS).where(APPTS.c.id == appointment_id).values(**values))

    def remove(self, *ids: int) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(APPTS).where(APPTS.c.id.in_(ids)))

    def statuses(self) -> dict[int, str]:
        with self.engine.connect() as connection:
            return dict(connection.execute(select(APPTS.c.id, APPTS.c.status)).all())  # type: ignore[arg-type]


@pytest.fixture(params=[pytest.param("mariadb", marks=pytest.mark.mariadb),
                        pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    """The table `appts` in a fresh MariaDB database, PostgreSQL schema or SQLite file."""
    if request.param == "mariadb":
        url = str(request.getfixturevalue("mariadb_database")["url"])
    elif request.param == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite:///{tmp_path / 'practice.db'}"
    engine = make_engine(url)
    METADATA.create_all(engine)
    yield Source(request.param, url, engine)
    engine.dispose()


@pytest.fixture
def mariadb_source(mariadb_database: dict[str, object]) -> Iterator[Source]:
    url = str(mariadb_database["url"])
    engine = make_engine(url)
    METADATA.create_all(engine)
    yield Source("mariadb", url, engine)
    engine.dispose()


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """These tests are about the source; the store is SQLite (store tests cover PostgreSQL)."""
    return f"sqlite:///{tmp_path / 'store.db'}"


def connector_yaml(url: str, **options: Any) -> str:
    settings = {"name": "src", "kind": "sql", "mapping": str(MAPPING), "url": url, "query": QUERY,
                "cursor_column": "updated_at", **options}
    lines = ["- " + "\n  ".join(f"{k}: {json.dumps(v)}" for k, v in settings.items() if v is not None)]
    return "\n".join(lines) + "\n"


Run = Callable[..., dict[str, Any]]


@pytest.fixture
def sync(write_settings: Callable[..., Path], cli: Any) -> Callable[..., Run]:
    def configure(url: str, **options: Any) -> Run:
        run = cli(write_settings(connector_yaml(url, **options)))

        def once(expect: int = 0) -> dict[str, Any]:
            _, out, _ = run("sync", "--once", "--json", expect=expect)
            return dict(json.loads(out)["connectors"]["src"])

        once.cli = run  # type: ignore[attr-defined]
        return once

    return configure


def counts(report: dict[str, Any], *keys: str) -> tuple[int, ...]:
    return tuple(report[k] for k in keys)


# -- incremental ---------------------------------------------------------------------------

def test_rows_committed_later_at_the_cursor_value_are_read_once(source: Source, sync: Callable[..., Run]) -> None:
    once = sync(source.url, fetch_size=2)
    source.add(1, 2, 3)
    first = once()
    assert counts(first, "fetched", "created", "error") == (3, 3, None)
    # Committed after that run, with the same updated_at as the maximum already read:
    # the classic `updated_at > last` bug skips it forever.
    source.add(4, 5)
    second = once()
    assert counts(second, "fetched", "created", "updated", "unchanged") == (2, 2, 0, 0)
    assert counts(once(), "fetched", "created") == (0, 0)  # nothing read twice
    # A change that keeps the same updated_at (coarse clocks) is still seen: rows are
    # recognised by their content, not only their key.
    source.set(2, status="cancelled")
    assert counts(once(), "fetched", "cancelled") == (1, 1)
    source.add(6, updated_at=T0 + timedelta(seconds=1))
    assert counts(once(), "fetched", "created") == (1, 1)
    assert counts(once(), "fetched", "created") == (0, 0)


def test_a_crash_inside_a_run_of_equal_cursor_values_resumes_exactly(source: Source) -> None:
    source.add(1, 2, 3, 4, 5)
    settings = SqlSettings(name="src", mapping=str(MAPPING), url=source.url, query=QUERY,
                           cursor_column="updated_at", fetch_size=2)
    connector = SqlConnector(settings)
    try:
        first = next(iter(connector.fetch(None)))  # stored, then the process dies
        assert len(first.records) == 2
        rest = list(connector.fetch(first.cursor))
        again = [r.data["id"] for b in rest for r in b.records]
        assert sorted(again) == sorted({1, 2, 3, 4, 5} - {r.data["id"] for r in first.records})
        assert list(connector.fetch(rest[-1].cursor)) == []
    finally:
        connector.close()


def test_a_query_with_its_own_cursor_bind_starts_from_initial_cursor(source: Source,
                                                                     sync: Callable[..., Run]) -> None:
    source.add(1, updated_at=T0 - timedelta(days=400))
    source.add(2, 3)
    once = sync(source.url, query=QUERY + " WHERE updated_at >= :cursor", initial_cursor="2026-01-01 00:00:00")
    assert counts(once(), "fetched", "created") == (2, 2)
    source.add(4)
    assert counts(once(), "fetched", "created") == (1, 1)


def test_a_query_with_its_own_cursor_bind_needs_initial_cursor(mariadb_source: Source,
                                                               sync: Callable[..., Run]) -> None:
    once = sync(mariadb_source.url, query=QUERY + " WHERE updated_at >= :cursor")
    report = once(expect=1)
    assert "set initial_cursor" in report["error"]


def test_a_missing_cursor_column_is_named(mariadb_source: Source, sync: Callable[..., Run]) -> None:
    mariadb_source.add(1)
    report = sync(mariadb_source.url, cursor_column="modified")(expect=1)
    assert "returns no column(s) ['modified']" in report["error"]


def test_table_mode_reads_the_named_columns(source: Source, sync: Callable[..., Run]) -> None:
    source.add(1, 2)
    once = sync(source.url, query=None, table="appts",
                columns=["id", "patient_id", "starts_at", "minutes", "status", "updated_at"])
    assert counts(once(), "fetched", "created") == (2, 2)
    assert counts(once(), "fetched") == (0,)


# -- the overlap: late commits, the autumn clock change ----------------------------------------

def store_state(store_url: str) -> dict[str, Any]:
    """What the store holds for connector `src`: events, quarantine items (status, count), cursor."""
    engine = make_engine(store_url)
    items = Quarantine.__table__  # type: ignore[attr-defined]
    try:
        with engine.connect() as connection:
            events = connection.execute(select(func.count()).select_from(Event)).scalar_one()
            quarantine = [tuple(r) for r in connection.execute(
                select(items.c.record_id, items.c.status, items.c.seen_count).order_by(items.c.id))]
        return {"events": events, "quarantine": quarantine, "cursor": Store(engine).load_cursor("src")}
    finally:
        engine.dispose()


def test_a_row_committed_late_below_the_cursor_is_read_in_the_overlap(source: Source, sync: Callable[..., Run],
                                                                      store_url: str) -> None:
    once = sync(source.url)
    source.add(1, updated_at=T0)
    assert counts(once(), "fetched", "created") == (1, 1)
    # Stamped 5 s before row 1 but committed after the poll read row 1 (a slower
    # transaction on a busy database): `>= T0` never reads it.
    source.add(2, updated_at=T0 - timedelta(seconds=5))
    assert counts(once(), "fetched", "created", "unchanged", "error") == (1, 1, 0, None)
    assert counts(once(), "fetched", "created") == (0, 0)  # nothing read twice
    cursor = store_state(store_url)["cursor"]
    assert cursor["value"].startswith("2026-03-02") and "10:00:00" in cursor["value"]  # the cursor never goes back
    # Beyond the overlap (60 s by default): a transaction longer than it is still missed.
    source.add(3, updated_at=T0 - timedelta(seconds=61))
    assert counts(once(), "fetched", "created") == (0, 0)
    relaxed = sync(source.url, overlap_seconds=120)
    assert counts(relaxed(), "fetched", "created") == (1, 1)


def test_rereading_the_overlap_changes_nothing(source: Source, sync: Callable[..., Run], store_url: str,
                                               write_settings: Callable[..., Path], cli: Any) -> None:
    once = sync(source.url)
    source.add(1, updated_at=T0 - timedelta(seconds=30))
    source.add(2, updated_at=T0 - timedelta(seconds=20), status="Confirmd")  # a bad row: quarantined
    source.add(3, updated_at=T0)
    assert counts(once(), "fetched", "created", "quarantined") == (3, 2, 1)
    before = store_state(store_url)
    assert before["quarantine"] == [("2", "open", 1)]
    for _ in range(2):  # a quiet database: each poll reads the same last minute again
        assert counts(once(), "fetched", "created", "updated", "unchanged", "quarantined") == (0, 0, 0, 0, 0)
    assert store_state(store_url) == before
    _, out, _ = once.cli("quarantine", "list", "--json")  # type: ignore[attr-defined]
    item = json.loads(out)["items"][0]["id"]
    once.cli("quarantine", "resolve", str(item))  # type: ignore[attr-defined]
    source.add(4, updated_at=T0 - timedelta(seconds=10))  # a late commit: read with the overlap's rows
    assert counts(once(), "fetched", "created", "updated", "quarantined") == (1, 1, 0, 0)
    after = store_state(store_url)
    assert after["events"] == before["events"] + 1  # row 4's, nothing for the rows read again
    assert after["quarantine"] == [("2", "dismissed", 1)]  # neither re-opened nor counted again
    assert after["cursor"]["value"] == before["cursor"]["value"]
    # A row changed at the source is read again, whatever its stamp.
    source.set(1, status="cancelled")
    assert counts(once(), "fetched", "cancelled") == (1, 1)


def test_rows_reread_without_their_hashes_are_recognized_by_the_store(sqlite_source: Source,
                                                                      sync: Callable[..., Run],
                                                                      store_url: str) -> None:
    """A cursor written before the overlap (no `recent` hashes): what the overlap re-reads
    is recognized by the store's fingerprints and changes nothing."""
    once = sync(sqlite_source.url)
    sqlite_source.add(1, 2, updated_at=T0 - timedelta(seconds=30))
    sqlite_source.add(3, updated_at=T0)
    assert counts(once(), "created") == (3,)
    before = store_state(store_url)
    engine = make_engine(store_url)
    states = ConnectorState.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(update(states).values(cursor=json.dumps(
            {k: v for k, v in before["cursor"].items() if k != "recent"})))
    engine.dispose()
    assert counts(once(), "fetched", "created", "updated", "unchanged") == (2, 0, 0, 2)
    assert store_state(store_url)["events"] == before["events"]


def test_the_cursor_keeps_the_newest_hashes_of_a_bulk_change(sqlite_source: Source,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A bulk change inside the overlap: the cursor keeps the newest RECENT_LIMIT hashes
    before its value; the older rows are read again (and left to the store's fingerprints)."""
    monkeypatch.setattr(sql_connector, "RECENT_LIMIT", 3)
    for number in range(1, 7):
        sqlite_source.add(number, updated_at=T0 - timedelta(seconds=60 - 5 * number))
    sqlite_source.add(7, updated_at=T0)
    connector = SqlConnector(SqlSettings(name="src", mapping=str(MAPPING), url=sqlite_source.url, query=QUERY,
                                         cursor_column="updated_at", fetch_size=4))
    try:
        batches = list(connector.fetch(None))
        cursor = batches[-1].cursor
        assert cursor is not None and len(cursor["recent"]) == 3 and len(cursor["seen"]) == 1
        again = [r.data["id"] for b in connector.fetch(cursor) for r in b.records]
        assert again == [1, 2, 3]
    finally:
        connector.close()


MADRID_FALL_BACK = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 03:00 CEST becomes 02:00 CET


def test_naive_stamps_of_the_repeated_hour_are_read_when_clocks_go_back(
        source: Source, write_settings: Callable[..., Path], cli: Any, store_url: str) -> None:
    """A DATETIME column holds wall clock in the clinic's zone (Europe/Madrid). Read at
    02:50 CEST, the cursor is 02:50; an hour later the clock shows 02:10 again (CET) and a
    booking made then is stamped 02:10: below the cursor, and read only because the
    overlap grows by the hour the clock fell back."""
    run = cli(write_settings(connector_yaml(source.url), timezone="Europe/Madrid"))

    def once() -> dict[str, Any]:
        _, out, _ = run("sync", "--once", "--json")
        return dict(json.loads(out)["connectors"]["src"])

    with time_machine.travel(MADRID_FALL_BACK - timedelta(minutes=10), tick=False):  # 02:50 CEST
        source.add(9, updated_at=datetime(2026, 10, 25, 2, 20), status="Confirmd")  # a bad row: quarantined
        source.add(1, updated_at=datetime(2026, 10, 25, 2, 50))
        assert counts(once(), "fetched", "created", "quarantined") == (2, 1, 1)
    with time_machine.travel(MADRID_FALL_BACK + timedelta(minutes=10), tick=False):  # 02:10 CET
        source.add(2, updated_at=datetime(2026, 10, 25, 2, 10))
        # The repeated hour is read again; what the first pass stored there is known.
        assert counts(once(), "fetched", "created", "unchanged", "quarantined") == (1, 1, 0, 0)
        assert counts(once(), "fetched") == (0,)
        assert store_state(store_url)["quarantine"] == [("9", "open", 1)]
    with time_machine.travel(MADRID_FALL_BACK + timedelta(minutes=90), tick=False):  # 03:30 CET
        source.add(3, updated_at=datetime(2026, 10, 25, 3, 30))
        assert counts(once(), "fetched", "created") == (1, 1)
        cursor = store_state(store_url)["cursor"]
        assert "03:30:00" in cursor["value"] and "recent" not in cursor  # past the repeated hour: no extra


def test_overlap_seconds_settings_problems_name_the_key(write_settings: Callable[..., Path], cli: Any) -> None:
    url = "mysql://reader@127.0.0.1/openemr"
    yaml = (connector_yaml(url, mode="snapshot", cursor_column=None, overlap_seconds=30)
            + connector_yaml(url, name="src2", overlap_seconds=-1)
            + connector_yaml(url, name="src3", overlap_seconds=86_401))
    _, _, err = cli(write_settings(yaml))("check", expect=2)
    err = " ".join(err.split())
    assert "connectors[0]" in err and "overlap_seconds goes with mode incremental" in err
    assert "connectors[1].overlap_seconds" in err and "greater than or equal to 0" in err
    assert "connectors[2].overlap_seconds" in err and "less than or equal to 86400" in err
    assert SqlSettings(name="s", mapping=str(MAPPING), url=url, query=QUERY, cursor_column="updated_at"
                       ).overlap_seconds == 60


def test_check_says_an_id_cursor_cannot_reread_late_commits(source: Source, write_settings: Callable[..., Path],
                                                            cli: Any) -> None:
    source.add(1, 2)
    _, out, _ = cli(write_settings(connector_yaml(source.url, cursor_column="id")))("check")
    out = " ".join(out.split())
    assert "cursor_column id holds integers" in out and "use an updated-at column" in out
    _, out, _ = cli(write_settings(connector_yaml(source.url)))("check")
    assert "holds integers" not in " ".join(out.split())


def sweep_later(store_url: str, connector: str = "src") -> None:
    """Move the connector's last delete sweep 61 minutes back: the default (every 1h) is due."""
    engine = make_engine(store_url)
    table = DeleteSweep.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        swept = connection.execute(select(table.c.swept_at).where(table.c.connector == connector)).scalar_one()
        connection.execute(update(table).where(table.c.connector == connector)
                           .values(swept_at=swept - timedelta(minutes=61)))
    engine.dispose()


@pytest.fixture
def sqlite_source(tmp_path: Path) -> Iterator[Source]:
    """The sweep's SQL is the guarded query wrapped; MariaDB runs it in test_sql_easyappointments.py."""
    url = f"sqlite:///{tmp_path / 'practice.db'}"
    engine = make_engine(url)
    METADATA.create_all(engine)
    yield Source("sqlite", url, engine)
    engine.dispose()


def test_a_row_deleted_from_an_incremental_source_goes_at_the_next_sweep(
        sqlite_source: Source, sync: Callable[..., Run], store_url: str) -> None:
    source = sqlite_source
    source.add(1, 2, 3, 4, 5, 6)
    once = sync(source.url)
    assert counts(once(), "created", "deleted") == (6, 0)  # the first sweep runs with the first poll
    source.remove(4)
    assert counts(once(), "fetched", "deleted") == (0, 0)  # unseen by the fetch; the sweep is not due
    sweep_later(store_url)
    assert counts(once(), "fetched", "deleted", "error") == (0, 1, None)
    _, out, _ = once.cli("appointments", "list", "--all", "--json")  # type: ignore[attr-defined]
    assert sorted(a["external_id"] for a in json.loads(out)["items"]) == ["1", "2", "3", "5", "6"]
    source.add(7)
    source.remove(5)
    sweep_later(store_url)
    assert counts(once(), "created", "deleted") == (1, 1)  # a new row is not taken for a vanished one


# -- snapshot ------------------------------------------------------------------------------

SNAPSHOT_QUERY = QUERY + " WHERE starts_at BETWEEN :window_start AND :window_end"


def test_snapshot_deletes_what_disappeared_behind_the_safety_stop(source: Source, sync: Callable[..., Run]) -> None:
    source.add(*range(1, 11))
    source.add(50, start=datetime.now() + timedelta(days=400))  # outside the window: never read
    once = sync(source.url, mode="snapshot", cursor_column=None, query=SNAPSHOT_QUERY,
                window={"back": "1d", "ahead": "30d", "timezone": "America/New_York"})
    assert counts(once(), "fetched", "created") == (10, 10)
    assert counts(once(), "fetched", "created", "updated", "unchanged") == (10, 0, 0, 10)
    source.remove(3)
    assert counts(once(), "fetched", "deleted", "error") == (9, 1, None)
    source.remove(4, 5, 6, 7, 8)  # 5 of 9 future appointments gone at once: a truncated read?
    stopped = once(expect=1)
    assert stopped["deleted"] == 0 and "snapshot safety stop" in stopped["error"]
    relaxed = sync(source.url, mode="snapshot", cursor_column=None, query=SNAPSHOT_QUERY, max_delete_share=0.6,
                   window={"back": "1d", "ahead": "30d", "timezone": "America/New_York"})
    assert counts(relaxed(), "deleted", "error") == (5, None)


def test_a_small_practice_deletes_one_of_its_three_visits_without_a_safety_stop(
        source: Source, sync: Callable[..., Run], store_url: str) -> None:
    """Issue 57 obs 6: one of a small practice's 3 future visits deleted is 33 % of the window,
    over `max_delete_share` (20 %): the run failed and deleted nothing, every hour. Fewer than
    `min_delete_stop` (5) deletions never stop; a mass deletion still does. Incremental with the
    delete sweep, then snapshot, on the same rows."""
    source.add(1, 2, 3)
    once = sync(source.url)
    assert counts(once(), "created", "deleted") == (3, 0)
    source.remove(2)
    sweep_later(store_url)
    assert counts(once(), "deleted", "error") == (1, None)
    _, out, _ = once.cli("appointments", "show", "src:2", "--json")  # type: ignore[attr-defined]
    assert "deleted" in out
    source.add(*range(10, 20))
    assert counts(once(), "created", "error") == (10, None)
    source.remove(*range(10, 16))  # 6 of 12 at once: still the safety stop
    sweep_later(store_url)
    stopped = once(expect=1)
    assert stopped["deleted"] == 0 and "delete sweep safety stop: 6 of 12" in stopped["error"]

    source.add(*range(10, 16))  # the rows were there after all
    snapshot = sync(source.url, mode="snapshot", cursor_column=None, query=SNAPSHOT_QUERY,
                    window={"back": "1d", "ahead": "30d", "timezone": "America/New_York"})
    assert counts(snapshot(), "deleted", "error") == (0, None)
    source.remove(3, 10, 11)  # 3 of 12 (25 %): over the share alone, under the floor
    assert counts(snapshot(), "deleted", "error") == (3, None)
    floorless = sync(source.url, mode="snapshot", cursor_column=None, query=SNAPSHOT_QUERY, min_delete_stop=0,
                     window={"back": "1d", "ahead": "30d", "timezone": "America/New_York"})
    source.remove(12, 13)  # 2 of 9 (22 %) with `min_delete_stop: 0`: the share alone stops it
    stopped = floorless(expect=1)
    assert stopped["deleted"] == 0 and "snapshot safety stop: 2 of 9" in stopped["error"]


def test_snapshot_of_an_empty_window_deletes_nothing(mariadb_source: Source, sync: Callable[..., Run]) -> None:
    mariadb_source.add(1, 2, 3)
    once = sync(mariadb_source.url, mode="snapshot", cursor_column=None, query=SNAPSHOT_QUERY)
    assert counts(once(), "created") == (3,)
    mariadb_source.remove(1, 2, 3)
    stopped = once(expect=1)
    assert stopped["deleted"] == 0 and "3 of 3 future appointments" in stopped["error"]


# -- the window: what lies past its end -------------------------------------------------------
# A windowed read (`:window_start`/`:window_end`) does not list a visit moved past its end, nor a
# booking made further ahead: a visit moved there was moved, not deleted (its patient must not be
# told it was cancelled), and a booking made there must be read when it is made.

WINDOW = {"back": "1d", "ahead": "30d", "timezone": "America/New_York"}


def test_a_visit_moved_past_the_snapshot_window_is_moved_not_deleted(source: Source, sync: Callable[..., Run],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    past_window = SqlConnector.past_window

    def counted(connector: SqlConnector) -> Any:
        found = past_window(connector)
        reads.append(len(found or ()))
        return found

    monkeypatch.setattr(SqlConnector, "past_window", counted)
    source.add(*range(1, 11))
    once = sync(source.url, mode="snapshot", cursor_column=None, query=SNAPSHOT_QUERY, window=WINDOW)
    assert counts(once(), "created") == (10,)
    assert reads == []  # nothing left out: nothing read past the window
    moved_to = datetime.now().replace(microsecond=0, second=0) + timedelta(days=45)
    source.set(3, starts_at=moved_to)
    source.remove(5)  # a real deletion in the same run stays one
    assert counts(once(), "fetched", "deleted", "rescheduled") == (9, 1, 1)  # 8 listed, 1 past the window
    assert reads == [1]
    # Stored past the window's end now, it is not compared with the listings that leave it out.
    assert counts(once(), "fetched", "deleted", "rescheduled", "unchanged") == (8, 0, 0, 8)
    assert reads == [1]


def test_an_incremental_read_takes_a_booking_made_past_the_window_when_it_is_made(
        source: Source, sync: Callable[..., Run]) -> None:
    """A booking made 45 days ahead with a 30-day window used to be left out (past the window's
    end); its row does not change again, so when its day came within the window its cursor value
    was long behind the cursor: never imported, never reminded. It is read when it is made."""
    today = datetime.now().replace(microsecond=0, second=0)
    source.add(1, updated_at=today - timedelta(minutes=5))
    source.add(2, updated_at=today - timedelta(minutes=4), start=today + timedelta(days=45))
    source.add(3, updated_at=today - timedelta(minutes=3))
    once = sync(source.url, query=SNAPSHOT_QUERY, window=WINDOW, delete_sweep="off")
    assert counts(once(), "created") == (3,)
    with time_machine.travel(datetime.now() + timedelta(days=20), tick=False):
        assert counts(once(), "created", "fetched") == (0, 0)


def test_a_cursor_stored_before_reads_past_the_window_catches_up_once(
        source: Source, sync: Callable[..., Run], store_url: str) -> None:
    """A booking made 45 days ahead that a read stopping at the window's end passed over, its
    updated_at long behind the cursor that read stored: after the upgrade, the first read takes
    the whole window once, imports it, and the next reads go on from the cursor."""
    today = datetime.now().replace(microsecond=0, second=0)
    source.add(1, updated_at=today - timedelta(minutes=5))
    once = sync(source.url, query=SNAPSHOT_QUERY, window=WINDOW, delete_sweep="off")
    assert counts(once(), "created") == (1,)
    source.add(2, updated_at=today - timedelta(minutes=10), start=today + timedelta(days=45))
    store = make_engine(store_url)
    with store.begin() as connection:  # the cursor as a read of before stored it
        stored = json.loads(connection.exec_driver_sql("SELECT cursor FROM connectorstate").scalar_one())
        stored.pop("ahead", None)
        connection.exec_driver_sql("UPDATE connectorstate SET cursor = ?", (json.dumps(stored),))
    assert counts(once(), "created", "unchanged") == (1, 1)
    assert counts(once(), "created", "fetched") == (0, 0)
    with store.connect() as connection:
        cursor = json.loads(connection.exec_driver_sql("SELECT cursor FROM connectorstate").scalar_one())
    assert cursor["ahead"] == "all"
    store.dispose()


def test_an_incremental_visit_moved_past_the_window_is_moved_not_swept(
        source: Source, sync: Callable[..., Run]) -> None:
    """The delete sweep lists the window's ids; a visit moved past the window's end must be read
    as moved (its row changed), not deleted by the sweep for being absent from the listing."""
    today = datetime.now().replace(microsecond=0, second=0)
    source.add(*range(1, 11), updated_at=today - timedelta(minutes=5))
    once = sync(source.url, query=SNAPSHOT_QUERY, window=WINDOW, delete_sweep="every 1m")
    assert counts(once(), "created") == (10,)
    source.set(3, starts_at=today + timedelta(days=45), updated_at=today - timedelta(minutes=1))
    with time_machine.travel(datetime.now() + timedelta(minutes=2), tick=False):
        assert counts(once(), "rescheduled", "deleted") == (1, 0)


# -- read-only, the statement check, the timeout ------------------------------------------------

def test_a_write_inside_the_connectors_transaction_fails(source: Source) -> None:
    source.add(1)
    connector = SqlConnector(SqlSettings(name="src", mapping=str(MAPPING), url=source.url, query=QUERY,
                                         cursor_column="updated_at"))
    try:
        with read_only_connection(connector.engine, 5) as connection, pytest.raises(DBAPIError) as caught:
            connection.exec_driver_sql("UPDATE appts SET status = 'cancelled' WHERE id = 1")
        assert re.search(r"read[- ]?only", str(caught.value).lower())
    finally:
        connector.close()
    assert source.statuses() == {1: "booked"}


@pytest.mark.parametrize("statement", [
    "DELETE FROM appts",
    "SELECT id FROM appts; DROP TABLE appts",
    "UPDATE appts SET status = 'cancelled'",
])
def test_a_writing_query_is_refused_by_check_and_by_sync(mariadb_source: Source, write_settings: Callable[..., Path],
                                                         cli: Any, statement: str) -> None:
    mariadb_source.add(1)
    run = cli(write_settings(connector_yaml(mariadb_source.url, query=statement)))
    _, out, _ = run("check", expect=1)
    assert "connector src: query refused: the query" in " ".join(out.split())
    _, out, _ = run("sync", "--once", "--json", expect=1)
    report = json.loads(out)["connectors"]["src"]
    assert report["fetched"] == 0 and report["error"].startswith("connector src: query refused:")
    assert mariadb_source.statuses() == {1: "booked"}  # nothing ran


def stored_cursor(store_url: str) -> dict[str, Any]:
    engine = make_engine(store_url)
    try:
        cursor = Store(engine).load_cursor("src")
    finally:
        engine.dispose()
    assert cursor is not None
    return cursor


@pytest.fixture
def guard_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements the SELECT guard (sql_guard.check_select) is asked to check."""
    checked: list[str] = []
    real = sql_guard.check_select

    def counting(sql: str, *args: Any, **kwargs: Any) -> Any:
        checked.append(sql)
        return real(sql, *args, **kwargs)

    monkeypatch.setattr(sql_guard, "check_select", counting)
    return checked


def test_an_unchanged_query_is_checked_once_and_a_changed_one_again(source: Source, sync: Callable[..., Run],
                                                                    store_url: str, guard_checks: list[str]) -> None:
    """The guard's verdict is remembered in the cursor (sql_passed): idle polls of the same
    query neither parse it nor import sqlglot; a changed query is checked before it runs."""
    source.add(1)
    once = sync(source.url)
    assert counts(once(), "created") == (1,)
    assert guard_checks == [QUERY]
    mark = stored_cursor(store_url)["guard"]
    for _ in range(2):
        assert counts(once(), "fetched") == (0,)
    assert guard_checks == [QUERY]  # not checked again
    assert stored_cursor(store_url)["guard"] == mark
    changed = QUERY + " WHERE id > 0 -- the practice's own filter"
    once = sync(source.url, query=changed)
    # checked, and its verdict stored; a changed query reads the window again (nothing changed in it)
    assert counts(once(), "fetched", "unchanged", "error") == (1, 1, None)
    assert guard_checks == [QUERY, changed]
    assert stored_cursor(store_url)["guard"] != mark
    source.add(2, updated_at=T0 + timedelta(seconds=1))
    assert counts(once(), "created") == (1,)
    assert guard_checks == [QUERY, changed]


def test_a_new_guard_checks_a_remembered_query_again(sqlite_source: Source, sync: Callable[..., Run],
                                                     store_url: str, guard_checks: list[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite_source.add(1)
    once = sync(sqlite_source.url)
    once()
    once()
    assert len(guard_checks) == 1
    monkeypatch.setattr(sql_passed, "_guard_version", lambda: "another guard sqlglot=99")  # an upgrade
    assert counts(once(), "fetched", "error") == (0, None)
    assert len(guard_checks) == 2
    once()
    assert len(guard_checks) == 2


class _Installed:
    """A distribution as importlib.metadata gives it: its METADATA file's text (None: no file)."""

    def __init__(self, text: str | None) -> None:
        self.text = text

    def read_text(self, name: str) -> str | None:
        return self.text if name == "METADATA" else None


def test_the_guards_version_follows_sqlglots_installed_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another sqlglot release (another METADATA file) is another guard version, so a remembered
    verdict is checked again; no metadata file, nothing is remembered."""
    installed = sql_passed._guard_version()
    assert installed is not None
    versions = []
    for text in ("Metadata-Version: 2.4\nName: sqlglot\nVersion: 99.0\n", None):
        monkeypatch.setattr(sql_passed.metadata, "distribution", lambda name, text=text: _Installed(text))
        sql_passed._guard_version.cache_clear()
        versions.append(sql_passed._guard_version())
    monkeypatch.undo()
    sql_passed._guard_version.cache_clear()
    assert versions[0] is not None and versions[0] != installed
    assert versions[0].split()[0] == installed.split()[0]  # the same guard code
    assert versions[1] is None
    assert sql_passed._guard_version() == installed


def test_a_snapshot_keeps_the_guards_verdict_alone_in_its_cursor(sqlite_source: Source, sync: Callable[..., Run],
                                                                  store_url: str, guard_checks: list[str]) -> None:
    sqlite_source.add(*range(1, 4))
    once = sync(sqlite_source.url, mode="snapshot", cursor_column=None, query=SNAPSHOT_QUERY,
                window={"back": "1d", "ahead": "30d", "timezone": "America/New_York"})
    assert counts(once(), "fetched", "created") == (3, 3)
    assert counts(once(), "fetched", "unchanged") == (3, 3)
    assert guard_checks == [SNAPSHOT_QUERY]
    assert list(stored_cursor(store_url)) == ["_read_epoch", "guard"]  # no position: the query's check and epoch
    sqlite_source.remove(2)
    assert counts(once(), "fetched", "deleted", "error") == (2, 1, None)
    assert guard_checks == [SNAPSHOT_QUERY]


def test_a_refused_query_is_refused_whatever_the_cursor_remembers(mariadb_source: Source, sync: Callable[..., Run],
                                                                  store_url: str) -> None:
    """A query changed into a write after polls of a good one: refused before it runs, with the
    message a store without a remembered check gives."""
    mariadb_source.add(1)
    once = sync(mariadb_source.url)
    once()
    once()
    assert "guard" in stored_cursor(store_url)
    writing = "SELECT id FROM appts; DELETE FROM appts"
    report = sync(mariadb_source.url, query=writing)(expect=1)
    with pytest.raises(sql_guard.StatementRefused) as refused:
        sql_guard.check_select(writing, sql_connector.QUERY_BINDS, "mysql")
    assert report["error"] == f"connector src: query refused: {refused.value}"
    assert mariadb_source.statuses() == {1: "booked"}


def test_a_mark_is_used_only_for_the_check_it_records() -> None:
    binds = sql_connector.QUERY_BINDS
    digest = sql_passed.statement_digest("select", QUERY, binds, "postgresql")
    assert digest is not None
    for other in (sql_passed.statement_digest("select", QUERY, binds, "mysql"),
                  sql_passed.statement_digest("select", QUERY + " ", binds, "postgresql"),
                  sql_passed.statement_digest("select", QUERY, binds | {"x"}, "postgresql"),
                  sql_passed.statement_digest("update", QUERY, binds, "postgresql")):
        assert other != digest
    checked = sql_guard.check_select(f"/* mine */ {QUERY};", binds, "postgres")
    mark = sql_passed.mark_of(digest, f"/* mine */ {QUERY};", checked)
    assert sql_passed.remembered(mark, digest, f"/* mine */ {QUERY};", binds) == checked
    assert sql_passed.remembered(mark, "another digest", f"/* mine */ {QUERY};", binds) is None
    assert mark is not None
    for bad in ({**mark, "span": [0, 10_000]}, {**mark, "span": "0-10"}, {**mark, "binds": ["nope"]}, "a string"):
        assert sql_passed.remembered(bad, digest, f"/* mine */ {QUERY};", binds) is None


def test_check_reports_a_readable_query(source: Source, write_settings: Callable[..., Path], cli: Any) -> None:
    source.add(1)  # an empty table fails `check` (0 records sampled)
    run = cli(write_settings(connector_yaml(source.url)))
    _, out, _ = run("check")
    assert "read-only transaction" in out and "yes" in out


def test_check_names_a_query_that_does_not_compile(mariadb_source: Source, write_settings: Callable[..., Path],
                                                   cli: Any) -> None:
    run = cli(write_settings(connector_yaml(mariadb_source.url, query="SELECT id, nope FROM appts")))
    _, out, _ = run("check", expect=1)
    assert "checking the query failed" in out and "nope" in out


def test_the_statement_timeout_stops_a_slow_query(source: Source) -> None:
    if source.kind == "sqlite":
        pytest.skip("SQLite has no statement timeout (and no SLEEP)")
    sleep = "SLEEP(5)" if source.kind == "mariadb" else "pg_sleep(5)"
    sleep = f"SELECT id, updated_at, {sleep} AS slept FROM appts"
    source.add(1)
    connector = SqlConnector(SqlSettings(name="src", mapping=str(MAPPING), url=source.url, query=sleep,
                                         cursor_column="updated_at", timeout=0.3))
    try:
        with pytest.raises(RetriableConnectorError, match=r"statement timeout|max_statement_time"):
            list(connector.fetch(None))
    finally:
        connector.close()


def test_an_unreachable_source_is_retriable_and_no_password_is_shown(write_settings: Callable[..., Path],
                                                                       cli: Any) -> None:
    url = "mysql://reader:s3cret-pw@127.0.0.1:1/openemr"  # nothing listens on port 1
    run = cli(write_settings(connector_yaml(url)))
    _, checked, _ = run("check", expect=1)
    _, synced, err = run("sync", "--once", "--json", expect=1)
    assert "s3cret-pw" not in checked + synced + err
    assert "Can't connect" in json.loads(synced)["connectors"]["src"]["error"]
    connector = SqlConnector(SqlSettings(name="src", mapping=str(MAPPING), url=url, query=QUERY,
                                         cursor_column="updated_at"))
    with pytest.raises(RetriableConnectorError) as caught:
        list(connector.fetch(None))
    assert "s3cret-pw" not in str(caught.value)


def test_settings_problems_name_the_key(write_settings: Callable[..., Path], cli: Any) -> None:
    yaml = textwrap.dedent("""\
        - name: src
          kind: sql
          mapping: openemr
          url: mysql://reader@127.0.0.1/openemr
          query: SELECT 1
          table: appts
        - name: src2
          kind: sql
          mapping: openemr
          url: mysql://reader@127.0.0.1/openemr
          query: SELECT 1
    """)
    _, _, err = cli(write_settings(yaml))("check", expect=2)
    err = " ".join(err.split())
    assert "connectors[0] (line 8): give exactly one of query_preset, query or table (found query and table)" in err
    assert "connectors[1] (line 14): mode incremental needs cursor_column" in err
