"""The calendar stage of `sync --once`: make every calendar hold exactly the store's truth.

State-based, not event-based: the desired state of each appointment in the window (see
desired.py) is compared with what the link table says was pushed. Only the difference is
sent, so a second run with nothing new makes no call at all; a failed call leaves its link
unsettled and is sent again next run; a crash anywhere converges on the next run because
event ids are deterministic.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from operator import attrgetter
from typing import Any, NamedTuple

import structlog
from sqlalchemy import Connection, Engine

from clinicsync.common.types import utcnow
from clinicsync.sync.calendar.desired import Desired, changed_pages, rerendered, window_start
from clinicsync.sync.calendar.links import (
    Link,
    count_left_behind,
    drop_links,
    ensure_pending,
    insert_shared,
    left_behind,
    links_of,
    mark_in_flight,
    nothing_left,
    nothing_left_known,
    record_outcomes,
    record_with_events,
    remember_sources,
)
from clinicsync.sync.calendar.provider import PROVIDERS, CalendarProvider, Op, OpKind, Outcome, Target, built
from clinicsync.sync.calendar.unrouted import note_unrouted
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.calendar import CalendarSettings
from clinicsync.sync.runs.progress import Ticker, no_ticks
from clinicsync.sync.runs.stage_locks import CALENDAR, calendar_lock, who_holds
from clinicsync.sync.runs.standing import Standing
from clinicsync.sync.store import bulk
from clinicsync.sync.store.locks import BUSY, HeldLock, StageLockLost
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import LINKS

log = structlog.get_logger("clinicsync.calendar")
LEFT_BEHIND = Standing("calendar.left_behind", "provider")
CHUNK = 1000  # operations per round of (pending rows → calls → bookkeeping); a multiple of 50
RETIRE_PER_RUN = 5 * CHUNK  # events of a provider no longer used removed per run; the rest next run
# Events only rendered again (a settings edit) patched per run in Google, the soonest first;
# the same bound as the retirement's: ~5,000 calls, minutes at Google's per-user pace.
RERENDER_PER_RUN = RETIRE_PER_RUN
_COUNTED: dict[OpKind, str] = {"insert": "inserted", "patch": "patched", "update": "patched", "delete": "deleted"}


@dataclass
class PushReport:
    inserted: int = 0
    patched: int = 0
    deleted: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped: int = 0  # appointments whose practitioner has no calendar
    # Events only rendered again (a settings edit) past this run's bound, for the next runs.
    rerender_left: int = 0

    def as_dict(self) -> dict[str, int]:
        """Every count; ``rerender_left`` only when not 0 (as retire_others' ``left``)."""
        counts = asdict(self)
        if not self.rerender_left:
            del counts["rerender_left"]
        return counts


class Planned(NamedTuple):
    """An operation the stage decided on (a tuple: one per event of a first push)."""

    appointment_id: int
    target: Target
    event_id: str
    kind: OpKind
    desired: Desired
    link: Link | None


# Planned(...) without the NamedTuple's generated __new__ (a Python call: ~0.25 µs of a first
# push's ~1 µs per Planned): the tuple's own constructor, every field given, in order.
_planned: Callable[[tuple[Any, ...]], Planned] = partial(tuple.__new__, Planned)


def build_provider(settings: CalendarSettings, engine: Engine | None = None) -> CalendarProvider | None:
    """``engine``: the store, where the ics provider keeps what each file holds."""
    if settings.provider == "google":
        from clinicsync.sync.calendar.google import GoogleCalendar

        return GoogleCalendar(settings.google)
    if settings.provider == "ics":
        from clinicsync.sync.calendar.ics import IcsCalendar

        return IcsCalendar(settings.ics, engine)
    return None


def plan(truth: Sequence[Desired], links: Mapping[int, Sequence[Link]], report: PushReport,
         remember: list[tuple[str, int]] | None = None, shortcut: bool = True,
         forget: list[int] | None = None, rerenders: list[Planned] | None = None) -> list[Planned]:
    """The operations that turn what was pushed into the truth (and the count of the rest).
    ``remember`` collects ``(source, link id)`` of events rendered again and found as pushed,
    whose link does not hold that source yet (links.remember_sources). ``forget`` collects the
    ids of links to drop without a call: an appointment's link for the calendar it now goes to,
    written as another user (a shared calendar whose `user` changed, a doctor's primary named by
    its id): the event is the one the new target writes (its insert meets it: 409, an update),
    so deleting it as the old user would delete the visit from that calendar (None: such a link
    is deleted as any other calendar's). ``rerenders`` collects the patches of events rendered
    again only because the settings that shape an event changed (desired.rerendered: the visit
    is the same), which the stage bounds per run; None: they are planned as any patch.
    ``shortcut``: an
    appointment never pushed is decided without the general way's calls (False: tests, which
    run both ways over every combination: tests/sync/calendar/test_fast_paths.py)."""
    out: list[Planned] = []
    for desired in truth:
        mine = links.get(desired.appointment_id)  # None: never pushed (every event of a first push)
        if shortcut and not mine and not desired.unchanged:
            # What the general way below decides for no link, written out (a first push takes
            # this for every appointment; the general way cost two Python calls each).
            # Skipped: shown but nobody's calendar; _decide(desired, None): an insert of shown
            # content that is not cancelled, else nothing (counted nowhere).
            target, content = desired.target, desired.content
            if target is None:
                if content is not None:
                    report.skipped += 1
            elif content is not None and not content.cancelled:
                out.append(_planned((desired.appointment_id, target, desired.event_id, "insert", desired, None)))
            continue
        if desired.skipped:
            report.skipped += 1
        if mine:
            for old in mine:  # a calendar it no longer belongs in (another doctor, no doctor)
                if old.target == desired.target:
                    continue
                if forget is not None and desired.target is not None and old.target.same_calendar(desired.target):
                    forget.append(old.id)  # the same calendar, written as another user: its event stays
                elif old.state in ("pending", "present"):
                    out.append(Planned(desired.appointment_id, old.target, old.event_id, "delete", desired, old))
        if desired.unchanged:  # not rendered: what its event holds is still the truth
            report.unchanged += 1
            continue
        if desired.target is None:
            continue
        link = next((x for x in mine if x.target == desired.target), None) if mine else None
        kind = _decide(desired, link)
        if kind is None:
            report.unchanged += int(link is not None)
            if (remember is not None and link is not None and desired.source is not None
                    and link.state == "present" and link.rendered_from != desired.source):
                remember.append((desired.source, link.id))
        else:
            event_id = link.event_id if link is not None else desired.event_id
            planned = _planned((desired.appointment_id, desired.target, event_id, kind, desired, link))
            if (rerenders is not None and kind == "patch" and link is not None
                    and rerendered(link.rendered_from, desired.source)):
                rerenders.append(planned)
            else:
                out.append(planned)
    return out


def _decide(desired: Desired, link: Link | None) -> OpKind | None:
    content = desired.content
    live = link is not None and link.state in ("pending", "present")
    if content is None:
        return "delete" if live else None
    if content.cancelled and not live:
        return None  # mark_cancelled marks events that exist; it never creates one
    if link is None or link.state == "pending":
        return "insert"  # if it exists after all (crash, second worker), the 409 becomes an update
    if link.state == "deleted":
        return "update"  # Google keeps the deleted event's id: bring that event back
    return None if link.pushed_hash == content.digest() else "patch"


class CalendarLockLost(StageLockLost):
    """The calendar lock's database session dropped during the stage: another run may be in
    the stage now, so this one stops before its next round (the next run goes on)."""


def push(settings: CalendarSettings, engine: Engine, provider: CalendarProvider, now: datetime | None = None,
         on_outcomes: Callable[[Sequence[Op], Sequence[Outcome]], None] | None = None,
         progress: Ticker = no_ticks, limit: int | None = None, lock: HeldLock | None = None) -> PushReport:
    """One state-based pass. ``on_outcomes`` (tests) runs between the calls and the bookkeeping;
    ``progress`` counts the appointments compared (the total is not known up front: pages).

    The truth is read a page of appointments at a time, with the links of that page only;
    operations are sent in full chunks of CHUNK (a page's remainder waits for the next), so
    memory stays flat however large the store and batches stay full.

    A provider paced per call (google) patches at most ``limit`` (None: RERENDER_PER_RUN)
    events a run that are only rendered again (a template, privacy or title setting edited:
    every event in the window differs), the soonest visits first, after every real change (a
    visit created, moved, cancelled, deleted: never held back, never counted); the rest wait
    for the next runs (``rerender_left``). A provider that keeps its events in the store (ics)
    takes them all.

    ``lock``: the calendar lock the stage holds; checked before each round, as a poll checks
    its own after each batch: lost, the pass stops (:class:`CalendarLockLost`)."""
    now = now or utcnow()
    report = PushReport()
    failures: Counter[str] = Counter()
    waiting: list[Planned] = []
    compared = 0

    def send(chunk: Sequence[Planned]) -> None:
        if lock is not None and lock.lost():
            raise CalendarLockLost("the calendar stage lost its lock (its database connection dropped): stopped "
                                   "before its next round; the next run goes on")
        _send(settings, engine, provider, chunk, report, failures, on_outcomes)

    def pushed(ids: Sequence[int]) -> dict[int, list[Link]]:
        return links_of(engine, settings.provider, ids)

    # A provider that keeps its events in the store (ics) by file; one paced per user (google)
    # with every user's calls spread over the rounds (_Spread).
    order = _order if getattr(provider, "store_engine", None) is engine else _Spread()
    limit = RERENDER_PER_RUN if limit is None else limit
    soonest = _Soonest(limit) if isinstance(order, _Spread) else None  # bounded: paced per call

    for truth, links in changed_pages(engine, settings, now, pushed):
        remember: list[tuple[str, int]] = []
        forget: list[int] = []
        rerenders: list[Planned] | None = [] if soonest is not None else None
        waiting += plan(truth, links, report, remember, forget=forget, rerenders=rerenders)
        if soonest is not None and rerenders:
            soonest.add(rerenders)
        remember_sources(engine, remember)
        drop_links(engine, forget)
        compared += len(truth)
        progress(compared, None)
        if len(waiting) >= CHUNK:
            waiting.sort(key=order)  # once: a sorted list stays sorted as full chunks are taken off its head
        while len(waiting) >= CHUNK:
            send(waiting[:CHUNK])
            if isinstance(order, _Spread):
                order.sent(waiting[:CHUNK])
            del waiting[:CHUNK]
    waiting.sort(key=order)
    for start in range(0, len(waiting), CHUNK):
        send(waiting[start:start + CHUNK])
    if soonest is not None:  # after every real change: re-rendered events never delay one
        again = sorted(soonest.taken(), key=_Spread())
        for start in range(0, len(again), CHUNK):
            send(again[start:start + CHUNK])
        report.rerender_left = soonest.left
    provider.flush()  # once per pass: a file provider writes each changed file here, not per chunk
    log.info("calendar.pushed", provider=settings.provider, **report.as_dict(),
             failures=dict(failures) if failures else None)
    if report.rerender_left:
        log.warning("calendar.rerender_left", provider=settings.provider, events=report.rerender_left,
                    per_run=limit)
    return report


class _Soonest:
    """The ``limit`` patches of re-rendered events (push: a settings edit) of the soonest visits,
    kept as the pages go by (a heap of at most ``limit``: memory stays flat however many wait);
    ``left``: how many did not fit, for the next runs."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.heap: list[tuple[float, int, Planned]] = []  # the latest start on top (negated)
        self.left = 0

    def add(self, planned: Sequence[Planned]) -> None:
        for p in planned:
            start = p.desired.content.start  # type: ignore[union-attr]  # a patch has content
            item = (-start.timestamp(), -p.appointment_id, p)
            if len(self.heap) < self.limit:
                heapq.heappush(self.heap, item)
            else:
                self.left += 1
                if self.heap and item > self.heap[0]:  # sooner than the latest kept
                    heapq.heapreplace(self.heap, item)

    def taken(self) -> list[Planned]:
        return [p for _start, _id, p in self.heap]


# The sort key of the waiting operations: by calendar, then appointment, ``(target, appointment_id)``
# with the target's fields compared as strings (a dataclass's ordering builds tuples on every
# comparison); an attrgetter builds that tuple without a Python call per operation.
_order: Callable[[Planned], tuple[str, str, str, int]] = attrgetter(
    "target.provider", "target.account", "target.calendar_id", "appointment_id")


class _Spread:
    """The sort key of the waiting operations of a provider paced per user (google: at most
    ``user_calls_per_minute`` calls as one user): each user's n-th operation before any user's
    n+1-th, then as :data:`_order`. A round then holds every user's calls, and the pacer does
    not sleep on one doctor's quota while the others' goes unused: sorted by calendar, the first
    push after a switch to Google was paced one doctor after another (12,000 events of 10
    doctors: 7 minutes asleep, 100,000 of 50 about two hours in one run)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.ranks: dict[tuple[int, Target], int] = {}  # the operations waiting: their rank in their user's

    def __call__(self, planned: Planned) -> tuple[Any, ...]:
        where = (planned.appointment_id, planned.target)
        rank = self.ranks.get(where)
        if rank is None:
            account = planned.target.account
            rank = self.ranks[where] = self.counts[account]
            self.counts[account] += 1
        return (rank, *_order(planned))

    def sent(self, chunk: Sequence[Planned]) -> None:
        for planned in chunk:
            self.ranks.pop((planned.appointment_id, planned.target), None)


def _send(settings: CalendarSettings, engine: Engine, provider: CalendarProvider, chunk: Sequence[Planned],
          report: PushReport, failures: Counter[str],
          on_outcomes: Callable[[Sequence[Op], Sequence[Outcome]], None] | None) -> None:
    """One round: pending rows for first pushes, the calls, the bookkeeping. A provider that
    keeps its events in this store (``store_engine``: ics) writes the links with them instead,
    in one transaction per file: one write per event, no pending row (:func:`_send_recorded`)."""
    if getattr(provider, "store_engine", None) is engine:
        if on_outcomes is None and all(p.link is None and p.kind == "insert" for p in chunk):
            _send_new(settings, engine, provider, chunk, report, failures)
        else:
            _send_recorded(settings, engine, provider, chunk, report, failures, on_outcomes)
        return
    ids = ensure_pending(engine, [(p.appointment_id, p.target, p.event_id) for p in chunk if p.link is None])
    mark_in_flight(engine, [p.link.id for p in chunk if p.link is not None and p.kind == "patch"],
                   [p.link.id for p in chunk if p.link is not None and p.kind != "patch"])
    ops = []
    for p in chunk:
        content = p.desired.content if p.kind != "delete" else None
        ops.append(Op(key=p.link.id if p.link is not None else ids[(p.appointment_id, p.target)], kind=p.kind,
                      target=p.target, event_id=p.event_id, content=content, notify=settings.invite_patient,
                      digest=content.digest() if content is not None else None,  # hashed once per op
                      source=p.desired.source))
    outcomes = provider.push(ops)
    if on_outcomes is not None:
        on_outcomes(ops, outcomes)
    record_outcomes(engine, ops, outcomes)
    _count(ops, outcomes, report, failures)


def _send_new(settings: CalendarSettings, engine: Engine, provider: CalendarProvider, chunk: Sequence[Planned],
              report: PushReport, failures: Counter[str]) -> None:
    """:func:`_send_recorded` of a round of first pushes (every event new, no link yet: a first
    push is all of them) into a provider that keeps its events in the store: per file, its
    events and their links written as rows in one pass and one transaction (``insert_new``),
    the same rows :func:`_send_recorded` writes, without an ``Op`` and an ``Outcome`` per
    event. A file that already holds one of the events goes through
    :func:`_send_recorded`; a file that fails records its links as failing, as there."""
    by_file: dict[Target, list[Planned]] = {}
    failed: list[tuple[Target, list[Planned], str]] = []
    for p in chunk:
        group = by_file.get(p.target)
        if group is None:
            group = by_file[p.target] = []
        group.append(p)
    for target, group in by_file.items():
        contents = [p.desired.content for p in group]
        digests = [content.digest() for content in contents]  # type: ignore[union-attr]
        events = list(zip([p.event_id for p in group], contents, digests, strict=True))
        new_links = partial(_new_links, target, group, digests)
        try:
            written = provider.insert_new(target, events, new_links)  # type: ignore[attr-defined]
        except (OSError, ValueError) as exc:  # as IcsCalendar.push: the file's events fail, the others go
            error = f"ics file: {type(exc).__name__}"
            failed.append((target, group, error))
            report.failed += len(group)
            failures[error] += len(group)
            continue
        if written:
            report.inserted += len(group)
        else:
            _send_recorded(settings, engine, provider, group, report, failures, None)
    if failed:  # after the files that went, in one transaction, as _send_recorded records them
        _failed_new(engine, failed)


_NEW_LINK = ("appointment_id", "provider", "account", "calendar_id", "event_id", "state", "etag", "pushed_hash",
             "rendered_from", "attempts", "last_error", "updated_at")


_OWN_LINK = ("appointment_id", "event_id", "pushed_hash", "rendered_from")  # the rest: shared


def _new_links(target: Target, group: Sequence[Planned], digests: Sequence[str], connection: Connection) -> None:
    """The links of first pushes stored with their events, as :func:`links.record_with_events`
    writes them: present, their content hash and what it was rendered from. What every link of
    the file shares (its calendar, state, etag, attempts, no error) is written once in the
    statement rather than bound per row (:func:`links.insert_shared`), its time stamp too."""
    shared = {"provider": target.provider, "account": target.account, "calendar_id": target.calendar_id,
              "state": "present", "etag": "0", "attempts": 0, "last_error": None,
              "updated_at": bulk.bind_value(connection, LINKS.c.updated_at, utcnow())}
    insert_shared(connection, LINKS, _OWN_LINK, shared, [(p.appointment_id, p.event_id, digest, p.desired.source)
                                                         for p, digest in zip(group, digests, strict=True)])


def _failed_new(engine: Engine, failed: Sequence[tuple[Target, Sequence[Planned], str]]) -> None:
    """The links of first pushes whose file failed, as :func:`links.record_with_events` writes
    them: pending, one attempt, the error (sent again next run)."""
    with engine.begin() as connection:
        now = bulk.bind_value(connection, LINKS.c.updated_at, utcnow())
        bulk.insert_ignoring(connection, LINKS, _NEW_LINK, [
            (p.appointment_id, target.provider, target.account, target.calendar_id, p.event_id, "pending", None, None,
             None, 1, error[:255], now) for target, group, error in failed for p in group])


def _send_recorded(settings: CalendarSettings, engine: Engine, provider: CalendarProvider, chunk: Sequence[Planned],
                   report: PushReport, failures: Counter[str],
                   on_outcomes: Callable[[Sequence[Op], Sequence[Outcome]], None] | None) -> None:
    """The round of a provider whose calls are writes to the store: each operation without a
    link row gets a provisional negative key, and its link is written (final state) in the
    transaction that stores its event. ``on_outcomes`` sees them after that commit."""
    new: dict[int, int] = {}
    ops = []
    for index, p in enumerate(chunk):
        key = p.link.id if p.link is not None else -1 - index
        if p.link is None:
            new[key] = p.appointment_id
        content = p.desired.content if p.kind != "delete" else None
        ops.append(built(Op, key=key, kind=p.kind, target=p.target, event_id=p.event_id, content=content,
                         notify=settings.invite_patient, digest=content.digest() if content is not None else None,
                         source=p.desired.source))
    recorded: set[int] = set()

    def bookkeeping(connection: Connection, done: Sequence[Op], outcomes: Sequence[Outcome]) -> None:
        record_with_events(connection, done, outcomes, new)
        recorded.update(outcome.key for outcome in outcomes)

    outcomes = provider.push(ops, bookkeeping)  # type: ignore[call-arg]
    rest = [outcome for outcome in outcomes if outcome.key not in recorded]  # a file that failed
    if rest:
        with engine.begin() as connection:
            record_with_events(connection, ops, rest, new)
    if on_outcomes is not None:
        on_outcomes(ops, outcomes)
    _count(ops, outcomes, report, failures)


def _count(ops: Sequence[Op], outcomes: Sequence[Outcome], report: PushReport, failures: Counter[str]) -> None:
    done: Counter[OpKind] = Counter()
    for op, outcome in zip(ops, outcomes, strict=True):
        if outcome.ok:
            done[op.kind] += 1
        else:
            report.failed += 1
            failures[outcome.error or "failed"] += 1
    for kind, count in done.items():  # a chunk's counts added once, not an attribute set per operation
        setattr(report, _COUNTED[kind], getattr(report, _COUNTED[kind]) + count)


def retire_others(settings: CalendarSettings, engine: Engine, now: datetime | None = None,
                  limit: int = RETIRE_PER_RUN) -> dict[str, int]:
    """Remove the events a provider the settings no longer use still holds (``calendar.provider``
    changed from ics to google or back, or to none): the stage only keeps the current provider's
    calendars true, so an old .ics feed a doctor is still subscribed to, or the Google calendar
    of a clinic gone back to files, kept every visit as it was at the switch, cancelled ones
    included, and showed each visit twice beside the new provider's event.

    Each live link (pending or present) of another provider, of an appointment inside the
    window whose event in the current provider is not still pending (its first push there
    failed: the old calendar keeps showing it until the new one does), is sent as a delete to
    that provider (a .ics event is kept as STATUS:CANCELLED, which removes it from a subscribed
    app; a Google event is deleted), never telling an invited patient (the visit is not cancelled).
    Its link becomes ``deleted``, as any delete leaves it, so switching back brings each event
    back (an update) rather than a duplicate. A provider that cannot be reached any more
    (google without ``calendar.google.key_file``) is left as it is and counted: ``calendar
    status`` shows its events (left_behind).
    At most ``limit`` events per run. ``{"retired": n, "left": m}`` (``left``: the live links
    still there after this, whatever the reason), each only when not 0."""
    now = now or utcnow()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if nothing_left_known(engine, settings.provider, day):
        return {}
    since = window_start(settings, now)
    quiet = settings.model_copy(update={"invite_patient": False})
    counts: Counter[str] = Counter()
    for name in PROVIDERS:
        if name == settings.provider:
            continue
        live = left_behind(engine, name, since, limit, now_in=settings.provider)
        provider = _retiring_provider(settings, name, engine) if live else None
        if provider is not None:
            report, failures = PushReport(), Counter[str]()
            planned = sorted((_planned((link.appointment_id, link.target, link.event_id, "delete",
                                        Desired(link.appointment_id, link.event_id, link.target, None, None), link))
                              for link in live), key=_order)
            try:
                for start in range(0, len(planned), CHUNK):
                    _send(quiet, engine, provider, planned[start:start + CHUNK], report, failures, None)
                provider.flush()
            finally:
                provider.close()
            log.info("calendar.retired", provider=name, events=report.deleted, failed=report.failed,
                     failures=dict(failures) if failures else None)
            counts["retired"] += report.deleted
        # Still held there: not reachable, past this run's bound, failed, or not yet in the new calendar.
        left = count_left_behind(engine, name, since)
        if left:  # at each run while it lasts: once, a daily reminder, then resolved (sync/runs/standing.py)
            reachable = provider is not None or not live
            LEFT_BEHIND.seen(engine, log, name, state=str(reachable), now=now, events=left, reachable=reachable)
        else:
            LEFT_BEHIND.ended(engine, log, name, now=now)
        counts["left"] += left
    nothing_left(engine, settings.provider, None if counts["left"] else day)
    return {key: value for key, value in sorted(counts.items(), reverse=True) if value}


def _retiring_provider(settings: CalendarSettings, name: str, engine: Engine) -> CalendarProvider | None:
    """The provider ``name`` as the settings still describe it, to remove its events; None when
    they no longer say how to reach it (google without a key file)."""
    if name == "google" and settings.google.key_file is None:
        return None
    return build_provider(settings.model_copy(update={"provider": name}), engine)




def calendar_stage(settings: Settings, store: Store, run_id: str, progress: Ticker = no_ticks) -> dict[str, int]:
    """The pipeline stage: ``{"inserted", "patched", "deleted", "unchanged", "failed", "skipped"}``,
    and ``retired`` / ``left`` when another provider still held events (:func:`retire_others`).
    Under the calendar lock (sync/store/locks.py): while another worker runs it, this run skips the
    stage with the same counts, all 0, and ``"busy": 1``, and a log line naming the holder; that
    worker pushes what is pending, and the next run anything stored after it read. A holder
    that never lets go is a stall (sync/checks/stalls.py, ``stage_hung``)."""
    with calendar_lock(store.engine) as held:
        if held is None:
            return busy(store.engine)
        return _calendar_pass(settings, store, progress, held)


def busy(engine: Engine) -> dict[str, int]:
    """The stage's report when another worker holds it, and the log line that says who."""
    log.info("calendar.skipped", reason="another worker is running the calendar stage",
             holder=who_holds(engine, *CALENDAR))
    return PushReport().as_dict() | {BUSY: 1}


def _calendar_pass(settings: Settings, store: Store, progress: Ticker, held: HeldLock) -> dict[str, int]:
    provider = build_provider(settings.calendar, store.engine)
    if provider is None:
        result = PushReport().as_dict()
    else:
        try:
            result = push(settings.calendar, store.engine, provider, progress=progress, lock=held).as_dict()
        finally:
            provider.close()
        note_unrouted(store.engine, log, settings.calendar, utcnow())  # doctors without a calendar: named once
    return result | retire_others(settings.calendar, store.engine)
