"""One simulation: the scenario's ticks driven through the real code under a fake clock, what
was sent read back, and the oracle's verdict."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import structlog
import time_machine
from sqlalchemy import func, select

from clinicsync.connectors import dropfolder
from clinicsync.sync.checks.stalls import find_stalls
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.store.db import make_engine, upgrade
from clinicsync.sync.store.model import SyncRun
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from tests.simulation import clinic
from tests.simulation.calendar_oracle import CalendarOracle
from tests.simulation.clinic import Folders, Killed, Worker
from tests.simulation.desk import DeskActors
from tests.simulation.faults import KEPT_EXPORTS_LIMIT, Fault
from tests.simulation.forgetting import KEPT, held_too_long
from tests.simulation.mailbag import Mailbag
from tests.simulation.oracle import Oracle
from tests.simulation.scenario import (
    RENAMED_FRONT,
    THROTTLE_RETRY_AFTER,
    TICK,
    TZ,
    Delivery,
    Reply,
    Scenario,
    Version,
    killed_delivery,
)
from tests.simulation.verdict import Verdict, judge
from tests.simulation.waitlist import SETTINGS_YAML as WAITLIST_SETTINGS
from tests.simulation.waitlist import freed_by_whom, given_away, judge_waitlist, read_rows
from tests.simulation.waitlist_actors import WaitlistActors
from tests.simulation.waitlist_messages import judge_messages

FORGETFUL_DAYS = KEPT.days  # store.patient_data_days under FORGETFUL (its minimum)
STUCK_AFTER = timedelta(hours=1)  # a run still "running" this long after it began was cut off
SOURCE_SHOWN_WITHIN = timedelta(minutes=30)  # SOURCE_DOWN: find_stalls names pm from then on (15m + schedule)


def quiet_logs() -> None:
    """Warnings and errors only: a month of ticks would log megabytes."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


