"""The clinic's side of a run, through clinicsync's real code paths: a settings.yaml in a
folder of its own, the CSV drop connector (snapshot mode) reading the front desk's exports,
the REST API through FastAPI's TestClient, the SQL connector (incremental on `updated_at`, a
delete sweep at every sync) reading the practice-management database (a SQLite file), and the functions `sync --once`
(service.pipeline.run_once) and `remind --once` (reminders.dispatch.dispatch) call, in-process.
The clock is time-machine's, so every layer (utcnow, datetime.now, time.time) sees the tick."""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import io
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from fastapi.testclient import TestClient
from python_http_client.exceptions import HTTPError
from sqlalchemy import event, text
from twilio.base.exceptions import TwilioRestException
from typer.testing import CliRunner

from clinicsync.common.retry_after import retry_after
from clinicsync.connectors.rest_api import key_digest
from clinicsync.notifiers import sendgrid_mail, twilio_base
from clinicsync.notifiers.base import Message, Receipt, RetryableError
from clinicsync.notifiers.outbox import OutboxNotifier
from clinicsync.sync.calendar import ics
from clinicsync.sync.cli import app as cli_app
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.reminders import planner
from clinicsync.sync.reminders.dispatch import dispatch
from clinicsync.sync.server.app import create_app
from clinicsync.sync.service.pipeline import run_once, run_stages
from clinicsync.sync.store import quarantine
from clinicsync.sync.store.store import Store
from tests.simulation.scenario import TZ, ZONE, Scenario, Version

API_KEY = "csk_sim-web-0123456789abcdefghijklmnopqrstuv"
POISON_ROW_ID = "F-POISON"
COLUMNS = ["appointment_id", "start", "duration_minutes", "status", "type", "location", "patient_id",
           "patient_name", "patient_phone", "patient_email", "patient_language", "patient_channel", "doctor_id",
           "doctor_name", "doctor_email"]
PM_DURATION = timedelta(minutes=30)
WORKERS = 2  # reminders.workers: the dispatcher's threads
OFFSETS = ["3d", "1d", "1h"]
OFFSETS_AFTER_CHANGE = ["1d", "2h"]
# SETTINGS_CHANGE also changes the calendar's title template: every event must be rendered
# again (issue 32's ``rendered_from`` digest keys on the settings that shape an event).
SUMMARY_AFTER_CHANGE = "{{ type }} with {{ patient_initials }}"


class Killed(BaseException):
    """The worker process dies here (kill -9): nothing after this point runs or commits."""


@dataclass
class Folders:
    home: Path  # the settings folder, where cron normally starts
    elsewhere: Path  # another working directory (CRON_ELSEWHERE)

    @property
    def settings(self) -> Path:
        return self.home / "settings.yaml"

    @property
    def drop(self) -> Path:
        return self.home / "drop"

    @property
    def outbox(self) -> Path:
        return self.home / "outbox"

    @property
    def calendars(self) -> Path:
        return self.home / "calendars"

    @property
    def mapping(self) -> Path:
        return self.home / "front.yaml"

    @property
    def pm_db(self) -> Path:
        return self.home / "pm.db"

    @property
    def pm_mapping(self) -> Path:
        return self.home / "pm.yaml"


def mapping_text(fixed: bool) -> str:
    """The front desk's mapping: csv_default and the desk's own word for a confirmed booking,
    "confirmada", which the admin forgot at go-live when the scenario carries MAPPING_FIX."""
    words = "{confirmada: booked}" if fixed else "{}"
    return f"name: front\nextends: csv_default\nstatus_map: {words}\n"


