"""The poll pool of `clinicsync run`: one scheduler thread claims the due sources from the
store's shared poll schedule (leases.py) and hands them to a fixed pool of ``poll_workers``
threads, however many sources there are.

Every worker sharing the store runs the same loop, so a source is polled once per slot by
whichever worker claimed it, a new worker takes its share at its next claim, and a worker that
dies (even kill -9) leaves leases that run out within one poll interval (at most
``LEASE_MAX``), after which another worker claims them. The scheduler thread renews the leases
of the polls in flight (a heartbeat, never a thread per poll); a poll whose lease was lost
meanwhile finishes but leaves the row to the worker that holds it now. A poll still takes its
connector's poll lock (sync/store/locks.py), so a cron `sync --once` and the service never poll one
source at once, and a lease taken over from a worker that is only slow cannot double a poll.

The loop sleeps until the earliest due time or lease expiry, a freed slot, the next heartbeat
or the service's stop: it never spins. Why not a PostgreSQL job queue (procrastinate,
pgqueuer): they run on PostgreSQL only, and SQLite, the embedded default, must run this same
code; and they queue one-off jobs (a periodic task is a cron tick that defers one more), where
this is one recurring slot per source whose next due time follows from its schedule and whose
lease follows its poll (docs/operations.md, "How work is shared").
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.common.schedule import Schedule
from clinicsync.common.types import utcnow
from clinicsync.sync.service import leases
from clinicsync.sync.service.board import JobBoard
from clinicsync.sync.service.outcome import JobResult, failure, where
from clinicsync.sync.service.wake import Wake

log = structlog.get_logger("clinicsync.service")

LEASE_MAX = timedelta(minutes=5)  # a lease's length for a cron schedule, and at most for an interval
HEARTBEATS_PER_LEASE = 3  # renewed three times per lease: two missed heartbeats do not lose it
MAX_SLEEP = 30.0  # seconds: look at the schedule at least this often (another worker's changes)
MIN_SLEEP = 0.05  # seconds: a due row another worker is claiming right now is skipped, not spun on
STORE_RETRY = 5.0  # seconds after the store failed a claim or a heartbeat
BOARD_REFRESH = timedelta(seconds=30)  # how often the board's next_due is read for every source


def phase(name: str, period: timedelta) -> timedelta:
    """Where in its interval a source's slots fall (``epoch + phase + k * interval``): a stable
    hash of its name, the same in every worker and every restart. Sources enrolled at one moment
    (a deployment's first start) would otherwise all be due at the same instants, each interval
    opening with a burst of every poll that the pool takes minutes to clear (measured with 1,000
    sources: p99 change latency 359 s against 330 s); spread, the polls come at an even rate.
    Whole seconds: a store that keeps due times to the second must not move a slot."""
    digest = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big")
    return timedelta(seconds=digest % max(1, int(period.total_seconds())))


def job_name(connector: str) -> str:
    """A source's poll on the job board and in the log (`status`, /metrics, the health page)."""
    return f"poll:{connector}"


@dataclass(frozen=True)
class PolledSource:
    name: str
    schedule: Schedule


@dataclass
class _InFlight:
    claim: leases.Claim
    lost: bool = False


class PollPool:
    """The scheduler and its pool for one process. ``run`` blocks until ``stop`` is set and the
    polls in flight have ended; ``tick`` is one round of it (tests drive it with a clock)."""

    def __init__(self, engine: Engine, sources: Sequence[PolledSource], poll: Callable[[str], JobResult], *,
                 size: int, board: JobBoard, stop: threading.Event, timezone: str = "UTC",
                 clock: Callable[[], datetime] = utcnow, worker: str | None = None) -> None:
        self.engine, self.poll, self.size, self.board, self.stop = engine, poll, size, board, stop
        self.sources = {source.name: source for source in sources}
        self._leases: dict[str, timedelta] = {}  # lease_for's, by source, while self.sources stays
        self._rosters: dict[frozenset[str], leases.Roster] = {}  # a claim's sources, likewise (roster)
        self.timezone, self.clock = timezone, clock
        self.worker = worker or leases.worker_id()
        # No lane around a poll: on SQLite its writes take the store's lane one transaction at a
        # time, never while its source is read (sync/ingest/engine.py sync_connector).
        self.wake = Wake()  # rung by a poll that ended (a slot is free) and by the stop
        self._inflight: dict[str, _InFlight] = {}
        self._guard = threading.Lock()
        self._queue: queue.SimpleQueue[leases.Claim | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._renew_at: datetime | None = None
        self._board_at: datetime | None = None
        self._enrolled = False
        # Sources whose last poll here failed or crashed (a hung tenant cut by its timeout): they
        # may hold at most FAILING_SHARE of the slots, so the healthy sources keep the rest.
        # In memory, from this worker's own polls: leases are per worker, so it is what this
        # pool needs, and a restart forgets it (the next failure sets it again).
        self._failing: set[str] = set()
        self._claimable: set[str] = set(self.sources)
        self._next_sources: dict[str, PolledSource] | None = None  # set_sources: taken at the next tick
        # What the last claim learnt of the schedule (the next wake-up, with each later release's
        # next due time folded in) and until when that is trusted: a tick before then with
        # nothing due asks the store nothing (the tick a poll's end rings, most ticks of an idle
        # worker). None: ask at the next tick. Another worker's changes (a shortened schedule,
        # its own releases) are seen at the next look, at most MAX_SLEEP on.
        self._known: tuple[datetime, datetime | None] | None = None  # (trusted until, wake-up)
        # The next due times released since the last claim began (None: a release that failed,
        # its row held until its lease runs out): its statement may have run before them.
        self._released: list[datetime | None] = []
        for name in self.sources:
            board.add(job_name(name))

    def set_sources(self, sources: Sequence[PolledSource]) -> None:
        """Poll these from the next round on (a fleet's list changed: a practice added or
        removed). Taken by the scheduler thread at its next tick, never halfway through one; a
        removed source's poll in flight ends, and no worker claims it again."""
        with self._guard:
            self._next_sources = {source.name: source for source in sources}
        self.wake.ring()

    def _take_sources(self, now: datetime) -> None:
        with self._guard:
            sources, self._next_sources = self._next_sources, None
        if sources is None:
            return
        added = sources.keys() - self.sources.keys()
        self.sources = sources
        self._leases, self._rosters = {}, {}  # a source's schedule may have changed with the list
        self._claimable = set(sources)
        self._failing &= sources.keys()
        self._known = None
        for name in sorted(added):
            self.board.add(job_name(name))
        if added:
            self._enrol(added, now)
        self._board_at = None
        self.start()

    # -- the lease of each source -------------------------------------------------------------
    def lease_for(self, name: str) -> timedelta:
        """At most one poll interval, so a dead worker costs a source one slot at most; a cron
        schedule (no fixed interval) and a long interval get LEASE_MAX. Worked out once per source
        while its schedule stays (a claim on PostgreSQL asks for each of the worker's sources:
        parsing every interval again at each claim grew each poll with the sources)."""
        found = self._leases.get(name)
        if found is None:
            schedule = self.sources[name].schedule
            found = min(schedule.period(), LEASE_MAX) if schedule.interval is not None else LEASE_MAX
            self._leases[name] = found
        return found

    def roster(self, names: Collection[str]) -> leases.Roster | None:
        """``names`` as a PostgreSQL claim sends them, worked out once while the sources stay (the
        healthy and the failing sources: a few sets); None on other stores, which do not use it."""
        if self.engine.dialect.name != "postgresql":
            return None
        key = frozenset(names)
        found = self._rosters.get(key)
        if found is None:
            if len(self._rosters) >= 64:  # the failing sources come and go: keep a few sets only
                self._rosters.clear()
            found = self._rosters[key] = leases.Roster.of(key, self.lease_for)
        return found

    def _latest_due(self, name: str, now: datetime) -> datetime:
        """The furthest a source's next poll may be from ``now`` under its schedule as set now."""
        schedule = self.sources[name].schedule
        return now + schedule.period() if schedule.interval is not None else schedule.next_due(None, now, self.timezone)

    def _next_due(self, name: str, due: datetime, now: datetime) -> datetime:
        schedule = self.sources[name].schedule
        offset = phase(name, schedule.period()) if schedule.interval is not None else None
        return schedule.slot_after(due, now, self.timezone, offset)

    def _enrol(self, names: Collection[str], now: datetime) -> None:
        """Give each of ``names`` that has no row in the shared schedule its first slot. No more
        than this worker's poll slots: due at once, all polled within seconds. More (a cold start
        of 1,000 sources): each at its own phase's first slot within the interval, so the first
        polls come at the steady rate. All due at once, the start's burst took 100 s with 8 slots
        at a 1-minute interval, and the sources polled early in it waited for it to clear, 99-106
        s, before their second poll; spread, every gap is one interval. A cron schedule's
        sources are due at once (their times are the cron's)."""
        first: dict[str, datetime] = {}
        if len(names) > self.size:
            for name in names:
                schedule = self.sources[name].schedule
                if schedule.interval is not None:
                    first[name] = schedule.first_slot(now, phase(name, schedule.period()))
        leases.enrol(self.engine, {name: self._latest_due(name, now) for name in names}, now, first)
        self._known = None

    def _heartbeat(self, names: Sequence[str]) -> timedelta:
        return min(self.lease_for(name) for name in names) / HEARTBEATS_PER_LEASE

    # -- the scheduler ------------------------------------------------------------------------
    def start(self) -> None:
        """The pool's threads (daemons: a poll hung past the shutdown grace must not keep the
        process alive; its lease runs out and its transaction rolls back with the process)."""
        for number in range(len(self._threads), min(self.size, len(self.sources))):  # never more than sources
            thread = threading.Thread(target=self._work, name=f"poll-{number + 1}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def run(self) -> None:
        threading.Thread(target=self._ring_on_stop, name="polls-stop", daemon=True).start()
        self.start()
        while not self.stop.is_set():
            try:
                delay = self.tick()
            except SQLAlchemyError as exc:  # the store is away: try again, never stop the service
                log.warning("polls.store_failed", error=type(exc).__name__, retry_seconds=STORE_RETRY)
                delay = STORE_RETRY
            self.wake.wait(delay)
            self.wake.take()
        self.close()

    def close(self) -> None:
        """Claim no more; let the polls in flight end (at their next safe point: the service is
        stopping) and the pool's threads go. The service's shutdown grace bounds the wait."""
        for _ in self._threads:
            self._queue.put(None)
        while self.inflight():
            self.wake.wait(0.5)
            self.wake.take()
        for thread in self._threads:
            thread.join()

    def _ring_on_stop(self) -> None:
        self.stop.wait()
        self.wake.ring()

    def inflight(self) -> list[str]:
        with self._guard:
            return sorted(self._inflight)

    def tick(self) -> float:
        """Renew the leases in flight when the heartbeat is due, claim as many due sources as
        there are free slots, and say how many seconds until there may be more to do."""
        now = self.clock()
        if self._next_sources is not None:
            self._take_sources(now)
        if not self._enrolled:
            self._enrol(self.sources.keys(), now)
            self._enrolled = True
        with self._guard:
            held = [name for name, flight in self._inflight.items() if not flight.lost]
        if not held:
            self._renew_at = None  # nothing to renew (a lost lease's poll is only let finish)
        elif self._renew_at is None or now >= self._renew_at:
            self._renew(held, now)
        free = self.size - len(self.inflight())
        if free > 0 and self._may_be_due(now):
            for claim in self._claim(now, free):
                with self._guard:
                    self._inflight[claim.connector] = _InFlight(claim)
                # its first renewal in time for its lease, however far off the others' is
                first = now + self._heartbeat([claim.connector])
                self._renew_at = first if self._renew_at is None else min(self._renew_at, first)
                self._queue.put(claim)
        if self._board_at is None or now >= self._board_at:
            for name, due in leases.due_times(self.engine, self.sources).items():
                self.board.due(job_name(name), due)
            self._board_at = now + BOARD_REFRESH
        return self._delay(now)

    def _may_be_due(self, now: datetime) -> bool:
        """Could a claim now take anything? Not before the wake-up the last claim read (a source
        it left due, for want of a slot, made that the past), while that look is trusted; the
        failing sources' share aside (a failing poll's end frees room for them)."""
        with self._guard:
            known = self._known
        return (known is None or known[1] is None or now >= known[1] or now >= known[0]
                or self._claimable != self.sources.keys())

    def _claim(self, now: datetime, free: int) -> list[leases.Claim]:
        """Up to ``free`` due sources, of which the failing ones (last poll failed) only as many as
        their share of the pool has room for: the failing first (they are as due as the others),
        then the healthy ones for the rest. Each claim says when its sources may next be
        claimed (the wake-up, leases.claim_due), so the scheduler asks no more before then."""
        with self._guard:
            failing = self._failing & self.sources.keys()
            room = max(1, self.size // 2) - sum(1 for name in self._inflight if name in failing)
            self._released = []
        healthy = self.sources.keys() - failing if failing else self.sources.keys()
        claims: list[leases.Claim] = []
        # when each set may next be claimed: a due source a claim left (no slot for it) is a
        # wake-up in the past, so the next tick claims again
        wakes: dict[str, datetime | None] = {}
        if failing and room > 0:
            claimed = leases.claim_due(self.engine, self.worker, failing, now, min(free, room), self.lease_for,
                                       self.roster(failing))
            claims, wakes["failing"] = claimed.claims, claimed.wake
        if free - len(claims) > 0:
            claimed = leases.claim_due(self.engine, self.worker, healthy, now, free - len(claims), self.lease_for,
                                       self.roster(healthy))
            claims, wakes["healthy"] = claims + claimed.claims, claimed.wake
        # what may be claimed next: the failing ones wait for a slot of their share to free (a
        # poll's end rings the wake), not spun on while due
        self._claimable = set(self.sources) if room - sum(c.connector in failing for c in claims) > 0 \
            else set(healthy)
        with self._guard:
            known = None
            if "healthy" in wakes and (self._claimable == healthy or "failing" in wakes or not failing) \
                    and None not in self._released:
                found = [wake for wake in [*wakes.values(), *self._released] if wake is not None]
                known = (now + timedelta(seconds=MAX_SLEEP), min(found) if found else None)
            self._known = known
        return claims

    def _renew(self, names: list[str], now: datetime) -> None:
        for name in leases.renew(self.engine, self.worker, {name: now + self.lease_for(name) for name in names}):
            with self._guard:
                flight = self._inflight.get(name)
                if flight is not None:
                    flight.lost = True
            log.warning("poll.lease_lost", job=job_name(name),
                        detail="another worker holds this source now; this poll finishes, the other "
                               "worker schedules its next one")
        self._renew_at = now + self._heartbeat(names)

    def _delay(self, now: datetime) -> float:
        """Until the earliest claimable time (when a slot is free) or the next heartbeat (when
        polls are in flight); a freed slot or the stop rings the wake sooner."""
        times: list[datetime] = []
        inflight = self.inflight()
        if len(inflight) < self.size:
            with self._guard:
                known = self._known
            wake_at = known[1] if known is not None else leases.next_wake(self.engine, self._claimable)
            if wake_at is not None:
                times.append(wake_at)
        if inflight and self._renew_at is not None:
            times.append(self._renew_at)
        if not times:
            return MAX_SLEEP
        return min(MAX_SLEEP, max(MIN_SLEEP, (min(times) - now).total_seconds()))

    # -- the pool -----------------------------------------------------------------------------
    def _work(self) -> None:
        while (claim := self._queue.get()) is not None:
            try:
                self._poll(claim)
            finally:
                with self._guard:
                    self._inflight.pop(claim.connector, None)
                self.wake.ring()  # a slot is free

    def _poll(self, claim: leases.Claim) -> None:
        name = job_name(claim.connector)
        with structlog.contextvars.bound_contextvars(job=name):
            polled = not self.stop.is_set()
            if polled:
                self._run(claim.connector)
            now = self.clock()
            # A poll the stop kept from running (or cut short) is due again at once, for any worker.
            next_due = self._next_due(claim.connector, claim.due, now) \
                if polled and not self.stop.is_set() else claim.due
            with self._guard:
                lost = self._inflight[claim.connector].lost
            try:
                kept = not lost and leases.release(self.engine, self.worker, claim.connector, next_due, now)
            except SQLAlchemyError as exc:  # its lease runs out, and the source is claimed again then
                log.warning("poll.release_failed", error=type(exc).__name__)
                self._learn(None)
                return
            self._learn(next_due if kept else None)
            if kept:
                self.board.due(name, next_due)
            elif not lost:
                log.warning("poll.lease_lost", detail="another worker holds this source now; it keeps "
                                                     "the source's schedule")

    def _learn(self, released: datetime | None) -> None:
        """A release's next due time folded into the wake-up the last claim learnt; None (the
        row is another worker's, or held until its lease runs out): look again at the next tick."""
        with self._guard:
            self._released.append(released)
            if released is not None and self._known is not None:
                until, wake = self._known
                self._known = (until, released if wake is None else min(wake, released))
            else:
                self._known = None

    def _run(self, connector: str) -> None:
        name = job_name(connector)
        self.board.started(name)
        error: str | None
        try:
            result = self.poll(connector)
            error = failure(result)
            log.info("job.finished", failed=error is not None, result=dict(result) if result else None)
        except Exception as exc:  # one poll failing must not stop the pool
            error = where(exc)
            log.error("job.crashed", error=error)
        with self._guard:
            (self._failing.add if error is not None else self._failing.discard)(connector)
        self.board.finished(name, error)
