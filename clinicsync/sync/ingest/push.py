"""The push contract: a record a source sends (the REST API, a FHIR Subscription, the HL7
MLLP listener) goes through the same path as a polled batch — the connector's mapping, quarantine, change
detection and the event outbox, in one transaction — and the sender is answered only
after that commit, so an answer never promises what a crash could lose.

Each push is its own short run in the run history, so the status page and the metrics
show a push source's last success and failures like a polled one's. A listener that holds
one run open for its life (MLLP) gives that run instead, and its pushes add up in it.

A push is one transaction: its run in the run history is written inside it (so a push
that commits is in the history, and a crash leaves neither), and a failed push records its
failed run afterwards. Writes are serialized per appointment, not per source:
two pushes of one appointment take turns, so the second compares with what the first
committed (an older update never overwrites a newer one, whatever order they arrive in),
while pushes of different appointments of one source go on at once. The turn is the
database's own, so it holds across replicas and worker processes: on PostgreSQL a
transaction-scoped advisory lock per (source, appointment), taken first in the push's
transaction; on SQLite, which has one writer, ``BEGIN IMMEDIATE`` (the write lock from the
first statement), with one process's pushes queued on a lock per database file rather than
on SQLite's busy-wait; on MySQL/MariaDB a ``GET_LOCK`` per (source, appointment) on the push's
own connection, released when that connection goes back to the pool after the commit or
rollback (or by the server with the session, if the process dies), with one process's pushes
queued on a lock per appointment first.
People shared by concurrent pushes are upserted (sync/store/people.py ``_insert_new``), and a new
appointment two replicas insert at once is retried (``_apply_once``). Mapping and
everything before it go on in parallel.

Bad input has two policies. A caller that can fix and resend (the REST API) is refused
with the field and the reason, and nothing is stored. A sender that cannot (a vendor's
webhook retrying the same payload forever) gets its record quarantined with the reason,
as a polled record would be, and is answered as received.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

import orjson
import structlog
from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from clinicsync.common.types import utcnow
from clinicsync.connectors.base import Batch, ConnectorSettings, RawRecord
from clinicsync.mappings.engine import CompiledMapping
from clinicsync.mappings.model import NormalizedAppointment, NormalizedPatient, NormalizedPractitioner
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.batch_map import map_batch
from clinicsync.sync.ingest.orphans import RECENT, first_run_refusal, recent_window
from clinicsync.sync.ingest.reports import new_run_id
from clinicsync.sync.ingest.source_settings import mapping_for
from clinicsync.sync.ingest.supersede import recording, supersede
from clinicsync.sync.store.bulk import Processor, bind_processors, placeholder, quoted
from clinicsync.sync.store.db import at_cursor, begin_first, first_statement, on_live_connection
from clinicsync.sync.store.locks import LockTimeout, advisory_key, sqlite_file
from clinicsync.sync.store.model import Appointment, Patient, Practitioner, SyncRun, table_of
from clinicsync.sync.store.model.joins import with_people
from clinicsync.sync.store.outbox import took_writers_lock, writers_key, writing_events_sql
from clinicsync.sync.store.store import (
    STORED_GO_LIVE,
    Counts,
    FoldedRead,
    Mapped,
    PushOptions,
    QuarantineEntry,
    Store,
    StoredGoLive,
)

log = structlog.get_logger("clinicsync.push")
A = table_of(Appointment).c
P = table_of(Patient).c
D = table_of(Practitioner).c
RUNS = table_of(SyncRun)
# A push's run row, one plain INSERT at the driver (``_run_insert``), values through the columns' types.
_RUN_COLUMNS = ("run_id", "connector", "status", "counts", "error", "started_at", "finished_at")
# A push's own bookkeeping, run inside its transaction (PushOptions ``within``).
Within = Callable[[Connection], Collection[str] | None]
# The change a push made, most telling first (a batch of one record makes exactly one).
T = TypeVar("T")
OUTCOMES = ("created", "rescheduled", "cancelled", "noshow", "deleted", "updated", "unchanged", "quarantined")


class Withdrawn(Exception):
    """Raised by a push's ``within`` to take the push back whole before it wrote anything: its
    transaction rolls back and, unlike a failure, no failed run is recorded (the push never
    happened). The reason is ``args[0]`` (e.g. a webhook body already applied)."""


class OrphanedPushRefused(Exception):
    """A push to a source that has never stored a visit, while the store holds another source's
    future visits that the settings no longer name (sync/ingest/orphans.py ``first_run_refusal``): most
    likely that source renamed, whose updates would each be booked as a new visit. Nothing is
    stored; the sender is answered as for a store outage (503 with Retry-After, an MLLP NAK),
    so its retry is stored once the admin ran ``clinicsync source rename``. ``args[0]``: the
    refusal (names only)."""

    def __init__(self, connector: str, refusal: str) -> None:
        super().__init__(refusal)
        self.connector = connector


@dataclass(frozen=True)
class PushResult:
    outcome: str  # one of OUTCOMES, or "refused" (nothing stored)
    external_id: str | None = None
    problem: QuarantineEntry | None = None  # why it was refused or quarantined (field, reason)
    notes: tuple[str, ...] = ()  # optional values dropped on the way (data-quality notes)


class PushReceiver:
    """One push source: its mapping loaded once, each record applied in its own transaction.

    ``mapping``: one already compiled (else the connector's, from ``settings``); ``run_id``:
    the listener's open run to record pushes in (else each push is a run of its own);
    ``configured``: the sources the settings name (else those of ``settings``), for the
    first-push refusal (``_refuse_first``)."""

    def __init__(self, settings: Settings | None, store: Store, config: ConnectorSettings, *,
                 mapping: CompiledMapping | None = None, run_id: str | None = None,
                 configured: Collection[str] | None = None) -> None:
        self.store, self.config, self.run_id = store, config, run_id
        if mapping is None:
            assert settings is not None, "a mapping or the settings to load it from"
            # The source's zone (its `timezone:`, else the clinic's), as a poll of it would use.
            mapping = mapping_for(settings, config)
        self.mapping: CompiledMapping = mapping
        self.counts = Counts()  # what this receiver stored in the listener's run (run_id)
        # Go-live is a boundary for pushes too: read in the push's own transaction (Store.apply_push),
        # with its tombstone and quarantine probes, unless the source announces all.
        self._go_live = None if config.announce_existing else STORED_GO_LIVE
        # The sources the settings name: a push to this source before it stored anything is
        # refused while another is orphaned (``_refuse_first``). Neither given: nothing is refused.
        if configured is None and settings is not None:
            configured = [c.name for c in settings.connectors]
        self._configured = None if configured is None else frozenset(configured)
        self._recent = RECENT if settings is None else recent_window(settings.calendar.past_days)
        if store.engine.dialect.name == "postgresql":  # the store's outbox lock, read once per engine
            with suppress(SQLAlchemyError):  # here, so that a push stays in its round trips
                writers_key(store.engine)

    @property
    def name(self) -> str:
        return self.config.name

    def receive(self, data: Mapping[str, Any], position: str, *, quarantine_bad: bool,
                record_id: str | None = None, within: Within | None = None) -> PushResult:
        """Map and store one record; see the module docstring for the two policies.
        ``within`` runs inside the store's transaction (Store.apply_push): a webhook's
        own bookkeeping, e.g. the body's digest, that must commit with the record."""
        mapped, quarantined = self.map(RawRecord(data, position, record_id=record_id))
        mapped, ahead = self._clock_ahead(mapped, refuse=not quarantine_bad)
        if ahead is not None:
            return PushResult("refused", ahead.record_id, ahead)
        if quarantined and not quarantine_bad:
            return PushResult("refused", quarantined[0].record_id, quarantined[0])
        external_id = mapped[0].appointment.external_id if mapped else quarantined[0].record_id
        outcome = self._apply(mapped, quarantined, within)
        return PushResult(outcome, external_id, quarantined[0] if quarantined else None,
                          mapped[0].appointment.notes if mapped else ())

    def _clock_ahead(self, mapped: list[Mapped], *, refuse: bool) -> tuple[list[Mapped], QuarantineEntry | None]:
        """A source's ``updated_at`` further ahead of this clock than the store's tolerance
        would make every later update, even a cancel, look older and freeze the appointment.
        A caller that can fix and resend (the REST API) is refused, naming the
        field; a sender that cannot (a webhook) has the time dropped with a data-quality
        note: the record is then undated and applied in arrival order, and a second copy of
        it changes nothing (a clamp to the arrival time would make each copy newer)."""
        limit = utcnow() + self.store.future_tolerance
        if not mapped or (when := mapped[0].appointment.source_updated_at) is None or when <= limit:
            return mapped, None
        spec = self.mapping.preset.fields.get("source_updated_at")
        source = spec.from_ if spec is not None and isinstance(spec.from_, str) else "source_updated_at"
        tolerance = int(self.store.future_tolerance.total_seconds())
        if refuse:
            return [], QuarantineEntry(mapped[0].position, f"a time more than {tolerance} s ahead of this server's "
                                       "clock; send when your system last changed the appointment, with its UTC "
                                       "offset, or leave it out", source, mapped[0].appointment.external_id)
        appointment = mapped[0].appointment
        note = f"{source}: more than {tolerance} s ahead of the clock; left out (applied in arrival order)"
        return [replace(mapped[0], appointment=replace(appointment, source_updated_at=None,
                                                       notes=(*appointment.notes, note)))], None

    def apply(self, appointment: NormalizedAppointment, position: str) -> PushResult:
        """Store an appointment built here (e.g. a stored one, cancelled), past the mapping."""
        return PushResult(self._apply([Mapped(position, appointment)], []), appointment.external_id)

    def cancel(self, external_id: str, position: str, record: Mapping[str, Any] | None = None) -> PushResult | None:
        """Cancel a stored appointment of this source; None if there is none. ``record``: what
        the source said of the appointment with its cancel (Easy!Appointments' delete carries
        the row as it last was): that content is what is cancelled, so a cancel that overtook
        its booking or its last reschedule stores it as the ordered history would have, dated
        now, so the saves arriving late are older."""
        stored = load_appointment(self.store, self.name, external_id)
        if record is not None:
            mapped, quarantined = self.map(RawRecord(record, position, record_id=external_id))
            mapped, _ = self._clock_ahead(mapped, refuse=False)
            if mapped:
                said = mapped[0].appointment
                if stored is not None and stored.source_updated_at is not None:
                    said = replace(said, source_updated_at=max(stored.source_updated_at,
                                                               said.source_updated_at or stored.source_updated_at))
                stored = said
            elif stored is None:
                return PushResult(self._apply([], quarantined), external_id, quarantined[0] if quarantined else None)
        if stored is None:
            return None
        # An explicit cancel wins over any earlier update, even one dated ahead of this clock.
        now = utcnow()
        when = now if stored.source_updated_at is None else max(now, stored.source_updated_at)
        return self.apply(replace(stored, status="cancelled", source_updated_at=when), position)

    def delete(self, external_id: str, position: str) -> PushResult | None:
        """The source deleted the appointment (e.g. a FHIR DELETE): soft-deleted, as a polled
        delete is, with its ``deleted`` event; None if none of this source is stored."""
        stored = load_appointment(self.store, self.name, external_id)
        if stored is None:
            self.store.record_delete(self.name, external_id)  # its booking may still be on its way
            return None
        # Undated: the source's clock is not ours, and a delete notification carries no time of
        # its own, so it is never judged older than what is stored.
        gone = Mapped(position, replace(stored, source_updated_at=None), delete=True, record_id=external_id)
        return PushResult(self._apply([gone], []), external_id)

    # -- the two steps, for a receiver that decides between them (the MLLP listener's ACK) --
    def map(self, record: RawRecord) -> tuple[list[Mapped], list[QuarantineEntry]]:
        """The record through the connector's mapping: mapped, or quarantined with the reason."""
        return map_batch(self.mapping, Batch([record]))

    def commit(self, mapped: list[Mapped], quarantined: list[QuarantineEntry],
               within: Within | None = None) -> Counts:
        """Store in one transaction (``within`` first, in it: Store.apply_push), in the
        listener's run or a run of its own written in the same transaction; raises what the
        store raises (a failed push's run is then recorded on its own). A mapping with
        ``replaces`` reads a record as its chain's first visit, as a poll does (supersede.py):
        the turn is that visit's, and the chain's new edge commits with the record."""
        if mapped and "replaces" in self.mapping.preset.fields:
            chains = supersede(self.store, self.name, mapped)
            mapped, within = chains.mapped, recording(chains.edges, self.name, within)
        go_live = self._go_live
        keys = _turn_keys(mapped, quarantined)
        engine = self.store.engine
        # PostgreSQL: a webhook's own first read goes in the push's one read (PushOptions ``folded``).
        folded = within if isinstance(within, FoldedRead) and engine.dialect.name == "postgresql" else None
        with _turns.hold(engine, self.name, keys):
            locked = _locked(engine, self.name, keys, None if folded is not None else within)
            # Unpinged when the turn is the transaction's first statement (it tells a dead connection).
            run = on_live_connection if keys and engine.dialect.name in _TURN_FIRST else _as_is
            if self.run_id is not None:
                listener_run = self.run_id
                counts, _ = run(lambda: self._apply_once(listener_run, mapped, quarantined, locked, go_live, None,
                                                             folded))
                self.counts.add(counts)
            else:
                run_id, started = new_run_id(), utcnow()
                finish = _run_recorder(run_id, self.name, started)
                try:
                    counts, _ = run(lambda: self._apply_once(run_id, mapped, quarantined, locked, go_live, finish,
                                                              folded))
                except Withdrawn:
                    raise
                except OrphanedPushRefused as refused:
                    _record_failed_run(self.store, run_id, self.name, started, str(refused))
                    raise
                except Exception as exc:
                    _record_failed_run(self.store, run_id, self.name, started, f"store error ({type(exc).__name__})")
                    raise
        # After the turn and the commit: a statistics refresh holds no appointment's turn.
        _statistics.grew(engine, self.name, counts.created)
        return counts

    def _apply_once(self, run_id: str, mapped: list[Mapped], quarantined: list[QuarantineEntry],
                    within: Within | None, go_live: StoredGoLive | None,
                    finish: Callable[[Connection, Counts, str | None], None] | None,
                    folded: FoldedRead | None = None) -> tuple[Counts, str | None]:
        """Store the push; a unique violation means another replica stored the same new
        appointment (or alias) between this transaction's lookup and its insert: the
        transaction rolled back whole, so it is tried once more, and then finds that row
        and compares with it like any later copy (people never collide: they are upserted)."""
        unstored = self._refuse_first if self._configured is not None else None
        options = PushOptions(within=within, go_live=go_live, finish=finish, folded=folded, unstored=unstored)
        try:
            return self.store.apply_push(self.name, run_id, mapped, quarantined, options)
        except IntegrityError:
            return self.store.apply_push(self.name, run_id, mapped, quarantined, options)

    def _refuse_first(self, connection: Connection) -> None:
        """PushOptions ``unstored``: this source holds no visit yet (read with the push's
        probes, so an established source pays nothing); refused while an orphan exists."""
        assert self._configured is not None
        refusal = first_run_refusal(connection, self.name, self._configured, unstored=True,
                                    recent=self._recent)
        if refusal is not None:
            log.warning("push.refused", connector=self.name, reason=refusal)  # names only
            raise OrphanedPushRefused(self.name, refusal)

    def _apply(self, mapped: list[Mapped], quarantined: list[QuarantineEntry], within: Within | None = None) -> str:
        return outcome(self.commit(mapped, quarantined, within))


# -- one push, one transaction, one turn per appointment ----------------------------------------
# Where a push's transaction begins with its turn (``_locked``), and so checks out its connection
# unpinged (sync/store/db.py ``on_live_connection``): a pre-ping is a round trip per push.
_TURN_FIRST = frozenset({"postgresql", "mysql", "mariadb"})


def _as_is(work: Callable[[], T]) -> T:
    return work()


def _turn_keys(mapped: Sequence[Mapped], quarantined: Sequence[QuarantineEntry]) -> list[str]:
    """What a push writes that another push may write at once: its appointments (by external
    id) and, for a record set aside, the quarantine item (by record id or position)."""
    keys = {m.appointment.external_id for m in mapped}
    keys.update(q.record_id or q.position for q in quarantined)
    return sorted(keys)  # always taken in one order: two pushes of two records never deadlock


def _locked(engine: Engine, connector: str, keys: Sequence[str], within: Within | None) -> Within | None:
    """``within``, preceded in the push's transaction by the database's turn (module docstring)."""
    dialect = engine.dialect.name
    if dialect in ("mysql", "mariadb"):
        return _mysql_turn(engine, connector, keys, within)
    if dialect not in ("postgresql", "sqlite"):
        return within

    def turn_then_within(connection: Connection) -> Collection[str] | None:
        if dialect == "postgresql":
            # Released at commit or rollback, by the database, even on kill -9. Every turn, in order,
            # in the message that begins the transaction (sync/store/db.py ``begin_first``: psycopg's own
            # BEGIN was a round trip of its own), on the DB-API cursor (through SQLAlchemy
            # ~30-60 us more). The keys are integers: literal, so the message takes no parameters.
            # Before them, the push's plans: cached per connection, kept to what a plan for the values
            # would be (sync/store/db.py ``push_plans``).
            if keys:  # then the outbox writers' lock (sync/store/outbox.py), as every transaction writing events
                begin_first(connection, ";".join(
                    [*(f"SELECT pg_advisory_xact_lock({advisory_key('push', connector, key):d})" for key in keys),
                     writing_events_sql(engine)]), cached_plans=True).close()
                took_writers_lock(connection)
        elif not connection.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
            at_cursor(connection, "BEGIN IMMEDIATE").close()  # SQLite: the write lock before the first read
        return within(connection) if within is not None else None

    return turn_then_within


# -- MySQL/MariaDB: GET_LOCK per (source, appointment), released at the connection's check-in ----
# How long a push waits for its appointment's turn before it fails (and its sender retries), as
# long as SQLite's busy timeout (sync/store/db.py). MariaDB has no "wait forever" (-1 gives NULL).
TURN_WAIT_SECONDS = 30
# The names a connection holds, in its pool record's info (kept across check-outs with the session).
_HELD = "clinicsync_push_turns"
_RELEASING: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines whose pool releases turns at check-in
_RELEASING_GUARD = threading.Lock()


def mysql_turn_name(engine: Engine, connector: str, key: str) -> str:
    """A push turn's ``GET_LOCK`` name: scoped by the database (names are server-wide), under
    MySQL's 64 characters."""
    return f"clinicsync-push-{advisory_key(engine.url.database or '', 'push', connector, key):x}"


def _mysql_turn(engine: Engine, connector: str, keys: Sequence[str], within: Within | None) -> Within:
    """``GET_LOCK`` is a session lock, not a transaction's: it is taken first in the push's
    transaction, on the connection that writes it, and released by ``_release_turns`` when that
    connection is checked in, i.e. after ``engine.begin()`` committed or rolled back; a
    connection that is invalidated ends its session, and the server frees its locks."""
    _release_at_checkin(engine)
    names = [mysql_turn_name(engine, connector, key) for key in keys]

    def turn_then_within(connection: Connection) -> Collection[str] | None:
        held: list[str] = connection.connection.info.setdefault(_HELD, [])
        for number, name in enumerate(names):  # in _turn_keys' order: two pushes of two records never deadlock
            held.append(name)  # before it is granted: a half-taken set is released all the same
            execute = first_statement if number == 0 else Connection.exec_driver_sql
            granted = execute(connection, "SELECT GET_LOCK(%s, %s)", (name, TURN_WAIT_SECONDS)).scalar()
            if granted != 1:
                raise LockTimeout(f"push turn of {connector} not granted within {TURN_WAIT_SECONDS} s")
        return within(connection) if within is not None else None

    return turn_then_within


def _release_at_checkin(engine: Engine) -> None:
    if engine in _RELEASING:
        return
    with _RELEASING_GUARD:
        if engine not in _RELEASING:
            event.listen(engine, "checkin", _release_turns)
            _RELEASING.add(engine)


def _release_turns(dbapi_connection: Any, record: Any) -> None:
    """Pool ``checkin``: the turns this connection took, released after its transaction ended
    (the pool has already rolled back whatever was left open). If releasing fails the
    connection is invalidated: its session, and so its locks, end with it."""
    names = record.info.pop(_HELD, None)
    if not names or dbapi_connection is None:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("DO " + ", ".join(["RELEASE_LOCK(%s)"] * len(names)), names)
        finally:
            cursor.close()
    except Exception as exc:  # whatever the driver raises: the session must not keep the locks
        record.invalidate(exc)


class _Turns:
    """This process's queue in front of the database's turn: on SQLite one lock per database
    file (a waiting push sleeps on a lock, not in SQLite's busy handler); on MySQL/MariaDB
    one lock per (source, appointment); on PostgreSQL none (the advisory lock is the queue)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, ...], tuple[threading.Lock, int]] = {}
        self._files: dict[int, str] = {}  # a SQLite engine's database file, resolved once per engine

    @contextmanager
    def hold(self, engine: Engine, connector: str, keys: Sequence[str]) -> Iterator[None]:
        dialect = engine.dialect.name
        if dialect == "postgresql":
            names: list[tuple[str, ...]] = []
        elif dialect == "sqlite":
            if (file := self._files.get(id(engine))) is None:
                file = self._files[id(engine)] = str(sqlite_file(engine) or id(engine))
            names = [("sqlite", file)]
        else:
            names = [(str(id(engine)), connector, key) for key in keys]
        with ExitStack() as stack:
            for name in names:
                stack.enter_context(self._one(name))
            yield

    @contextmanager
    def _one(self, name: tuple[str, ...]) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(name, (threading.Lock(), 0))
            self._locks[name] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[name]
                if users == 1:
                    del self._locks[name]  # nobody waits on it: the table holds only locks in use
                else:
                    self._locks[name] = (lock, users - 1)


_turns = _Turns()


# -- planner statistics of a fresh store's push tables (PostgreSQL) -------------------------------
# A push reads its rows by their (connector, key) unique index (store.presence_and_known, the
# Cal.com receipt and chain reads). Until a table is first analyzed PostgreSQL's planner thinks its
# indexes hold no rows (their reltuples as CREATE INDEX left them on the empty table), so every index
# that starts with ``connector`` costs the same, and it may pick another one: on a fresh store with
# autovacuum off (or before autovacuum's first pass) the appointment read walked
# ix_appointment_practitioner, every row of the source, four times per push (W8: 2.6 ms of
# PostgreSQL's time per push at 4,200 rows, growing with each push). ANALYZE is what autovacuum
# would do; a push source does it for the tables it reads when its pushes created 32, 64, 128, …
# appointments of that source in this process (as Store._grown does for a first import, from 20,000 rows).
# Every table a push's one read reads (its plan is cached per connection: sync/store/db.py ``push_plans``;
# an ANALYZE of any of them plans it again). quarantine: a source's items probed by record id walked
# all of them with the statistics of an empty table (a plan for the values did the same).
PUSH_TABLES = ("appointment", "patient", "practitioner", "location", "webhookreceipt", "bookingalias",
               "quarantine", "tombstone", "connectorbaseline")
ANALYZE_FIRST = 32


class _Statistics:
    """Appointments created by this process's pushes, per engine and source, and when to analyze
    next. Per source: a source new to a store is not in the statistics of the others' rows (the
    planner takes it for a rare value and may walk another index again), so its own growth counts."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._created: weakref.WeakKeyDictionary[Engine, dict[str, tuple[int, int]]] = weakref.WeakKeyDictionary()

    def grew(self, engine: Engine, connector: str, created: int) -> None:
        """Count ``created``; ANALYZE the push tables when the count reached the next doubling.
        Never fails a push that committed: a refusal (a role that does not own the tables gets a
        warning from PostgreSQL, not an error) or a store that went away leaves the plan as it was."""
        if not created or engine.dialect.name != "postgresql":
            return
        with self._guard:
            sources = self._created.setdefault(engine, {})
            count, due = sources.get(connector, (0, ANALYZE_FIRST))
            count += created
            sources[connector] = (count, 2 * count if count >= due else due)
        if count >= due:
            quote = engine.dialect.identifier_preparer.quote
            with suppress(SQLAlchemyError), engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE " + ", ".join(quote(table) for table in PUSH_TABLES))