# The practice-management database: one table as a small clinic system keeps it, times naive
# local (the clinic's zone), `updated_at` stamped on every save (MariaDB DATETIME style text).
# It reschedules by successor rows: a move keeps the old row as `rescheduled` and books a new
# row at the new time naming it (`rescheduled_from`), which the mapping reads as `replaces`.
PM_SCHEMA = """CREATE TABLE appointments (
    id TEXT PRIMARY KEY, starts_at TEXT NOT NULL, ends_at TEXT NOT NULL, status TEXT NOT NULL,
    reason TEXT, location TEXT, patient_id TEXT NOT NULL, patient_first_name TEXT, patient_last_name TEXT,
    patient_phone TEXT, patient_email TEXT, patient_language TEXT, patient_channel TEXT,
    doctor_id TEXT, doctor_name TEXT, doctor_email TEXT, updated_at TEXT NOT NULL, rescheduled_from TEXT)"""
PM_QUERY = ("SELECT id, updated_at, starts_at, ends_at, status, reason, location, patient_id, patient_first_name, "
            "patient_last_name, patient_phone, patient_email, patient_language, patient_channel, doctor_id, "
            "doctor_name, doctor_email, rescheduled_from FROM appointments "
            "WHERE starts_at BETWEEN :window_start AND :window_end")
# clinic_tables' mapping (its preset's columns), the patient's language and channel, and the
# successor rows' link (the old row's word then means it was superseded: docs/mappings.md).
PM_MAPPING = ("name: pm\nextends: clinic_tables\nstatus_map: {rescheduled: cancelled}\nfields:\n"
              "  patient.language: {from: patient_language}\n  patient.channel: {from: patient_channel}\n"
              "  replaces: {from: rescheduled_from}\n")
PM_SWEEP = "every 1m"  # the grammar's interval: every sync sweeps (ticks are 30 minutes apart)


def pm_wall(moment: datetime) -> str:
    """A moment as the practice database writes it: naive local wall clock, to the second."""
    return moment.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")


