"""The poll pool's round trips to a PostgreSQL store per idle poll, counted on the wire (libpq's
trace of the pool's connections): the claim that takes the source, with the time of the next
due source in the same statement, and the release with its next due time. Each in autocommit,
its own transaction, so psycopg sends no BEGIN or COMMIT of its own; the tick that follows a
poll's end asks nothing when no source could have come due since the claim. Every worker of
a fleet pays this at every poll, whatever the poll itself costs."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from clinicsync.common.schedule import Schedule
from clinicsync.sync.service import leases
from clinicsync.sync.service.board import JobBoard
from clinicsync.sync.service.outcome import JobResult
from clinicsync.sync.service.polls import PolledSource, PollPool
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import POLL_SCHEDULE
from tests.sync.service.test_polls import START, Clock, _wait
from tests.sync.test_push_round_trips import Wire, round_trips

pytestmark = pytest.mark.postgres


@pytest.fixture
def store_url(postgres_url: str) -> str:
    return postgres_url


def test_an_idle_poll_costs_the_scheduler_two_round_trips(store: Store, tmp_path: Path) -> None:
    clock, polled = Clock(), []

    def poll(name: str) -> JobResult:
        polled.append(name)
        return {"failed": False}

    pool = PollPool(store.engine, [PolledSource("s0", Schedule(interval="1m"))], poll, size=2,
                    board=JobBoard(), stop=threading.Event(), clock=clock, worker="a")
    pool.start()
    wire = Wire(store, tmp_path)
    try:
        pool.tick()  # enrols the source, due at once; its first poll
        assert _wait(lambda: len(polled) == 1 and not pool.inflight())
        pool.tick()  # the tick its end rang
        due = leases.due_times(store.engine, ["s0"])["s0"]
        assert START < due <= START + timedelta(minutes=2)
        clock.now = due - timedelta(seconds=1)
        assert 0.05 <= pool.tick() <= 1.0  # nothing due yet: sleeps until the source is
        wire.messages()
        clock.now = due
        pool.tick()  # claims it
        assert _wait(lambda: len(polled) == 2 and not pool.inflight())
        delay = pool.tick()  # the tick its end rang: sleeps until its next slot (or the look every 30 s)
        messages = wire.messages()
        sent = [f"{kind} {text[:90]}" for way, kind, text in messages if way == "F" and kind in ("Query", "Parse")]
        assert round_trips(messages) == 2, "\n".join(sent)
        assert delay == 30.0
        assert leases.due_times(store.engine, ["s0"])["s0"] == due + timedelta(minutes=1)
    finally:
        pool.stop.set()
        pool.close()


def test_a_claim_parses_no_sources_schedule_again(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim on PostgreSQL sets the lease of whichever due source it takes, so it asks the lease
    of each of the worker's sources: worked out once per source, not parsed from its interval
    again at every claim (a cost per poll that grew with the sources)."""
    sources = [PolledSource(f"s{n}", Schedule(interval="1m" if n % 2 else "90s")) for n in range(40)]
    pool = PollPool(store.engine, sources, lambda name: None, size=2, board=JobBoard(), stop=threading.Event(),
                    clock=Clock(), worker="a")
    leases.enrol(store.engine, {source.name: START for source in sources}, START)
    names = [source.name for source in sources]
    first = leases.claim_due(store.engine, "a", names, START, 2, pool.lease_for)
    assert len(first.claims) == 2
    parsed: list[str] = []
    real = Schedule.period

    def period(self: Schedule) -> timedelta:
        parsed.append(str(self.interval))
        return real(self)

    monkeypatch.setattr(Schedule, "period", period)
    again = leases.claim_due(store.engine, "a", names, START, 2, pool.lease_for)
    assert [claim.connector for claim in again.claims] == ["s10", "s11"]  # earliest due, then by name
    assert parsed == []
    with store.engine.connect() as connection:  # each lease still its own source's interval
        expiries = dict(connection.execute(select(POLL_SCHEDULE.c.connector, POLL_SCHEDULE.c.lease_expires)
                                           .where(POLL_SCHEDULE.c.connector.in_(["s10", "s11"]))).all())
    assert expiries == {"s10": START + timedelta(seconds=90), "s11": START + timedelta(minutes=1)}


def test_claims_and_releases_build_no_statement(store: Store) -> None:
    """Every poll is a claim and a release: each runs a statement built once, not one built again
    (SQLAlchemy's construction and cache key of the claim's CTEs cost more CPU than its round
    trip), with two lease lengths among the sources too."""
    from sqlalchemy import event

    executed: list[object] = []

    def seen(_conn: object, clause: object, *_rest: object) -> None:
        executed.append(clause)

    sources = {f"s{n}": timedelta(minutes=1 if n % 2 else 2) for n in range(6)}
    leases.enrol(store.engine, {name: START for name in sources}, START)
    event.listen(store.engine, "before_execute", seen)
    try:
        for round_ in range(2):
            claimed = leases.claim_due(store.engine, "a", sources, START + timedelta(seconds=round_), 3,
                                       sources.__getitem__)
            assert len(claimed.claims) == 3
            for claim in claimed.claims:
                assert leases.release(store.engine, "a", claim.connector, START + timedelta(hours=1), START)
    finally:
        event.remove(store.engine, "before_execute", seen)
    claims, releases = executed[0], executed[1]
    assert len(executed) == 8
    assert executed == [claims, releases, releases, releases] * 2


def test_a_claim_asks_no_source_its_lease_again(store: Store) -> None:
    """The pool's claims on PostgreSQL send the worker's sources and their lease lengths: worked
    out once while the sources stay, not asked of each source at every claim (a cost per poll
    that grew with the sources), and worked out again when the list changes."""
    clock, polled = Clock(), []
    sources = [PolledSource(f"s{n}", Schedule(interval="1m" if n % 2 else "90s")) for n in range(40)]
    pool = PollPool(store.engine, sources, lambda name: polled.append(name) or {"failed": False}, size=2,
                    board=JobBoard(), stop=threading.Event(), clock=clock, worker="a")
    asked: list[str] = []
    lease_for = pool.lease_for

    def counted(name: str) -> timedelta:
        asked.append(name)
        return lease_for(name)

    pool.lease_for = counted  # type: ignore[method-assign]
    leases.enrol(store.engine, {source.name: START for source in sources}, START)  # all due at once
    pool.start()
    try:
        for round_ in range(4):
            pool.tick()
            assert _wait(lambda: len(polled) == 2 * (round_ + 1) and not pool.inflight())
        assert len(polled) == 8
        again = sorted({name for name in asked if asked.count(name) > 1 and name not in polled})
        assert again == []  # the old claim asked all 40 sources at each of its 4 claims
        pool.set_sources(sources[:30])
        asked.clear()
        pool.tick()
        assert _wait(lambda: len(polled) == 10 and not pool.inflight())
        assert sorted(set(asked)) == sorted(s.name for s in sources[:30])  # the new list's, once each
    finally:
        pool.stop.set()
        pool.close()
