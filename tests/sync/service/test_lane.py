"""The SQLite store's writer lane (sync/store/locks.py ``store_lane``) is held for a poll's write
transactions only, never while its source is read (issue 60): a source that stalls mid-read
delays no other source's poll and no stages pass, and the writers still take turns (no
`database is locked`) under a burst of polls that store changes at once.

A real SQLite store and real connectors: a loopback FHIR server that stalls on a page, and CSV
connectors, one whose generator, once its first batch is stored, waits before it reads on (a
source that stops answering mid-query, until its timeout: here, the test's end)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import event, func, select

from clinicsync.connectors.base import Batch, Connector, ConnectorSettings, Cursor
from clinicsync.connectors.csv_drop import CsvDropConnector
from clinicsync.connectors.registry import build_connector
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.ingest import engine as sync_engine
from clinicsync.sync.ingest.engine import poll_connector
from clinicsync.sync.ingest.reports import new_run_id
from clinicsync.sync.service import jobs as service_jobs
from clinicsync.sync.service.jobs import ServiceContext, collect_jobs, connector_jobs, stages_jobs
from clinicsync.sync.service.runner import Service
from clinicsync.sync.store.locks import FairLane, store_lane
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import APPOINTMENTS
from tests.connectors.fhir_fake import FakeFhir, Seen
from tests.connectors.test_fhir_sync import seed
from tests.reliability.harness import write_drop, write_settings

HANG_GUARD = 15.0  # seconds: the stalled read's cap, reached only when the lane is held across it
BOUND = 6.0  # seconds: what the others may take while the stalled source is in flight (idle: ~1 s)
SQLITE = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


class Stall:
    """The stalled source's switch: ``reading`` once it waits mid-read, ``release`` to go on."""

    def __init__(self) -> None:
        self.reading, self.release = threading.Event(), threading.Event()

    def connectors(self, stalled: str) -> Any:
        """A stand-in for the registry's build_connector: ``stalled`` stalls after its first batch."""
        stall = self

        class Stalling(CsvDropConnector):
            def fetch(self, cursor: Cursor | None) -> Iterator[Batch]:
                for number, batch in enumerate(super().fetch(cursor)):
                    if number == 1:  # the first batch is stored: the next read hangs
                        stall.reading.set()
                        stall.release.wait(HANG_GUARD)
                    yield batch

        def build(config: ConnectorSettings) -> Connector:
            return Stalling(config) if config.name == stalled else build_connector(config)  # type: ignore[arg-type]

        return build


class Writes:
    """Each write statement on the store, and whether its thread held the lane then."""

    def __init__(self, store: Store) -> None:
        lane = store_lane(store.engine)
        assert isinstance(lane, FairLane)
        self.lane = lane
        self.outside: list[tuple[str, str]] = []
        self.inside = 0
        self.guard = threading.Lock()
        event.listen(store.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb not in ("INSERT", "UPDATE", "DELETE", "REPLACE") or "poll_schedule" in statement:
            return  # the schedule's leases are written in BEGIN IMMEDIATE by the scheduler (leases.py)
        with self.guard:
            if self.lane.held():
                self.inside += 1
            else:
                self.outside.append((threading.current_thread().name, statement[:60]))


def _stored(store: Store, connector: str) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(APPOINTMENTS)
                                      .where(APPOINTMENTS.c.connector == connector)).scalar_one())


def _taken_within(lane: Any, seconds: float) -> bool:
    """Whether another thread gets the lane within ``seconds`` (and lets it go at once)."""
    got = threading.Event()

    def take() -> None:
        with lane:
            got.set()

    threading.Thread(target=take, daemon=True).start()
    return got.wait(seconds)


@SQLITE
def test_a_poll_lets_go_of_the_lane_before_it_reads_its_source_again(  # type: ignore[no-untyped-def]
        store: Store, tmp_path: Path, monkeypatch) -> None:
    """The batch stored, the connector's generator asked for the next: the lane is free while
    it reads, every write of the poll was made inside the lane, and the poll then ends well."""
    write_drop(tmp_path / "drop", "a.csv", 20, prefix="A-")
    write_drop(tmp_path / "drop", "b.csv", 20, prefix="B-")
    settings = load_settings(write_settings(tmp_path, str(store.engine.url), [
        {"name": "slow", "drop_dir": str(tmp_path / "drop")}]))
    stall, writes = Stall(), Writes(store)
    monkeypatch.setattr(sync_engine, "build_connector", stall.connectors("slow"))
    reports: list[Any] = []
    poll = threading.Thread(target=lambda: reports.append(
        poll_connector(settings, store, settings.connector("slow"), new_run_id())), name="poll-slow")
    poll.start()
    try:
        assert stall.reading.wait(HANG_GUARD), "the source never read a second batch: nothing was tested"
        assert _taken_within(writes.lane, 2.0), "the lane is held while the source is read"
        assert _stored(store, "slow") == 20  # the first file's batch is committed
    finally:
        stall.release.set()
        poll.join(HANG_GUARD)
    assert reports and reports[0].error is None, reports
    assert _stored(store, "slow") == 40
    assert writes.inside and not writes.outside, writes.outside