_statistics = _Statistics()


class _RunRecorder:
    """The push's run, written finished at the end of its own transaction (Store.apply_push
    ``finish``): called, it INSERTs the row; ``statement`` gives that INSERT and its values for the
    store to send with the push's other inserts (store.py ``_Fold``, PostgreSQL)."""

    def __init__(self, run_id: str, connector: str, started: datetime) -> None:
        self.run_id, self.connector, self.started = run_id, connector, started

    def statement(self, connection: Connection, counts: Counts, error: str | None) -> tuple[str, tuple[Any, ...]]:
        sql, processors = _run_insert(connection)
        row = (self.run_id, self.connector, "failed" if error else "ok", orjson.dumps(counts.as_dict()).decode(),
               error, self.started, utcnow())
        return sql, tuple(value if process is None else process(value)
                          for value, process in zip(row, processors, strict=True))

    def __call__(self, connection: Connection, counts: Counts, error: str | None) -> None:
        at_cursor(connection, *self.statement(connection, counts, error)).close()


def _run_recorder(run_id: str, connector: str, started: datetime) -> _RunRecorder:
    """The push's run, written finished at the end of its own transaction (PushOptions ``finish``)."""
    return _RunRecorder(run_id, connector, started)


# The run row's INSERT and its columns' bind processors, per dialect: what bulk.insert_rows builds
# on every call (quoting, processors, a lookup per distinct value), ~60 us of a push.
_RUN_INSERTS: dict[tuple[str, str], tuple[str, list[Processor]]] = {}