def pm_write(scenario: Scenario, path: Path, rows: list[Version]) -> None:
    """The practice database as the desk (or the online booking tool) leaves it: each version
    saved with its own stamp, a deleted one's rows gone. A visit is a chain of rows (its first
    row's id is the scenario's id): a move to another start keeps the chain's last row as
    `rescheduled` and adds a row at the new start naming it; any other change saves the last row."""
    people = {p.id: p for p in scenario.patients}
    doctors = {d.id: d for d in scenario.doctors}
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(PM_SCHEMA.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
        for v in rows:
            chain = _pm_chain(db, v.external_id)
            if v.deleted:  # the booking deleted with its earlier rows
                db.executemany("DELETE FROM appointments WHERE id = ?", [(row,) for row in chain])
                continue
            p, d = people[v.patient], doctors[v.doctor]
            first, _, last = p.name.partition(" ")
            head, replaces = (chain[-1], None) if chain else (v.external_id, None)
            if chain:
                held = db.execute("SELECT starts_at, rescheduled_from FROM appointments WHERE id = ?",
                                  (head,)).fetchone()
                replaces = held[1]
                if held[0] != pm_wall(v.start) and v.status == "booked":  # moved: a successor row
                    db.execute("UPDATE appointments SET status = 'rescheduled', updated_at = ? WHERE id = ?",
                               (pm_wall(v.updated_at), head))
                    head, replaces = f"{v.external_id}-{len(chain)}", head
            db.execute("INSERT OR REPLACE INTO appointments VALUES "
                       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (head, pm_wall(v.start), pm_wall(v.start + PM_DURATION), v.word, "Consulta",
                        "Centro", p.id, first, last, p.phone, p.email, p.language, p.channel, d.id, d.name,
                        d.email, pm_wall(v.updated_at), replaces))


def _pm_chain(db: sqlite3.Connection, first: str) -> list[str]:
    """The ids of a visit's rows in the practice database, first to last (none: not saved yet)."""
    chain: list[str] = []
    current: str | None = first if db.execute("SELECT 1 FROM appointments WHERE id = ?", (first,)).fetchone() else None
    while current is not None:
        chain.append(current)
        after = db.execute("SELECT id FROM appointments WHERE rescheduled_from = ?", (current,)).fetchone()
        current = after[0] if after else None
    return chain


def settings_text(folders: Folders, store_url: str | None, offsets: list[str], same_day: bool = False,
                  archive: bool = True, patient_data_days: int | None = None, front: str = "front") -> str:
    """``same_day``: doctors also get a notice at once of a change to one of today's visits;
    ``archive``: read exports move to an archive folder (else they stay in the drop folder);
    ``patient_data_days``: store.patient_data_days (None: its default, 365)."""
    store = f"  url: \"{store_url}\"\n" if store_url else ""  # None: no url (the default)
    if patient_data_days is not None:
        store += f"  patient_data_days: {patient_data_days}\n"
    store = f"store:\n{store}" if store else ""
    return (f"clinic:\n  timezone: {ZONE}\n  default_region: ES\n{store}"
            "connectors:\n"
            f"  - {{name: {front}, kind: csv, mapping: {folders.mapping}, drop_dir: {folders.drop}, mode: snapshot,\n"
            + (f"     archive_dir: {folders.home / 'archive'},\n" if archive else "") +
            "     settle_seconds: 0, max_delete_share: 1.0}\n"
            f"  - {{name: web, kind: rest_api, api_keys: [{{name: site, sha256: {key_digest(API_KEY)}}}]}}\n"
            f"  - {{name: pm, kind: sql, url: \"sqlite:///{folders.pm_db}\", mapping: {folders.pm_mapping},\n"
            f"     query: \"{PM_QUERY}\",\n"
            f"     mode: incremental, cursor_column: updated_at, timezone: {ZONE},\n"
            f"     delete_sweep: {PM_SWEEP}, max_delete_share: 1.0}}\n"
            f"notifiers:\n  - {{name: outbox, kind: outbox, directory: {folders.outbox}, rate_per_second: 1000}}\n"
            "reminders:\n"
            f"  offsets: [{', '.join(offsets)}]\n"
            "  quiet_hours: {start: \"21:00\", end: \"08:00\"}\n"
            "  routes: {sms: outbox, email: outbox, whatsapp: outbox}\n"
            f"  agenda: {{enabled: true, at: \"07:00\", same_day_changes: {str(same_day).lower()}}}\n"
            f"  workers: {WORKERS}\n"
            f"calendar:\n  provider: ics\n  ics: {{directory: {folders.calendars}}}\n"
            + (f"  summary: \"{SUMMARY_AFTER_CHANGE}\"\n" if offsets == OFFSETS_AFTER_CHANGE else ""))


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


class Worker:
    """One clinicsync process: the settings read at its start (from its working directory),
    its own store connection, its own REST API app."""

    def __init__(self, folders: Folders, cwd: Path) -> None:
        self.cwd = cwd
        with working_directory(cwd):
            self.settings: Settings = load_settings(Path(os.path.relpath(folders.settings, cwd)))
            self.store = Store.open(self.settings.store)
        self._api: TestClient | None = None
        self.killed = False  # KILLED_PUSH armed (kill_on_store_write)

    @property
    def api(self) -> TestClient:
        if self._api is None:
            self._api = TestClient(create_app(self.settings, self.store),
                                   headers={"Authorization": f"Bearer {API_KEY}"})
        return self._api

    def sync(self) -> dict[str, Any]:
        with working_directory(self.cwd):
            report = run_once(self.settings, self.store)
        return {key: value for key, value in report.extras.items() if isinstance(value, dict) and "error" in value}

    def remind(self) -> None:
        with working_directory(self.cwd):
            dispatch(self.settings, self.store, datetime.now(UTC))

    def push(self, version: Version, doctor: dict[str, str], patient: dict[str, Any]) -> int:
        body = {"status": version.status,
                "start": version.start.astimezone(TZ).isoformat(), "duration_minutes": 30, "timezone": ZONE,
                "type": "Consulta", "location": "Centro", "updated_at": version.updated_at.isoformat(),
                "patient": patient, "practitioner": doctor}
        try:
            return self.api.put(f"/api/v1/appointments/{version.external_id}", json=body).status_code
        except (RuntimeError, concurrent.futures.CancelledError) as exc:
            # KILLED_PUSH's Killed (a BaseException) raised inside the app can end the TestClient's
            # portal thread before the client waits on it, which anyio then reports as "portal is
            # not running", or cancel the wait on the response, reported as CancelledError: under
            # load both happened (a CI run failed on the second). The process died either way.
            if self.killed and (isinstance(exc, concurrent.futures.CancelledError)
                                or "portal is not running" in str(exc)):
                raise Killed("push") from exc
            raise

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
        self.store.close()


def export_csv(scenario: Scenario, rows: list[Version], poison: bool) -> str:
    """The front desk's daily export: every appointment it holds (snapshot), local wall-clock times."""
    people = {p.id: p for p in scenario.patients}
    doctors = {d.id: d for d in scenario.doctors}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for v in rows:
        p, d = people[v.patient], doctors[v.doctor]
        writer.writerow([v.external_id, v.start.astimezone(TZ).strftime("%Y-%m-%d %H:%M"), 30, v.word, "Consulta",
                         "Centro", p.id, p.name, p.phone, p.email, p.language, p.channel, d.id, d.name, d.email])
    if poison:
        p, d = scenario.patients[0], scenario.doctors[0]
        writer.writerow([POISON_ROW_ID, "0001-01-01T00:00:00Z", 30, "scheduled", "Consulta", "Centro", p.id, p.name,
                         p.phone, p.email, p.language, p.channel, d.id, d.name, d.email])
    return out.getvalue()


def drop_export(folders: Folders, serial: int, text: str, at: datetime) -> None:
    folders.drop.mkdir(exist_ok=True)
    path = folders.drop / f"export-{serial:05d}.csv"
    path.write_text(text, encoding="utf-8")
    os.utime(path, (at.timestamp(), at.timestamp()))  # written at the simulated time


def quarantine_retry_all(folders: Folders) -> str:
    """The documented fix after a mapping change: `clinicsync quarantine retry --all`."""
    return admin(folders, "quarantine", "retry", "--all")


def admin(folders: Folders, *args: str) -> str:
    """A `clinicsync` command as the clinic's admin types it, in the settings folder. The
    command sets up its own logging (into the runner's stream): the caller's is put back after,
    so a run's quiet logs stay quiet (a 120-day run logged every tick at info after the
    renamed source's `source rename`, 1,500 lines)."""
    before = structlog.get_config()
    with working_directory(folders.home):
        try:
            result = CliRunner().invoke(cli_app, ["--config", str(folders.settings), *args], catch_exceptions=False)
        finally:
            structlog.configure(**before)
    return result.stdout


@contextmanager
def dies_in(owner: Any, name: str, where: str, armed: bool) -> Iterator[None]:
    """While the block runs (if ``armed``), ``owner.name`` kills the process instead of
    running: every call of it, since a dead process makes no later call either."""
    def die(*args: Any, **kwargs: Any) -> None:
        raise Killed(where)

    with _replaced(owner, name, die, armed):
        yield


@contextmanager
def _replaced(owner: Any, name: str, stand_in: Any, armed: bool) -> Iterator[None]:
    """``owner.name`` is ``stand_in`` while the block runs (if ``armed``)."""
    if not armed:
        yield
        return
    real = getattr(owner, name)
    setattr(owner, name, stand_in)
    try:
        yield
    finally:
        setattr(owner, name, real)


def provider_refuses(armed: bool) -> contextlib.AbstractContextManager[None]:
    """PROVIDER_DOWN: while the block runs (if ``armed``), the provider behind the `outbox`
    notifier refuses every send as a 503 would: the notifier raises the framework's
    RetryableError (no Retry-After), for every dispatcher of the tick."""
    def refuse(self: OutboxNotifier, message: Message) -> Receipt:
        raise RetryableError("503 Service Unavailable (simulated provider outage)")

    return _replaced(OutboxNotifier, "send", refuse, armed)


class ThrottledProvider:
    """PROVIDER_THROTTLED at the provider's side: while ``armed`` (a burst), every request is
    answered HTTP 429 with ``Retry-After`` (Twilio's error 20429 for a text, SendGrid's 429 for
    an email), turned into the notifier's error by the real notifiers' own classify. It keeps
    the provider's view of its callers: a request before the end of a Retry-After it gave is
    hammering. The dispatcher's workers send at once, so each may have one request in flight
    when the first 429 comes back: ``slack`` such requests per tick are no fault."""

    def __init__(self, retry_after: timedelta, slack: int) -> None:
        self.retry_after = retry_after
        self.slack = slack
        self.told_until: datetime | None = None  # the end of the last Retry-After given
        self.hammered: dict[datetime, int] = {}  # tick -> requests inside a Retry-After
        self.requests = 0
        self._lock = threading.Lock()

    def send(self, message: Message, armed: bool) -> None:
        """Raise the notifier's error for a throttled answer; return to let the send go on."""
        now = datetime.now(UTC)
        with self._lock:
            self.requests += 1
            if self.told_until is not None and now < self.told_until:
                self.hammered[now] = self.hammered.get(now, 0) + 1
            if not armed:
                return
            self.told_until = now + self.retry_after
        seconds = str(int(self.retry_after.total_seconds()))
        if message.channel == "email":
            raise sendgrid_mail.classify(HTTPError(429, "Too Many Requests", b'{"errors": [{"message": '
                                                   b'"too many requests"}]}', {"Retry-After": seconds}))
        raise twilio_base.classify(TwilioRestException(429, "https://api.twilio.com/2010-04-01/Messages.json",
                                                       "Too Many Requests", code=20429, method="POST"),
                                   retry_after(seconds))

    def problems(self) -> list[tuple[datetime, str]]:
        return [(at, f"hammered: {count} request(s) to the throttled provider inside the Retry-After it gave "
                     f"({int(self.retry_after.total_seconds())} s)")
                for at, count in sorted(self.hammered.items()) if count > self.slack]


def provider_throttles(provider: ThrottledProvider, armed: bool) -> contextlib.AbstractContextManager[None]:
    """PROVIDER_THROTTLED: the `outbox` notifier's sends go through ``provider`` first."""
    real = OutboxNotifier.send

    def throttled(self: OutboxNotifier, message: Message) -> Receipt:
        provider.send(message, armed)
        return real(self, message)

    return _replaced(OutboxNotifier, "send", throttled, True)


@contextmanager
def unreachable(path: Path) -> Iterator[Path]:
    """SOURCE_DOWN: the SQLite file at ``path`` cannot be opened (a folder stands in its
    place, as a database host refuses connections) while the block runs; the practice's own
    writes go to the real file, whose path is yielded."""
    away = path.with_name(path.name + ".away")
    path.rename(away)
    path.mkdir()
    try:
        yield away
    finally:
        path.rmdir()
        away.rename(path)


def planning_dies_once(armed: bool) -> contextlib.AbstractContextManager[None]:
    """KILLED_MID_STAGE: the process dies inside planning's transaction, after it read the
    events and before it committed the rows and the offset."""
    return dies_in(planner, "insert_new", "planning", armed)


def calendar_write_dies(armed: bool) -> contextlib.AbstractContextManager[None]:
    """KILLED_CALENDAR_WRITE: the process dies writing an .ics file, after the calendar stage
    committed its bookkeeping (events and links); every later write of that run dies too (the
    process is gone: the provider's `close`, which writes a file still owed, never runs)."""
    return dies_in(ics, "write_atomically", "calendar write", armed)


def kill_on_store_write(worker: Worker) -> None:
    """KILLED_PUSH: the next write of this worker's store dies (and so does every write after
    it: the process is gone, its `finally` blocks write nothing either)."""
    store = worker.store

    def dead(*args: Any, **kwargs: Any) -> Any:
        raise Killed("push")

    store.apply_batch = dead  # type: ignore[method-assign]
    store.apply_push = dead  # type: ignore[method-assign]
    store.finish_run = dead  # type: ignore[method-assign]
    worker.killed = True


OVERLAP_WAIT = 60.0  # seconds a run of OVERLAPPING_SYNC waits for the other at most (a hang is a failure)


def overlapping_syncs(first: Worker, second: Worker,
                      meanwhile: Callable[[], None]) -> tuple[dict[str, Any], bool]:
    """OVERLAPPING_SYNC: two `sync --once` (threads, the same fake clock), interleaved in the
    calendar stage: the first reads a doctor's events for a file (``_document``) and waits;
    ``meanwhile`` (the desk saves a change), then the second runs up to the start of its
    calendar write (``flush``), or to its end if it skipped the stage, and waits; the first
    writes its file and ends; then the second goes on. What both runs' stages reported failed,
    and whether they overlapped (the first read a file's events before the second began)."""
    first_read, first_go, second_flush, second_go = (threading.Event() for _ in range(4))
    document, flush = ics.IcsCalendar._document, ics.IcsCalendar.flush

    def read_then_wait(self: ics.IcsCalendar, calendar_id: str) -> Iterator[bytes]:
        parts = list(document(self, calendar_id))  # the rows read now, none after
        if threading.current_thread().name == "first":
            first_read.set()
            if not first_go.wait(OVERLAP_WAIT):
                raise RuntimeError("OVERLAPPING_SYNC: the second run never let the first go on")
        yield from parts

    def wait_then_flush(self: ics.IcsCalendar) -> None:
        if threading.current_thread().name == "second":
            second_flush.set()
            if not second_go.wait(OVERLAP_WAIT):
                raise RuntimeError("OVERLAPPING_SYNC: the first run never ended")
        flush(self)

    results: dict[str, dict[str, Any]] = {}
    errors: list[BaseException] = []

    def run(worker: Worker) -> None:
        try:
            results[threading.current_thread().name] = worker.sync()
        except BaseException as exc:  # reported by the caller, never swallowed
            errors.append(exc)

    runs = {name: threading.Thread(target=run, args=(worker,), name=name)
            for name, worker in (("first", first), ("second", second))}
    # Each run's sync changes the process's directory and back, in whichever order they end:
    # entered here first, so that the last one out leaves the directory as it was.
    with working_directory(first.cwd), _replaced(ics.IcsCalendar, "_document", read_then_wait, True), \
            _replaced(ics.IcsCalendar, "flush", wait_then_flush, True):
        runs["first"].start()
        _until(first_read, runs["first"])
        meanwhile()
        runs["second"].start()
        _until(second_flush, runs["second"])
        first_go.set()
        runs["first"].join(OVERLAP_WAIT)
        second_go.set()
        runs["second"].join(OVERLAP_WAIT)
    if errors:
        raise errors[0]
    return {**results.get("second", {}), **results.get("first", {})}, first_read.is_set()


def overlapping_import(first: Worker, second: Worker, front: str,
                       push: Callable[[Worker], None]) -> tuple[dict[str, Any], bool]:
    """OVERLAPPING_IMPORT (PostgreSQL): the tick's `sync --once` (``first``) pauses in its
    import of ``front``, once the batch's rows and events are written (at its quarantine
    entries, which come after them), before its commit; the service (``second``, another
    process) stores ``push`` and runs its stages to their end (a push-only service's run:
    reminder planning among them), or until it waits for a lock the paused import holds (the
    outbox's writers' lock: its planner waits for the import to commit); then the import goes on
    and commits, and both runs end. What both runs' stages reported failed, and whether the
    import paused (the tick's export had a batch for ``front``)."""
    paused, going = threading.Event(), threading.Event()
    backend: list[int] = []
    record = quarantine.record

    def record_then_wait(connection: Any, connector: str, *args: Any, **kwargs: Any) -> None:
        record(connection, connector, *args, **kwargs)
        if threading.current_thread().name == "first" and connector == front and not paused.is_set():
            backend.append(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar())
            paused.set()
            if not going.wait(OVERLAP_WAIT):
                raise RuntimeError("OVERLAPPING_IMPORT: the service's run never let the import go on")

    results: dict[str, dict[str, Any]] = {}
    errors: list[BaseException] = []

    def sync() -> None:
        try:
            results["first"] = first.sync()
        except BaseException as exc:  # reported by the caller, never swallowed
            errors.append(exc)

    def service() -> None:
        try:
            push(second)
            with working_directory(second.cwd):
                report = run_stages(second.settings, second.store)
            results["second"] = {key: value for key, value in report.extras.items()
                                 if isinstance(value, dict) and "error" in value}
        except BaseException as exc:
            errors.append(exc)

    # The service's own backends: another process on the same database (the outbox writers'
    # lock is per database, not per schema) may wait for the paused import too, and must not
    # be taken for the service.
    service_pids: set[int] = set()

    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        service_pids.add(dbapi_connection.info.backend_pid)

    event.listen(second.store.engine, "checkout", checked_out)
    runs = {"first": threading.Thread(target=sync, name="first"),
            "second": threading.Thread(target=service, name="second")}
    with working_directory(first.cwd), _replaced(quarantine, "record", record_then_wait, True):
        runs["first"].start()
        _until(paused, runs["first"])
        if paused.is_set():
            runs["second"].start()
            _until_waited_for(first.store, backend[0], service_pids, runs["second"])
        going.set()
        runs["first"].join(OVERLAP_WAIT)
        if not paused.is_set():  # nothing to overlap with: the service's run after the sync
            runs["second"].start()
        runs["second"].join(OVERLAP_WAIT)
    event.remove(second.store.engine, "checkout", checked_out)
    if errors:
        raise errors[0]
    return {**results.get("second", {}), **results.get("first", {})}, paused.is_set()


# The backends that block ``waiters``, and those that block them, and so on: a request queued
# behind another session's waiting one (the outbox writers' lock is per database, so another
# session's planner may wait for the paused import too, and a shared request queues behind
# its exclusive one) is blocked by the paused import through it.
_BLOCKERS = text("""WITH RECURSIVE chain(pid) AS (
    SELECT unnest(pg_blocking_pids(waiter)) FROM unnest(CAST(:waiters AS int[])) AS waiter
    UNION SELECT unnest(pg_blocking_pids(chain.pid)) FROM chain)
SELECT count(*) FROM chain WHERE pid = :pid""")


def _until_waited_for(store: Store, pid: int, waiters: set[int], thread: threading.Thread) -> None:
    """Until ``thread`` ends or one of its backends (``waiters``) waits, directly or behind
    other waiters, for a lock that backend ``pid`` holds (pg_locks), at most OVERLAP_WAIT."""
    deadline = time.monotonic() + OVERLAP_WAIT
    with store.engine.connect() as connection:
        while thread.is_alive() and time.monotonic() < deadline:
            waiting = connection.execute(_BLOCKERS, {"pid": pid, "waiters": sorted(waiters)}).scalar()
            connection.rollback()
            if waiting:
                return
            thread.join(0.02)


def _until(event: threading.Event, thread: threading.Thread) -> None:
    """Until ``thread`` reaches ``event`` or ends without it (a run with no file to write, a
    stage skipped)."""
    while thread.is_alive() and not event.wait(0.01):
        pass


def two_dispatchers(first: Worker, second: Worker) -> None:
    """SECOND_WORKER: two `remind --once` at the same moment (threads see the same fake clock)."""
    errors: list[BaseException] = []

    def run(worker: Worker) -> None:
        try:
            dispatch(worker.settings, worker.store, datetime.now(UTC))
        except BaseException as exc:  # reported by the caller, never swallowed
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