class Driver:
    def __init__(self, scenario: Scenario, store_url: str, folder: Path) -> None:
        self.s = scenario
        self.folders = Folders(folder / "clinic", folder / "elsewhere")
        self.folders.home.mkdir(parents=True)
        self.folders.elsewhere.mkdir(parents=True)
        self.front_name = "front"  # the CSV source's name in the settings (SOURCE_RENAMED changes it)
        self.offsets = clinic.OFFSETS
        self.store_url = None if Fault.CRON_ELSEWHERE in scenario.faults else store_url
        if not store_url.startswith("sqlite"):
            engine = make_engine(store_url)  # as `clinicsync db upgrade` does in a deployment
            upgrade(engine)
            engine.dispose()
        self.folders.mapping.write_text(clinic.mapping_text(fixed=Fault.MAPPING_FIX not in scenario.faults))
        self.folders.pm_mapping.write_text(clinic.PM_MAPPING)
        clinic.pm_write(scenario, self.folders.pm_db, [])  # the practice database, its table empty
        self.write_settings(clinic.OFFSETS)
        self.mailbag = Mailbag(scenario, self.folders.outbox)
        self.notes: list[str] = []
        self.front: dict[str, Version] = {}
        self.exports = 0
        self.poisoned = False
        self.kill_done = False
        self.worker: Worker | None = None
        self.second: Worker | None = None
        self.calendar: CalendarOracle | None = CalendarOracle(scenario, self.folders.calendars)
        dispatchers = 2 if Fault.SECOND_WORKER in scenario.faults else 1  # each may have a request in flight
        self.provider = clinic.ThrottledProvider(THROTTLE_RETRY_AFTER, slack=dispatchers * clinic.WORKERS - 1)
        self.pm_outage: contextlib.ExitStack | None = None  # SOURCE_DOWN: open while pm is unreachable
        self.pm_db = self.folders.pm_db  # where the practice writes its rows (its real file)
        self.problems: list[tuple[datetime, str]] = []  # the driver's own findings (stalls not shown)
        self.last_sync: datetime | None = None
        self.waitlist_rows: dict[str, list[Any]] = {}  # WAITLIST: the rows the waitlist oracle read
        self.desk = DeskActors(scenario) if Fault.DESK in scenario.faults else None
        self.waitlist = WaitlistActors(scenario) if Fault.WAITLIST in scenario.faults else None

    def write_settings(self, offsets: list[str]) -> None:
        self.offsets = offsets
        self.folders.settings.write_text(clinic.settings_text(self.folders, self.store_url, offsets,
                                                              same_day=Fault.SAME_DAY_NOTICES in self.s.faults,
                                                              archive=Fault.KEPT_EXPORTS not in self.s.faults,
                                                              patient_data_days=FORGETFUL_DAYS
                                                              if Fault.FORGETFUL in self.s.faults else None,
                                                              front=self.front_name)
                                         + (WAITLIST_SETTINGS if Fault.WAITLIST in self.s.faults else ""))

    def restart(self, cwd: Path | None = None) -> Worker:
        """A new process; the second dispatcher restarts too (all workers must read the same
        settings, docs/reminders.md: each would otherwise re-plan to its own)."""
        if self.worker is not None:
            self.worker.close()
        if self.second is not None:
            self.second.close()
            self.second = None
        self.worker = Worker(self.folders, cwd or self.folders.home)
        return self.worker

    # -- one tick --
    def clinic_changes(self, now: datetime, changes: list[Version]) -> None:
        for v in changes:
            self.front[v.external_id] = v
        poison = self.s.poison_at is not None and now >= self.s.poison_at
        if changes or (poison and not self.poisoned):
            self.poisoned = poison
            self.exports += 1
            rows = [v for v in self.front.values() if not v.deleted]
            clinic.drop_export(self.folders, self.exports, clinic.export_csv(self.s, rows, poison),
                               now - timedelta(seconds=1))

    def push(self, worker: Worker, delivery: Delivery, killed: bool) -> bool:
        """False when the push died (the sender will try again)."""
        patient = next(p for p in self.s.patients if p.id == delivery.version.patient)
        doctor = next(d for d in self.s.doctors if d.id == delivery.version.doctor)
        if killed:
            clinic.kill_on_store_write(worker)
        try:
            status = worker.push(delivery.version, {"id": doctor.id, "name": doctor.name, "email": doctor.email},
                                 {"id": patient.id, "name": patient.name, "phone": patient.phone,
                                  "email": patient.email, "language": patient.language, "channel": patient.channel})
        except Killed:
            return False
        if status >= 300:
            self.notes.append(f"{delivery.at.astimezone(TZ):%Y-%m-%d %H:%M} push {delivery.version.external_id} "
                              f"answered {status}")
        return True

    def run(self) -> Verdict:
        s = self.s
        ticks = s.ticks()
        killed = killed_delivery(s)
        syncs = s.sync_ticks()
        changes = [c for c in s.changes if c.version.source == "front"]
        pm = [c for c in s.changes if c.version.source == "pm"]
        replies: dict[datetime, list[Reply]] = {}
        for reply in s.replies:
            replies.setdefault(reply.at, []).append(reply)
        with time_machine.travel(ticks[0], tick=False) as clock:
            worker = self.restart()
            retry: list[Delivery] = []
            for now in ticks:
                clock.move_to(now)
                # WAITLIST: the tick may free a slot (a sync, a push, a reply, a desk step)
                stirred = now in syncs or now in replies or any(d.at == now for d in s.deliveries) or (
                    self.desk is not None and (now in self.desk.acts or now in self.desk.later))
                if self.desk is not None:
                    self.desk.draw_pages(worker.store, now)
                if s.settings_change_at == now:
                    self.write_settings(clinic.OFFSETS_AFTER_CHANGE)
                    worker = self.restart()  # `run` reads the settings at start: restarted after a change
                worker = self.source_renamed(worker, now)
                if s.cron_elsewhere_at is not None and now >= s.cron_elsewhere_at and worker.cwd != \
                        self.folders.elsewhere:
                    worker = self.restart(self.folders.elsewhere)
                landed = [c for c in changes if c.at <= now]
                changes = changes[len(landed):]
                late = [c.version for c in landed if c is s.overlap]  # saved during the tick's run
                self.clinic_changes(now, [c.version for c in landed if c is not s.overlap])
                self.source_outage(now)
                saved = [c.version for c in pm if c.at <= now]  # in the order they became visible
                pm = pm[len(saved):]
                if saved:
                    clinic.pm_write(s, self.pm_db, saved)
                due = retry + [d for d in s.deliveries if d.at == now and d is not s.overlap_import]
                retry = []
                for delivery in due:
                    kill = delivery is killed and not self.kill_done
                    self.kill_done = self.kill_done or kill
                    if not self.push(worker, delivery, killed=kill):
                        retry.append(delivery)
                        worker = self.restart()  # the killed process is gone
                if s.mapping_fix_at == now:
                    self.folders.mapping.write_text(clinic.mapping_text(fixed=True))
                    worker = self.restart()
                    clinic.quarantine_retry_all(self.folders)
                if now in syncs and late:
                    self.overlapping_sync(worker, now, late)  # checked at cron's next run, a tick later
                elif now in syncs and s.overlap_import is not None and s.overlap_import.at == now:
                    self.overlapping_import(worker, now, s.overlap_import)
                    self.check_calendar(worker, now)
                elif now in syncs:
                    completed = worker  # a killed sync restarts the worker; its calendar writes may be lost
                    worker = self.sync(worker, now)
                    if worker is completed:
                        self.check_calendar(worker, now)
                    self.check_source_shown(worker, now)
                    self.check_rename_refused(worker, now)
                for reply in replies.get(now, []):
                    self.reply(worker, reply, now)
                if self.desk is not None:
                    self.desk.act(worker, now)
                if (s.down is None or not s.down[0] <= now < s.down[1]) and self.something_due(worker, now):
                    refused = s.provider_down is not None and s.provider_down[0] <= now < s.provider_down[1]
                    throttled = any(began <= now < until for began, until in s.throttled)
                    with clinic.provider_refuses(refused), \
                            clinic.provider_throttles(self.provider, throttled) if s.throttled else \
                            contextlib.nullcontext():
                        self.remind(worker, now)
                    self.mailbag.collect(worker.store, now)
                if self.waitlist is not None:
                    self.waitlist.tick(worker, now, self.mailbag, stirred or bool(retry), now in syncs)
                self.after_tick(worker, now)
            stuck = self.stuck_runs(worker.store, ticks[-1])
            if self.waitlist is not None:
                self.waitlist_rows = freed_by_whom(s, read_rows(worker.store))
                self.problems += judge_messages(self.mailbag.sent, self.waitlist_rows, self.waitlist.happened)
                self.problems += self.waitlist.check_history(worker.store, self.waitlist_rows, ticks[-1])
                offers = judge_waitlist(s, self.waitlist.entries, self.waitlist_rows)  # every expected slot offered
                self.problems += [(ticks[-1], f"waitlist: {p}") for p in offers.problems]
                self.notes += [f"waitlist oracle: {n}" for n in offers.notes]  # a slot rightly offered to nobody
                self.notes.append(self.waitlist.notes(self.mailbag.sent))
            oracle = Oracle(s, given_away(self.waitlist_rows))
            expected = oracle.run()
            if self.desk is not None:
                self.desk.check(worker.store, oracle.desk_record(), ticks[-1])
                self.problems += self.desk.problems
                self.notes.append("desk: " + ", ".join(f"{k} {v}" for k, v in sorted(self.desk.tally.items())))
            if Fault.FORGETFUL in s.faults and self.last_sync is not None:
                self.problems += held_too_long(worker.store, self.last_sync)
            worker.close()
            if self.second is not None:
                self.second.close()
            if self.pm_outage is not None:
                self.pm_outage.close()
        verdict = judge(s, expected, self.mailbag.sent, stuck, self.notes, self.calendar)
        verdict.problems += self.problems + self.provider.problems()
        return verdict

    def source_renamed(self, worker: Worker, now: datetime) -> Worker:
        """SOURCE_RENAMED: the settings rename front one evening (cron's `sync --once` reads
        them at its next run); the admin runs `clinicsync source rename` the next morning."""
        renamed = self.s.source_renamed
        if renamed is None or now not in renamed:
            return worker
        if now == renamed[0]:
            self.front_name = RENAMED_FRONT
            self.write_settings(self.offsets)
            return self.restart()
        out = clinic.admin(self.folders, "source", "rename", "front", RENAMED_FRONT)
        if "row(s) moved from front to" not in out:
            self.problems.append((now, f"`source rename front {RENAMED_FRONT}` moved nothing: {out.strip()}"))
        return worker

    def check_rename_refused(self, worker: Worker, now: datetime) -> None:
        """SOURCE_RENAMED: the renamed source's first run is refused, and `status` names the old
        name, until the admin's `source rename`; neither once it is done."""
        renamed = self.s.source_renamed
        if renamed is None or not renamed[0] <= now <= renamed[1]:
            return
        shown = [st.subject for st in find_stalls(worker.store, worker.settings, now) if st.kind == "source_orphaned"]
        if now < renamed[1] and shown != ["front"]:
            self.problems.append((now, f"front renamed {RENAMED_FRONT} in the settings, and find_stalls shows "
                                       f"{shown or 'no orphaned source'}"))
        elif now == renamed[1] and shown:
            self.problems.append((now, f"`source rename` done, and find_stalls still shows {shown}"))

    def source_outage(self, now: datetime) -> None:
        """SOURCE_DOWN: pm unreachable from the outage's first tick, reachable again at its end."""
        down = self.s.source_down
        if down is None:
            return
        if down[0] <= now < down[1] and self.pm_outage is None:
            self.pm_outage = contextlib.ExitStack()
            self.pm_db = self.pm_outage.enter_context(clinic.unreachable(self.folders.pm_db))
        elif now >= down[1] and self.pm_outage is not None:
            self.pm_outage.close()
            self.pm_outage, self.pm_db = None, self.folders.pm_db

    def check_calendar(self, worker: Worker, now: datetime) -> None:
        """The calendar files after this tick's sync; the calendar oracle first learns which freed
        times the waiting list gave away so far (a desk cancel of one is not undone)."""
        if self.calendar is None:
            return
        if self.waitlist is not None:
            self.calendar.learn_given_away(given_away(read_rows(worker.store)))
        self.calendar.check(now)

    def check_source_shown(self, worker: Worker, now: datetime) -> None:
        """SOURCE_DOWN: after a sync, `status` (find_stalls) names pm while it has been
        unreachable SOURCE_SHOWN_WITHIN or more, and no longer once a sync read it again."""
        down = self.s.source_down
        if down is None or not (down[0] + SOURCE_SHOWN_WITHIN <= now <= down[1]):
            return
        shown = [st.kind for st in find_stalls(worker.store, worker.settings, now) if st.subject == "pm"]
        if now < down[1] and not shown:
            self.problems.append((now, f"source pm unreachable since {down[0].astimezone(TZ):%H:%M}, "
                                       "and find_stalls (status) names no stall of it"))
        elif now == down[1] and shown:
            self.problems.append((now, f"source pm read again, and find_stalls still shows it: {shown}"))

    def reply(self, worker: Worker, reply: Reply, now: datetime) -> None:
        """A patient's SMS, handed to what Twilio's inbound webhook calls once it has checked
        the signature (docs/responses.md; `clinicsync replies feed` does the same)."""
        patient = next(p for p in self.s.patients if p.id == reply.patient)
        result = handle_reply(worker.settings, worker.store, "sms", patient.phone, reply.text, reply.sid, now)
        if result.outcome not in ("applied", "no_appointment"):
            self.notes.append(f"{now.astimezone(TZ):%Y-%m-%d %H:%M} reply {reply.sid} ({reply.text!r}) "
                              f"came out {result.outcome}")

    def after_tick(self, worker: Worker, now: datetime) -> None:
        """A subclass's own work at the end of each tick (tests/simulation/waitlist_run.py)."""

    def sync(self, worker: Worker, now: datetime) -> Worker:
        self.last_sync = now
        with clinic.planning_dies_once(self.s.kill_plan_at == now), \
                clinic.calendar_write_dies(self.s.kill_calendar_at == now):
            try:
                errors = worker.sync()
            except Killed as exc:
                self.notes.append(f"{now.astimezone(TZ):%Y-%m-%d %H:%M} worker killed inside {exc}")
                return self.restart()
        for stage, result in errors.items():
            note = f"stage {stage} failed: {result['error']}"
            if note not in " ".join(self.notes):
                self.notes.append(f"{now.astimezone(TZ):%Y-%m-%d %H:%M} {note} (and on each run after)")
        return worker

    def overlapping_sync(self, worker: Worker, now: datetime, late: list[Version]) -> None:
        """OVERLAPPING_SYNC: the tick's run, and a second one (another process) started while
        the first writes a doctor's file, after the desk saved ``late`` (clinic.overlapping_syncs).
        The calendars are checked at cron's next run, not now: the second run's calendar stage
        is skipped while the first holds it (the visit is on the calendars a run later)."""
        self.last_sync = now
        second = Worker(self.folders, worker.cwd)
        try:
            errors, overlapped = clinic.overlapping_syncs(worker, second, lambda: self.clinic_changes(now, late))
        finally:
            second.close()
        if not overlapped:  # the tick has a change for the doctor: the first run writes that file
            self.problems.append((now, "overlapping runs: the first wrote no calendar file, nothing overlapped"))
        for stage, result in errors.items():  # no fault is armed at this tick: any failure is one
            self.problems.append((now, f"overlapping runs: stage {stage} failed: {result['error']}"))

    def overlapping_import(self, worker: Worker, now: datetime, delivery: Delivery) -> None:
        """OVERLAPPING_IMPORT: the tick's run pauses with its import of the desk's move open
        while the service (another process) takes ``delivery`` and runs its stages
        (clinic.overlapping_import); then the run commits and ends. The messages of both visits
        are expected as at any tick: a planner that read past the open import's event lost them."""
        self.last_sync = now
        second = Worker(self.folders, worker.cwd)

        def push(service: Worker) -> None:
            if not self.push(service, delivery, killed=False):  # pragma: no cover - never armed
                self.problems.append((now, "overlapping import: the push died"))

        try:
            errors, overlapped = clinic.overlapping_import(worker, second, self.front_name, push)
        finally:
            second.close()
        if not overlapped:  # the tick's export moves a front visit: the run imports it
            self.problems.append((now, "overlapping import: the run imported no front batch, nothing overlapped"))
        for stage, result in errors.items():  # no fault is armed at this tick: any failure is one
            self.problems.append((now, f"overlapping import: stage {stage} failed: {result['error']}"))

    def remind(self, worker: Worker, now: datetime) -> None:
        span = self.s.second_worker
        if span is not None and span[0] <= now < span[1]:
            if self.second is None:
                self.second = Worker(self.folders, self.folders.home)
            clinic.two_dispatchers(worker, self.second)
        else:
            worker.remind()

    @staticmethod
    def something_due(worker: Worker, now: datetime) -> bool:
        """Whether `remind --once` has anything to do now (cron runs it every minute; the runs
        with nothing due send nothing, so the simulation skips them)."""
        with worker.store.engine.connect() as connection:
            first = connection.execute(select(func.min(REMINDERS.c.due_at))
                                       .where(REMINDERS.c.status == "pending")).scalar()
        return first is not None and first <= now

    @staticmethod
    def stuck_runs(store: Store, now: datetime) -> list[str]:
        table = SyncRun.__table__  # type: ignore[attr-defined]
        with store.engine.connect() as connection:
            rows = connection.execute(select(table.c.connector, table.c.started_at)
                                      .where(table.c.status == "running")).all()
        return [f"connector {connector} run begun {started.astimezone(TZ):%Y-%m-%d %H:%M} still 'running' at the end"
                for connector, started in rows if started < now - STUCK_AFTER]


def simulate(scenario: Scenario, store_url: str, folder: Path) -> Verdict:
    quiet_logs()
    if Fault.KEPT_EXPORTS not in scenario.faults:
        return Driver(scenario, store_url, folder).run()
    # the cursor's memory of files read, lowered so that a short run outlives it (faults.py)
    with patch.object(dropfolder, "DONE_LIMIT", KEPT_EXPORTS_LIMIT):
        return Driver(scenario, store_url, folder).run()


__all__ = ["TICK", "simulate"]