@SQLITE
def test_a_fhir_server_that_stalls_on_its_second_page_holds_no_lane(  # type: ignore[no-untyped-def]
        store: Store, tmp_path: Path) -> None:
    """The loopback FHIR server answers the search's first page, then stalls on the next one
    (the connector reads a search's pages before it yields them): its run row written, the lane
    is free while the connector waits for the server; every write of the poll (run row, visits,
    sweep, baseline, conditions) was made inside the lane."""
    with FakeFhir() as fake:
        seed(fake)  # ten appointments, three pages of four
        stalled, release = threading.Event(), threading.Event()

        def stall_once(seen: Seen) -> None:
            if "_getpages" in seen.query and not stalled.is_set():
                stalled.set()
                release.wait(HANG_GUARD)

        fake.before(stall_once)
        config = tmp_path / "settings.yaml"
        config.write_text(yaml.safe_dump({
            "clinic": {"timezone": "America/New_York", "default_region": "US"},
            "store": {"url": str(store.engine.url)},
            "connectors": [{"name": "ehr", "kind": "fhir", "base_url": fake.base_url, "page_size": 4,
                            "include": ["patient", "location"], "timezone": "America/Chicago"}]}), encoding="utf-8")
        settings = load_settings(config)
        writes = Writes(store)
        reports: list[Any] = []
        poll = threading.Thread(target=lambda: reports.append(
            poll_connector(settings, store, settings.connector("ehr"), new_run_id())), name="poll-ehr")
        poll.start()
        try:
            assert stalled.wait(HANG_GUARD), "the server never saw a second page: nothing was tested"
            assert _taken_within(writes.lane, 2.0), "the lane is held while the server is read"
            assert writes.inside  # its run row was written before the read: the lane taken and let go
        finally:
            release.set()
            poll.join(HANG_GUARD)
    assert reports and reports[0].error is None, reports
    assert _stored(store, "ehr") == 10
    assert writes.inside and not writes.outside, writes.outside


def _service_settings(tmp_path: Path, store: Store, sources: dict[str, int], workers: int = 4) -> Path:
    """One CSV source per name with that many rows, each polled every second."""
    for name, rows in sources.items():
        write_drop(tmp_path / name, "a.csv", rows, prefix=f"{name}-")
        write_drop(tmp_path / name, "b.csv", rows, prefix=f"{name}-b-")
    config = write_settings(tmp_path, str(store.engine.url), [
        {"name": name, "drop_dir": str(tmp_path / name), "schedule": {"interval": "1s"}} for name in sources])
    data = yaml.safe_load(config.read_text())
    data["service"] = {"poll_workers": workers}
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    return config


def _until(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@SQLITE
def test_a_stalled_source_delays_no_other_poll_and_no_stages_pass(  # type: ignore[no-untyped-def]
        store: Store, tmp_path: Path, monkeypatch) -> None:
    """`clinicsync run` on SQLite with the pool: while one source stalls mid-read, the other
    is polled again and again and the stages job (rung by the other's changes) runs, within a
    small bound; on the old whole-poll lane both waited for the stalled read (HANG_GUARD)."""
    config = _service_settings(tmp_path, store, {"stalled": 10, "csv": 10})
    stall = Stall()
    monkeypatch.setattr(sync_engine, "build_connector", stall.connectors("stalled"))
    monkeypatch.setattr(service_jobs, "STAGES_SETTLE", 0.1)
    ctx = ServiceContext(load_settings(config), store)
    service = Service(ctx, collect_jobs(ctx, [connector_jobs, stages_jobs]))
    service.start()
    try:
        assert stall.reading.wait(HANG_GUARD)
        stalled_at = time.monotonic()
        stages_before = ctx.board.jobs["stages"].runs
        csv_before = ctx.board.jobs["poll:csv"].runs
        assert _until(lambda: ctx.board.jobs["poll:csv"].runs >= csv_before + 2
                      and ctx.board.jobs["stages"].runs > stages_before, BOUND), ctx.board.snapshot()
        assert time.monotonic() - stalled_at < BOUND
        assert ctx.board.jobs["poll:stalled"].running_since is not None  # still stalled meanwhile
        assert ctx.board.jobs["poll:csv"].failures == 0 and _stored(store, "csv") == 20
    finally:
        stall.release.set()
        service.shutdown(timedelta(seconds=HANG_GUARD))
    assert not service.failed
    assert _stored(store, "stalled") == 20


@SQLITE
def test_writers_take_turns_under_a_burst_of_polls(store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Six sources due at once on four poll slots, each storing new visits, with the stages
    job writing beside them: no poll fails (no `database is locked`), every visit is stored,
    and every write of a poll or a stage was made holding the lane (so none overlapped)."""
    sources = {f"s{n}": 40 for n in range(6)}
    config = _service_settings(tmp_path, store, sources)
    writes = Writes(store)
    ctx = ServiceContext(load_settings(config), store)
    service = Service(ctx, collect_jobs(ctx, [connector_jobs, stages_jobs]))
    service.start()
    try:
        assert _until(lambda: all(ctx.board.jobs[f"poll:{name}"].runs >= 2 for name in sources), 15.0), \
            ctx.board.snapshot()
    finally:
        service.shutdown(timedelta(seconds=HANG_GUARD))
    assert not service.failed
    for name in sources:
        job = ctx.board.jobs[f"poll:{name}"]
        assert job.failures == 0 and job.last_error is None, (name, job)
        assert _stored(store, name) == 80  # 2 files x 40 rows
    assert writes.inside and not [w for w in writes.outside if w[0].startswith(("poll-", "job:stages"))], \
        writes.outside