def _run_insert(connection: Connection) -> tuple[str, list[Processor]]:
    key = (connection.dialect.name, connection.dialect.paramstyle)
    if (found := _RUN_INSERTS.get(key)) is None:
        columns = ", ".join(quoted(connection, name) for name in _RUN_COLUMNS)
        marks = ", ".join([placeholder(connection)] * len(_RUN_COLUMNS))
        found = _RUN_INSERTS[key] = (f"INSERT INTO {quoted(connection, RUNS.name)} ({columns}) VALUES ({marks})",
                                     bind_processors(connection, [RUNS.c[name] for name in _RUN_COLUMNS]))
    return found


def _record_failed_run(store: Store, run_id: str, connector: str, started: datetime, error: str) -> None:
    """A push whose transaction failed (rolled back whole) is still a failed run in the history."""
    # The store is down: the push's own error is what the caller sees.
    with suppress(SQLAlchemyError), store.engine.begin() as connection:
        _run_recorder(run_id, connector, started)(connection, Counts(), error)


def outcome(counts: Counts) -> str:
    """The change a push made, most telling first."""
    return next((key for key in OUTCOMES if getattr(counts, key)), "unchanged")


def load_appointment(store: Store, connector: str, external_id: str) -> NormalizedAppointment | None:
    """A stored, not deleted appointment of ``connector`` as the mapping would have made it."""
    query = (select(A.external_id, A.status, A.start_utc, A.end_utc, A.timezone, A.type, A.location_ref,
                    A.source_updated_at, P.external_id.label("p_id"), P.name.label("p_name"), P.phone, P.email,
                    P.language, P.channel, P.allow_sms, P.allow_email, P.fallback_phones, D.external_id.label("d_id"),
                    D.name.label("d_name"), D.email.label("d_email"))
             .select_from(with_people())
             .where(A.connector == connector, A.external_id == external_id, A.deleted_at.is_(None)))
    with store.engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    patient = NormalizedPatient(row.p_id, row.p_name, row.phone, row.email, row.language, row.channel,
                                row.allow_sms, row.allow_email, row.fallback_phones) if row.p_id else None
    practitioner = NormalizedPractitioner(row.d_id, row.d_name, row.d_email) if row.d_id else None
    return NormalizedAppointment(row.external_id, row.status, row.start_utc, row.end_utc, row.timezone, row.type,
                                 row.location_ref, patient, practitioner, row.source_updated_at)
