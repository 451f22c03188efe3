"""Does a post-sync stage have work? Answered from the settings and a few store queries,
without importing the stage (so an idle `sync --once` imports and runs no stage with
nothing to do; importing the seven cost ~116 M instructions of a 2.8 G idle run).

Each probe returns a :class:`Verdict`:

- ``Verdict.work()``: the stage runs (as before this module);
- ``Verdict.idle(result)``: nothing to do, and ``result`` is exactly what the stage would
  report (its counts, all 0): a waiting list that is off, no write-back pending, …;
- ``Verdict.unless_marked(digest)``: the stage is state-based (the calendar compares every
  visit in its window, the reminders' agenda reads today's and tomorrow's visits), so the
  probe digests every input it reads — the day, the settings, the store's rows as counts and
  newest times, the outbox's newest event — and the stage is skipped only if its last idle
  pass (one that changed nothing) saw the same digest: its report (table ``stage_mark``) is
  that run's report. The digest is taken *before* the pass, so a change stored while the
  pass runs makes the next digest differ.

A probe is conservative: a doubt is work. A stage whose last run failed always runs
(pipeline.py reads ``stage.failed``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, or_, select

from clinicsync.common.hashing import content_hash, content_hash_bytes
from clinicsync.common.timeutil import zone
from clinicsync.common.types import utcnow
from clinicsync.common.waitlist_states import BookingStatus, EntryStatus, SlotStatus
from clinicsync.mappings.record_kind import mapping_record
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.store.db import upsert_statement
from clinicsync.sync.store.tables import (
    APPOINTMENTS,
    CONSUMERS,
    EVENTS,
    FREED_SLOTS,
    ICS_FILES,
    LINKS,
    LOCATIONS,
    PATIENTS,
    PRACTITIONERS,
    REMINDERS_CONSUMER,
    RESPONSES,
    RETIRED_SOURCES,
    SET_ASIDE,
    STAGE_MARKS,
    WAITLIST_ENTRIES,
    WRITEBACKS,
    HasEngine,
)

StageResult = dict[str, Any]
# set-aside items' states (sync/runs/setaside.py): "retry" is staff asking for another try.
_RETRY, _RESOLVED = "retry", "resolved"
# The write-back stage's counts (sync/responses/writeback.py reports them, all 0 when idle).
WRITEBACK_COUNTS = ("done", "retrying", "unsupported", "superseded", "set_aside")
# The booking stage's outcomes (sync/waitlist/book.py).
BOOKING_OUTCOMES = ("written", "desk_task", "failed", "retrying", "busy", "set_aside")
ICS_CHECKED_EVERY = timedelta(days=1)  # the ics provider's daily look at a file nothing writes (calendar/ics.py)


@dataclass(frozen=True)
class Verdict:
    """What a probe found: work, nothing (with the stage's report), or a digest to compare."""

    result: StageResult | None = None  # idle: the stage's report
    digest: str | None = None  # state-based: skipped if the stage's mark has this digest

    @staticmethod
    def work() -> Verdict:
        return Verdict()

    @staticmethod
    def idle(result: StageResult) -> Verdict:
        return Verdict(result=result)

    @staticmethod
    def unless_marked(digest: str) -> Verdict:
        return Verdict(digest=digest)


Probe = Callable[[Settings, Connection, datetime], Verdict]


def _any(connection: Connection, *queries: Any) -> bool:
    """Whether any of ``queries`` finds a row: one statement (each first-run statement costs its
    compilation, so a probe asks once)."""
    return any(connection.execute(select(*(query.exists() for query in queries))).one())


def _retries(stage: str) -> Any:
    """Set-aside items of ``stage`` that staff asked to retry (sync/runs/setaside.py ``take_retries``)."""
    return select(SET_ASIDE.c.id).where(SET_ASIDE.c.stage == stage, SET_ASIDE.c.status == _RETRY)


def wants_waitlist(settings: Settings, config: Any) -> bool:
    """Is this connector a waitlist source (its mapping maps waitlist records), or one that
    lists a waiting list beside its appointments (FHIR ``waitlist: true``)?"""
    return mapping_record(config.mapping, settings.base_dir) == "waitlist" or bool(getattr(config, "waitlist", False))


def waitlist_sources(settings: Settings, connection: Connection, now: datetime) -> Verdict:
    """Work: a source of a waiting list to read, or an entry past its ``expires``."""
    if any(c.enabled and wants_waitlist(settings, c) for c in settings.connectors):
        return Verdict.work()
    E = WAITLIST_ENTRIES.c
    expired = select(E.id).where(E.status == EntryStatus.WAITING, E.expires_at.is_not(None), E.expires_at <= now)
    if _any(connection, expired):
        return Verdict.work()
    return Verdict.idle({"expired": 0, "sources": {}})


def waitlist_book(settings: Settings, connection: Connection, now: datetime) -> Verdict:
    """Work: a taken slot whose booking is pending, or a set-aside booking staff retry."""
    S = FREED_SLOTS.c
    if _any(connection, select(S.id).where(S.status == SlotStatus.TAKEN, S.booking_status == BookingStatus.PENDING),
            _retries("waitlist_book")):
        return Verdict.work()
    return Verdict.idle(dict.fromkeys(BOOKING_OUTCOMES, 0))


def pending_source_answers(connection: Connection, answers: Iterable[str]) -> list[Any]:
    """The appointments whose source answer (one of ``answers``) is not recorded yet for their
    version (sync/responses/source_answers.py records them; a later reply of the patient's
    stands: its Response row carries the key)."""
    A = APPOINTMENTS.c
    candidates = connection.execute(select(APPOINTMENTS).where(
        A.source_answer.in_(list(answers)), A.deleted_at.is_(None),
        or_(A.participation.is_(None), A.participation != A.source_answer))).all()
    keys = {source_answer_key(a) for a in candidates}
    done = set(connection.execute(select(RESPONSES.c.provider_id).where(
        RESPONSES.c.provider_id.in_(keys))).scalars()) if keys else set()
    return [a for a in candidates if source_answer_key(a) not in done]


def source_answer_key(appointment: Any) -> str:
    """The Response row's provider id of a source answer: one per appointment version and answer."""
    return f"source:{appointment.id}:v{appointment.version}:{appointment.source_answer}"


SOURCE_ANSWERS = ("accepted", "declined")  # the answers a mapping's ``answer:`` gives


def source_answers(settings: Settings, connection: Connection, now: datetime) -> Verdict:
    """Work: an answer the source gave that is not recorded yet."""
    if settings.responses.enabled and pending_source_answers(connection, SOURCE_ANSWERS):
        return Verdict.work()
    return Verdict.idle({"recorded": 0})


def writeback(settings: Settings, connection: Connection, now: datetime) -> Verdict:
    """Work: a write-back pending (due, or older ones to supersede), or one set aside that staff retry."""
    if _any(connection, select(WRITEBACKS.c.id).where(WRITEBACKS.c.status == "pending"), _retries("writeback")):
        return Verdict.work()
    return Verdict.idle(dict.fromkeys(WRITEBACK_COUNTS, 0))


def waitlist(settings: Settings, connection: Connection, now: datetime) -> Verdict:
    """The waiting list's cycle looks for freed slots and offers at each run: work when it is on."""
    return Verdict.work() if settings.waitlist.enabled else Verdict.idle({"enabled": False})


def _settings_digest(settings: Settings) -> str:
    """Every setting: an edit anywhere (a template, privacy, a route, quiet hours) is a new input."""
    return content_hash_bytes(settings.model_dump_json().encode())


def _code_digest(folder: str) -> list[Any]:
    """The stage's own code as installed (name, size, mtime of each module): an upgrade that
    renders or plans differently is a new input, as a settings edit is."""
    base = Path(__file__).parent.parent / folder
    return sorted((p.name, s.st_size, s.st_mtime_ns) for p in base.glob("*.py") if (s := p.stat()))


def _rows_state(connection: Connection, *columns: Any) -> list[Any]:
    """One round trip: each aggregate (a count, a newest time, a newest id) as a scalar subquery."""
    row = connection.execute(select(*(c.scalar_subquery() for c in columns))).one()
    return [value.isoformat() if isinstance(value, datetime) else value for value in row]


def _store_state(connection: Connection, *first: Any) -> list[Any]:
    """The rows a calendar pass and the agenda read, as counts and newest changes: a visit,
    patient or doctor added, changed, deleted or forgotten, an answer recorded, an event in
    the outbox, a calendar link or a retired source changed. ``first``: more aggregates asked
    in the same statement, their values first."""
    A, P, D = APPOINTMENTS.c, PATIENTS.c, PRACTITIONERS.c
    state = _rows_state(
        connection, *first,
        select(func.count()).select_from(APPOINTMENTS), select(func.max(A.id)), select(func.max(A.updated_at)),
        select(func.max(A.participation_at)), select(func.count(A.participation)), select(func.max(A.forgotten_at)),
        select(func.count(A.deleted_at)),
        select(func.count()).select_from(PATIENTS), select(func.max(P.updated_at)),
        select(func.count()).select_from(PRACTITIONERS), select(func.max(D.updated_at)),
        select(func.count()).select_from(LINKS), select(func.max(LINKS.c.updated_at)),
        select(func.count()).select_from(RETIRED_SOURCES), select(func.max(RETIRED_SOURCES.c.retired_at)),
        select(func.max(EVENTS.c.id)), select(func.max(RESPONSES.c.id)))
    # Places have no time of change; there are few: their names themselves.
    places = sorted(tuple(row) for row in connection.execute(select(LOCATIONS)))
    return [*state, content_hash(places)]


def _calendar_owed(settings: Settings, now: datetime) -> list[Any]:
    """What the calendar owes whatever changed: set-aside visits and, with the ics provider,
    files owing a write or their daily look (counts, asked with _store_state's aggregates)."""
    f = ICS_FILES.c
    owed = [select(func.count()).select_from(SET_ASIDE).where(SET_ASIDE.c.stage == "calendar",
                                                              SET_ASIDE.c.status != _RESOLVED)]
    if settings.calendar.provider == "ics":
        owed.append(select(func.count()).select_from(ICS_FILES).where(
            or_(f.dirty.is_(True), f.retired_at.is_(None), f.retired_at < now - ICS_CHECKED_EVERY)))
    return owed


def calendar(settings: Settings, connection: Connection, now: datetime) -> Verdict:
    """State-based (calendar/push.py): skipped only when nothing it reads changed since its last
    idle pass. Work regardless: set-aside visits (retried every pass) and, with the ics
    provider, a file owing a write or its daily look (calendar/ics.py ``flush``)."""
    owed = _calendar_owed(settings, now)
    state = _store_state(connection, *owed)
    if any(state[:len(owed)]):
        return Verdict.work()
    # The day: the window's start, the look for another provider's events (retire_others).
    return Verdict.unless_marked(content_hash([
        "calendar", now.date().isoformat(), _settings_digest(settings), _code_digest("calendar"), state]))


def reminders(settings: Settings, connection: Connection, now: datetime) -> Verdict:
    """Work regardless: an event in the outbox the planner has not read, a set-aside plan staff
    retry. Otherwise skipped only when nothing the planning reads changed since its last idle
    pass: the settings (their fingerprint decides a re-plan: reminders/replan.py), and with the
    doctors' agenda on, the day in each zone agendas are planned by and the visits and doctors."""
    if settings.reminders.enabled:
        offset, newest, retries = connection.execute(select(
            select(CONSUMERS.c.last_event_id).where(CONSUMERS.c.consumer == REMINDERS_CONSUMER).scalar_subquery(),
            select(func.max(EVENTS.c.id)).scalar_subquery(), _retries(REMINDERS_CONSUMER).exists())).one()
        if offset is None or (newest or 0) > offset or retries:
            return Verdict.work()
    inputs: list[Any] = ["reminders", _settings_digest(settings), _code_digest("reminders")]
    if settings.reminders.enabled and settings.reminders.agenda.enabled:
        zones = {settings.clinic.timezone} | {settings.clinic_for(c.name).timezone for c in settings.connectors}
        # The calendar's statement, its own counts left out: one statement compiled for both
        # probes (SQLAlchemy's cache), not two of ~17 aggregates each; the same state.
        owed = _calendar_owed(settings, now)
        inputs += [sorted(now.astimezone(zone(name)).date().isoformat() for name in zones),
                   _store_state(connection, *owed)[len(owed):]]
    return Verdict.unless_marked(content_hash(inputs))


# The probe of each stage of the pipeline, by its key (sync/service/pipeline.py ``stages``).
PROBES: dict[str, Probe] = {
    "waitlist_sources": waitlist_sources, "waitlist_book": waitlist_book, "calendar": calendar,
    "source_answers": source_answers, "reminders": reminders, "writeback": writeback, "waitlist": waitlist,
}


def _quiet(result: StageResult, counted_alike: Iterable[str]) -> bool:
    """A pass that changed nothing: no error, and every count 0 but those that only describe the
    state (``counted_alike``: the calendar's unchanged and unrouted visits)."""
    if result.get("error"):
        return False
    return all(not value for key, value in result.items() if key not in counted_alike)


# The counts that a pass changing nothing may report non-zero, per state-based stage.
STATE_COUNTS: dict[str, tuple[str, ...]] = {"calendar": ("unchanged", "skipped"), "reminders": ()}


def read_marks(store: HasEngine) -> dict[str, tuple[str, str]]:
    """Each stage's mark: (digest, report JSON) of its last idle pass."""
    with store.engine.connect() as connection:
        return {stage: (digest, result) for stage, digest, result in connection.execute(
            select(STAGE_MARKS.c.stage, STAGE_MARKS.c.digest, STAGE_MARKS.c.result))}


def marked_result(marks: dict[str, tuple[str, str]], stage: str, digest: str) -> StageResult | None:
    """The report of ``stage``'s last idle pass if it saw ``digest``, else None (run it)."""
    mark = marks.get(stage)
    if mark is None or mark[0] != digest:
        return None
    result = orjson.loads(mark[1])
    return result if isinstance(result, dict) else None


def after_pass(store: HasEngine, stage: str, digest: str, result: StageResult,
               marks: dict[str, tuple[str, str]], now: datetime | None = None) -> None:
    """Record the pass: its digest and report when it changed nothing (the next run with the same
    inputs may skip it), else forget the stage's mark (a pass with work to show is never repeated
    from a mark)."""
    quiet = _quiet(result, STATE_COUNTS.get(stage, ()))
    if not quiet and stage not in marks:
        return
    with store.engine.begin() as connection:
        if quiet:
            connection.execute(upsert_statement(connection, STAGE_MARKS, ("stage",), ("digest", "result", "marked_at")),
                               [{"stage": stage, "digest": digest, "result": orjson.dumps(result).decode(),
                                 "marked_at": now or utcnow()}])
        else:
            connection.execute(delete(STAGE_MARKS).where(STAGE_MARKS.c.stage == stage))
