"""The poll pool and its shared schedule (issue 60): workers sharing a store claim the due
sources by lease, so each source is polled once per interval in all, a dead worker's sources
are polled by another within one interval, a hung poll holds one slot only, and no more than
``poll_workers`` polls run at once. Simulated clocks where the point is the schedule; a real
one, with 1 s intervals, where it is threads."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import Engine

from clinicsync.common.schedule import Schedule
from clinicsync.sync.checks.queries import poll_schedule_status
from clinicsync.sync.service import leases
from clinicsync.sync.service.board import JobBoard
from clinicsync.sync.service.outcome import JobResult
from clinicsync.sync.service.polls import PolledSource, PollPool, phase
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import POLL_SCHEDULE

START = datetime(2031, 1, 10, 15, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _sources(count: int, interval: str = "1m") -> list[PolledSource]:
    return [PolledSource(f"s{n}", Schedule(interval=interval)) for n in range(count)]


def _wait(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class Recorder:
    """A poll that notes who polled what when (the clock's time), and the most in flight at once."""

    def __init__(self, clock: Callable[[], datetime] = lambda: START) -> None:
        self.clock = clock
        self.polls: list[tuple[str, str, datetime]] = []
        self.running = self.peak = 0
        self.guard = threading.Lock()

    def poller(self, worker: str, hold: float = 0.0,
               hang: tuple[str, threading.Event] | None = None) -> Callable[[str], JobResult]:
        def poll(connector: str) -> JobResult:
            with self.guard:
                self.polls.append((worker, connector, self.clock()))
                self.running += 1
                self.peak = max(self.peak, self.running)
            try:
                if hang is not None and connector == hang[0]:
                    hang[1].wait(60)  # until its timeout cuts it (here: the test's end, which releases it)
                time.sleep(hold)
            finally:
                with self.guard:
                    self.running -= 1
            return {"failed": False}
        return poll

    def count(self, connector: str) -> int:
        with self.guard:
            return sum(1 for _, name, _ in self.polls if name == connector)


def _due_at_once(store: Store, sources: list[PolledSource]) -> None:
    """Every source's row due at START, as a store's rows are after an outage: the pool's own
    enrolment spreads a cold start of more sources than slots over the interval (see
    test_a_cold_start_spreads_the_first_polls_over_the_interval)."""
    leases.enrol(store.engine, {source.name: START + MINUTE for source in sources}, START)


def _pool(store: Store, sources: list[PolledSource], poll: Callable[[str], JobResult], size: int,
          clock: Callable[[], datetime], worker: str, stop: threading.Event | None = None) -> PollPool:
    return PollPool(store.engine, sources, poll, size=size, board=JobBoard(), stop=stop or threading.Event(),
                    clock=clock, worker=worker)


def _settle(*pools: PollPool) -> None:
    """Each worker claims what it can at this time and its polls end, until none is due (asked of
    the schedule: a quick poll may have ended before the tick returned)."""
    while True:
        for pool in pools:
            pool.tick()
        assert _wait(lambda: not any(pool.inflight() for pool in pools))
        wakes = [(leases.next_wake(pool.engine, pool.sources), pool.clock()) for pool in pools]
        if all(wake is None or wake > now for wake, now in wakes):
            return


def test_two_workers_poll_each_source_once_per_interval_in_all(store: Store) -> None:
    clock, recorder = Clock(), Recorder()
    recorder.clock = clock
    sources = _sources(6)
    _due_at_once(store, sources)
    pools = [_pool(store, sources, recorder.poller(worker), 4, clock, worker) for worker in ("a", "b")]
    for pool in pools:
        pool.start()
    try:
        for step in range(5 * 6):  # 5 intervals, looked at every 10 s
            clock.now = START + step * timedelta(seconds=10)
            for pool in pools if step % 2 else reversed(pools):
                pool.tick()
            assert _wait(lambda: not any(pool.inflight() for pool in pools))
    finally:
        for pool in pools:
            pool.stop.set()
            pool.close()
    # Every source polled at start, then never twice in half an interval nor more than one apart
    # (plus the 10 s between looks), and from its third poll on at its phase's slots, START +
    # phase + k minutes (START is on the minute): no drift, the interval counts from the slot.
    look = timedelta(seconds=10)
    for source in sources:
        polled = sorted(at for _, name, at in recorder.polls if name == source.name)
        assert polled[0] == START and len(polled) >= 5, (source.name, polled)
        assert all(MINUTE / 2 <= b - a <= MINUTE + look for a, b in pairwise(polled)), polled
        assert all((at - START - phase(source.name, MINUTE)) % MINUTE < look for at in polled[2:]), polled
    assert {worker for worker, _, _ in recorder.polls} == {"a", "b"}, "one worker did all the polls"
    assert len({phase(source.name, MINUTE) for source in sources}) > 3, "the sources were not spread"


def test_phases_spread_a_thousand_sources_over_their_interval() -> None:
    """1,000 sources enrolled at once (issue 60's benchmark) are due at an even rate over a 5-minute
    interval: no 30 s of it holds more than 1.5 times its share, where all were due in one instant."""
    five = timedelta(minutes=5)
    buckets = Counter(phase(f"source-{n:04d}", five) // timedelta(seconds=30) for n in range(1000))
    assert len(buckets) == 10 and max(buckets.values()) <= 150, buckets
    assert phase("source-0001", five) == phase("source-0001", five) < five  # stable: every worker agrees


def _claim_at_once(engine: Engine) -> None:
    """FOR UPDATE SKIP LOCKED: three workers claiming at once neither wait nor share a source."""
    names = [source.name for source in _sources(6)]
    leases.enrol(engine, dict.fromkeys(names, START + MINUTE), START)
    taken: dict[str, list[str]] = {}
    gate = threading.Barrier(3)

    def take(worker: str) -> None:
        gate.wait()
        taken[worker] = [c.connector for c in leases.claim(engine, worker, names, START, 4, lambda _: MINUTE)]

    threads = [threading.Thread(target=take, args=(worker,)) for worker in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    claimed = [name for names_ in taken.values() for name in names_]
    assert sorted(claimed) == sorted(names)  # each source once, none left


@pytest.mark.parametrize("store_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_claims_at_the_same_moment_take_different_sources(store: Store) -> None:
    _claim_at_once(store.engine)


@pytest.mark.mariadb
def test_claims_at_the_same_moment_take_different_sources_on_mariadb(mariadb_database: dict[str, object]) -> None:
    engine = make_engine(str(mariadb_database["url"]))
    POLL_SCHEDULE.create(engine)  # the one table the claims use: the whole schema's migrations take seconds
    try:
        _claim_at_once(engine)
    finally:
        engine.dispose()


def _claim_beside_an_open_claim(engine: Engine) -> None:
    """A worker claims while another's claim holds its transaction open (its lease callable runs
    in it, after its rows are locked): the second takes the due rows the first left, not none."""
    names = [source.name for source in _sources(6)]
    leases.enrol(engine, dict.fromkeys(names, START + MINUTE), START)
    locked, go = threading.Event(), threading.Event()
    first: list[str] = []

    def held(_: str) -> timedelta:
        locked.set()
        go.wait(10)
        return MINUTE

    thread = threading.Thread(target=lambda: first.extend(
        c.connector for c in leases.claim(engine, "a", names, START, 4, held)))
    thread.start()
    try:
        assert locked.wait(10)
        second = [c.connector for c in leases.claim(engine, "b", names, START, 4, lambda _: MINUTE)]
    finally:
        go.set()
        thread.join(10)
    assert first == ["s0", "s1", "s2", "s3"]  # earliest due first: all due at once, by name
    assert second == ["s4", "s5"]


@pytest.mark.mariadb
def test_a_claim_beside_an_open_claim_takes_the_rows_left_on_mariadb(mariadb_database: dict[str, object]) -> None:
    """InnoDB locks the rows a locking read scans: an ordered, limited pick of the due rows
    locked all six, and the second claim took none. (PostgreSQL's claim is one statement, its
    leases worked out before it: there is no open claim to claim beside.)"""
    engine = make_engine(str(mariadb_database["url"]))
    POLL_SCHEDULE.create(engine)
    try:
        _claim_beside_an_open_claim(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("store_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_dead_workers_sources_are_polled_by_another_within_one_interval(store: Store) -> None:
    clock, recorder = Clock(), Recorder()
    sources = _sources(6)
    dead = _pool(store, sources, recorder.poller("dead"), 6, clock, "dead")
    dead.tick()  # claims all six, then never polls nor renews: killed (its threads never started)
    assert len(dead.inflight()) == 6
    shown = poll_schedule_status(store)  # what `status` shows: who polls what, until when
    assert shown["sources"] == 6 and {p["worker"] for p in shown["polling"].values()} == {"dead"}
    assert shown["polling"]["s0"]["lease_until"] == "2031-01-10T15:01:00Z"  # one interval
    alive = _pool(store, sources, recorder.poller("alive"), 4, clock, "alive")
    alive.start()
    try:
        clock.now = START + timedelta(seconds=30)
        alive.tick()
        assert alive.inflight() == [] and recorder.polls == []  # the leases still hold
        clock.now = START + MINUTE + timedelta(seconds=1)  # one interval later: the leases ran out
        _settle(alive)
        assert sorted(name for _, name, _ in recorder.polls) == sorted(s.name for s in sources)
        # The dead worker's poll, had it only been slow, ends without taking the row back.
        assert not leases.release(store.engine, "dead", "s0", START + MINUTE, clock.now)
        # its next slot: the first of its phase's after the poll (START + k minutes + phase)
        offset = phase("s0", MINUTE)
        assert offset > timedelta(seconds=1)
        assert leases.due_times(store.engine, ["s0"])["s0"] == START + MINUTE + offset
    finally:
        alive.stop.set()
        alive.close()


@pytest.mark.parametrize("store_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_renewal_that_finds_another_holder_leaves_the_row_to_it(store: Store) -> None:
    leases.enrol(store.engine, {"s0": START + MINUTE}, START)
    assert leases.claim(store.engine, "a", ["s0"], START, 1, lambda _: MINUTE)
    later = START + MINUTE + timedelta(seconds=1)
    assert [c.connector for c in leases.claim(store.engine, "b", ["s0"], later, 1, lambda _: MINUTE)] == ["s0"]
    assert leases.renew(store.engine, "a", {"s0": later + MINUTE}) == {"s0"}
    assert leases.renew(store.engine, "b", {"s0": later + MINUTE}) == set()


def test_a_hung_poll_holds_one_slot_and_never_delays_the_others(store: Store) -> None:
    """Real threads and clock, 1 s intervals: with two slots and one of them hung, the three
    other sources keep being polled by the other slot; never more than two at once. On
    SQLite too: the pool takes no writer lane around a poll (a poll's writes take it one
    transaction at a time, tests/sync/service/test_lane.py)."""
    recorder, release = Recorder(), threading.Event()
    recorder.clock = datetime.now
    sources = _sources(4, "1s")
    stop = threading.Event()
    pool = _pool(store, sources, recorder.poller("a", hold=0.02, hang=("s0", release)), 2,
                 lambda: datetime.now(UTC), "a", stop)
    runner = threading.Thread(target=pool.run)
    runner.start()
    try:
        # Within 30 s of wall (a loaded machine), while s0 hangs for 60: a pool that waited for the
        # hung slot would poll none of them twice before the hang ends.
        assert _wait(lambda: all(recorder.count(f"s{n}") >= 2 for n in (1, 2, 3)), timeout=30.0)
        assert recorder.count("s0") == 1 and "s0" in pool.inflight()
        assert recorder.peak == 2
    finally:
        stop.set()
        release.set()
        runner.join(5)
    assert not runner.is_alive()


def test_the_pool_bound_holds(store: Store) -> None:
    """Eight sources due at once, three slots: three polls at a time, all eight polled."""
    clock, recorder = Clock(), Recorder()
    sources = _sources(8)
    _due_at_once(store, sources)
    pool = _pool(store, sources, recorder.poller("a", hold=0.05), 3, clock, "a")
    pool.start()
    try:
        pool.tick()
        assert len(pool.inflight()) == 3  # claimed no more than it has slots for
        _settle(pool)
    finally:
        pool.stop.set()
        pool.close()
    assert sorted(name for _, name, _ in recorder.polls) == sorted(s.name for s in sources)
    assert recorder.peak <= 3
    polls_per_source: dict[str, int] = defaultdict(int)
    for _, name, _ in recorder.polls:
        polls_per_source[name] += 1
    assert set(polls_per_source.values()) == {1}


def test_a_shortened_schedule_applies_at_the_next_start_not_after_the_old_interval(store: Store) -> None:
    clock, recorder = Clock(), Recorder()
    hourly = _pool(store, [PolledSource("s0", Schedule(interval="1h"))], recorder.poller("a"), 1, clock, "a")
    hourly.start()
    _settle(hourly)  # polled at start; the next at its phase in the hour (at least half an hour on)
    hourly.stop.set()
    hourly.close()
    offset = phase("s0", timedelta(hours=1))
    assert timedelta(minutes=30) < offset
    assert leases.due_times(store.engine, ["s0"])["s0"] == START + offset
    clock.now = START + timedelta(minutes=2)  # restarted with `schedule: {interval: 5m}`
    five = _pool(store, [PolledSource("s0", Schedule(interval="5m"))], recorder.poller("a"), 1, clock, "a")
    five.tick()
    assert leases.due_times(store.engine, ["s0"])["s0"] == START + timedelta(minutes=7)


def test_a_long_poll_keeps_its_lease_by_heartbeat_and_a_stalled_worker_loses_it(store: Store) -> None:
    clock, recorder, release = Clock(), Recorder(), threading.Event()
    sources = [PolledSource("s0", Schedule(interval="1m"))]  # lease 1 min, renewed every 20 s
    a = _pool(store, sources, recorder.poller("a", hang=("s0", release)), 1, clock, "a")
    b = _pool(store, sources, recorder.poller("b"), 1, clock, "b")  # claims only: its pool never starts
    a.start()
    try:
        a.tick()
        assert _wait(lambda: recorder.count("s0") == 1)  # polling, for minutes
        for seconds in (20, 40, 60, 80):
            clock.now = START + timedelta(seconds=seconds)
            a.tick()  # the heartbeat
            b.tick()
            assert b.inflight() == [], f"b claimed a lease a renews, at {seconds} s"
        clock.now = START + timedelta(seconds=200)  # a stalled (no heartbeat) for two minutes
        b.tick()
        assert b.inflight() == ["s0"]
        assert 0.05 < a.tick() <= 30  # finds it lost; sleeps (no spin on a lease it no longer renews)
        release.set()
        assert _wait(lambda: not a.inflight())
        assert leases.due_times(store.engine, ["s0"])["s0"] == START  # b's claim, untouched by a's end
        assert poll_schedule_status(store)["polling"]["s0"]["worker"] == "b"
    finally:
        release.set()
        a.stop.set()
        a.close()


def test_failing_sources_hold_at_most_half_the_slots_so_healthy_ones_keep_being_polled(store: Store) -> None:
    """Issue 60's benchmark: hung FHIR tenants held every slot of a worker for their whole timeout.
    Pool of 4, three sources that hang: once their poll has failed (cut by its timeout) they take
    two slots at most, and the healthy sources are polled every interval by the other two."""
    clock, release = Clock(), threading.Event()
    calls: Counter[str] = Counter()
    guard = threading.Lock()

    def poll(connector: str) -> JobResult:
        with guard:
            calls[connector] += 1
            first = calls[connector] == 1
        if connector.startswith("hung"):
            if not first:
                release.wait(10)  # hangs until the test ends
            return {"failed": True, "error": "timed out"}  # the first: cut by its timeout
        return {"failed": False}

    sources = [PolledSource(f"hung{n}", Schedule(interval="1m")) for n in range(3)] + _sources(3)
    _due_at_once(store, sources)
    pool = _pool(store, sources, poll, 4, clock, "a")
    pool.start()
    try:
        # the first polls, all ended: the hung ones failed
        assert _wait(lambda: pool.tick() > 0 and len(calls) == 6 and not pool.inflight())
        for minute in (1, 2, 3):
            clock.now = START + minute * MINUTE + timedelta(seconds=59)  # every source due again
            # the scheduler's rounds (a freed slot rings it): all three healthy ones polled, and
            # their polls ended (released at this minute's clock: counted at the poll's start, a
            # poll still releasing when the clock moved on would be scheduled past the next minute)
            polled = 3 * (minute + 1)
            assert _wait(lambda: pool.tick() > 0 and sum(calls[f"s{n}"] for n in range(3)) == polled
                         and not any(name.startswith("s") for name in pool.inflight()))
            hung = [name for name in pool.inflight() if name.startswith("hung")]
            assert len(hung) == 2, pool.inflight()  # half the pool; the healthy keep two slots
            assert pool.tick() > 1  # the third hung source, due, waits for its share's slot: no spin
    finally:
        release.set()
        pool.stop.set()
        pool.close()
    assert min(calls[f"hung{n}"] for n in range(3)) == 1  # one hung source never had room again


def test_status_leaves_a_removed_source_out_of_the_schedule_and_names_it(store: Store) -> None:
    """A source taken out of settings keeps its row (a rollback finds its slot), but `status`
    must not read its old due time as "no worker is claiming": it is listed apart."""
    leases.enrol(store.engine, {"gone": START + MINUTE}, START - timedelta(days=3))  # removed since
    leases.enrol(store.engine, {"north": START + MINUTE, "south": START + MINUTE}, START)
    everything = poll_schedule_status(store)  # without the settings: every row, as before
    assert everything["sources"] == 3 and everything["next_due"] == "2031-01-07T15:00:00Z"
    shown = poll_schedule_status(store, configured={"north", "south", "push-api"})
    assert shown["sources"] == 2 and shown["not_in_settings"] == ["gone"]
    assert shown["next_due"] == "2031-01-10T15:00:00Z"  # the configured sources' earliest
    site = poll_schedule_status(store, configured={"north", "south"}, shown={"south"})
    assert site["sources"] == 1 and "not_in_settings" not in site  # --site: its own sources only


def test_a_cold_start_spreads_the_first_polls_over_the_interval(store: Store) -> None:
    """120 sources, 4 slots, a 1-minute interval, an empty schedule: the first polls come at each
    source's phase over the first minute, never all at START (where 1,000 sources made a burst
    that took 100 s with 8 slots, and the sources polled early in it waited 99-106 s for their
    second poll); every source is then polled once a minute, no gap over the interval plus the
    10 s between looks. A start with no more sources than slots polls them at once."""
    clock, recorder = Clock(), Recorder()
    recorder.clock = clock
    sources = _sources(120)
    pool = _pool(store, sources, recorder.poller("a"), 4, clock, "a")
    pool.start()
    look = timedelta(seconds=10)
    try:
        for step in range(6 * 3 + 1):  # three minutes, looked at every 10 s
            clock.now = START + step * look
            _settle(pool)
    finally:
        pool.stop.set()
        pool.close()
    first = {name: min(at for _, n, at in recorder.polls if n == name) for name in (s.name for s in sources)}
    per_look = Counter((at - START) // look for at in first.values())
    assert max(per_look.values()) <= 1.5 * len(sources) / 6, per_look  # an even share per 10 s, not a burst
    assert all(at < START + MINUTE + look for at in first.values())
    for source in sources:
        polled = sorted(at for _, name, at in recorder.polls if name == source.name)
        assert len(polled) >= 3 and all(b - a <= MINUTE + look for a, b in pairwise(polled)), polled

    few, recorder = _sources(3), Recorder(clock)
    clock.now = START
    small = _pool(store, [PolledSource(f"few{n}", s.schedule) for n, s in enumerate(few)], recorder.poller("b"), 4,
                  clock, "b")
    small.start()
    try:
        _settle(small)
    finally:
        small.stop.set()
        small.close()
    assert sorted(name for _, name, _ in recorder.polls) == ["few0", "few1", "few2"]  # at once
