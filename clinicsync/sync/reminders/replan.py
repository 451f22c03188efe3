"""Plans follow the settings. The reminder settings a plan is made from (offsets, per-type
overrides, confirmation, quiet hours, min_lead, channels) are fingerprinted, and the
fingerprint the pending plans were made with is stored (table `reminder_plan`). When they
differ, every appointment still ahead is re-planned before anything else is planned or sent:

- a pending reminder at an offset no longer wanted, or a pending confirmation its type no
  longer wants, is cancelled with reason `settings changed`;
- a wanted offset with no row is planned (one cancelled by an earlier change comes back);
  an offset whose time has already passed is not planned at all;
- a pending row not yet due is placed again (new quiet hours, new min_lead); one waiting out
  the backoff of a refused send keeps its time.

Rows already sent, skipped or failed are never touched, and no confirmation is added for an
old booking. Each step is idempotent, so a crash half-way only means the next pass redoes
it. When the fingerprint matches, the cost is one row read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson
import structlog
from sqlalchemy import Connection, and_, bindparam, select, update

from clinicsync.common.hashing import content_hash
from clinicsync.common.types import utcnow
from clinicsync.common.vocabulary import ACTIVE_STATUSES, UNDER_WAY_STATUSES, ReminderStatus
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.reminders import RemindersSettings
from clinicsync.sync.reminders.planned_rows import PLANNED, PlanReport, insert_new, reminder_key
from clinicsync.sync.reminders.planner import (
    CONSUMER,
    Rules,
    appointment_item,
    placed_again,
)
from clinicsync.sync.reminders.rows import PLANNED_FROM
from clinicsync.sync.reminders.timing import Slot, due_for_offset, place
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.runs.setaside import isolated_parts
from clinicsync.sync.store.db import insert_ignoring_duplicates
from clinicsync.sync.store.outbox import claim_offset
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import APPOINTMENTS, PLANS, REMINDERS

SETTINGS_CHANGED = "settings changed"
PLAN_NAME = "patients"
CHUNK = 2000  # appointments per transaction
R = REMINDERS
log = structlog.get_logger("clinicsync.reminders")


@dataclass
class ReplanReport:
    appointments: int = 0
    cancelled: int = 0
    planned: int = 0
    moved: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def fingerprint(config: RemindersSettings, settings: Settings | None = None) -> tuple[str, dict[str, Any]]:
    basis = config.plan_basis()
    own = {key: [site.quiet_hours.start.isoformat(), site.quiet_hours.end.isoformat()]
           for key, site in (settings.sites if settings is not None else {}).items() if site.quiet_hours}
    if own:  # only then: a file without sites keeps its fingerprint (no re-plan on upgrade)
        basis["site_quiet_hours"] = own
    return content_hash(basis), basis


def follow_settings(config: RemindersSettings, store: Store, now: datetime,
                    report: PlanReport | None = None, settings: Settings | None = None) -> ReplanReport | None:
    """Re-plan the pending plans if the settings changed since they were made; None if not.
    ``settings``: with `sites:`, the sites' own quiet hours are part of the plan's settings."""
    current, basis = fingerprint(config, settings)
    with store.engine.connect() as connection:
        stored = connection.execute(select(PLANS).where(PLANS.c.name == PLAN_NAME)).first()
        if stored is not None and stored.fingerprint == current:
            return None
        if stored is None and connection.execute(select(R.c.id).where(
                R.c.status == ReminderStatus.PENDING, R.c.recipient == "patient").limit(1)).first() is None:
            _record(store, current, basis)  # nothing planned yet: these settings are the plan's
            return None
    before = orjson.loads(stored.basis) if stored is not None and stored.basis else {}
    changed = sorted(key for key in basis if before.get(key) != basis[key])
    result = ReplanReport()
    rules = Rules.of(settings) if settings is not None else Rules(config)
    after = 0
    while True:
        with writer(store.engine) as connection:
            claim_offset(connection, CONSUMER)  # one planner at a time (row lock / SQLite write lock)
            rows = connection.execute(
                select(*PLANNED_FROM).where(
                    APPOINTMENTS.c.id > after, APPOINTMENTS.c.start_utc > now, APPOINTMENTS.c.deleted_at.is_(None),
                    APPOINTMENTS.c.status.in_(sorted(ACTIVE_STATUSES - UNDER_WAY_STATUSES)),
                    APPOINTMENTS.c.patient_ref.is_not(None))
                .order_by(APPOINTMENTS.c.id).limit(CHUNK)).all()
            if not rows:
                break
            _Replan(connection, rules, now, result).run(rows)
            after = rows[-1].id
    _record(store, current, basis)
    if report is not None:
        report.cancelled += result.cancelled
        report.planned += result.planned
        report.skipped += result.skipped
        report.replanned += result.appointments
    log.info("reminders.replanned", changed=changed, **result.as_dict())
    return result


def _record(store: Store, current: str, basis: dict[str, Any], name: str = PLAN_NAME) -> None:
    values = {"fingerprint": current, "basis": orjson.dumps(basis).decode(), "updated_at": utcnow()}
    with writer(store.engine) as connection:
        if not connection.execute(update(PLANS).where(PLANS.c.name == name).values(**values)).rowcount:
            connection.execute(insert_ignoring_duplicates(connection, PLANS).values(name=name, **values))


def settings_changed(store: Store, name: str, basis: dict[str, Any]) -> bool:
    """Whether ``basis`` differs from what was last recorded under ``name`` (or none was);
    call ``record_settings`` once what depends on it is done. One row read when unchanged."""
    with store.engine.connect() as connection:
        stored = connection.execute(select(PLANS.c.fingerprint).where(PLANS.c.name == name)).scalar()
    return stored != content_hash(basis)


def record_settings(store: Store, name: str, basis: dict[str, Any]) -> None:
    _record(store, content_hash(basis), basis, name)


_PARTS = ("cancel", "skip", "move", "revive", "rows")  # what _Replan collects per appointment


class _Replan:
    """One chunk of appointments: what to cancel, skip, move, revive and insert."""

    def __init__(self, connection: Connection, rules: Rules, now: datetime, report: ReplanReport) -> None:
        self.connection = connection
        self.rules = rules
        self.now = now
        self.report = report
        self.cancel: dict[int, str] = {}
        self.skip: dict[int, str] = {}
        self.move: dict[int, Slot] = {}
        self.revive: dict[int, Slot] = {}
        self.rows: dict[str, tuple[Any, ...]] = {}

    def run(self, appointments: Sequence[Any]) -> None:
        grouped = self._group([a.id for a in appointments])
        for a in appointments:  # one that cannot be re-planned is set aside; the rest go on
            with isolated_parts(self.connection, appointment_item(a), self, _PARTS, self.now):
                self._appointment(a, grouped.get(a.id, []))
        self.report.appointments += len(appointments)
        self._apply({row.key for rows in grouped.values() for row in rows})

    def _group(self, ids: list[int]) -> dict[int, list[Any]]:
        grouped: dict[int, list[Any]] = defaultdict(list)
        for start in range(0, len(ids), 500):
            for row in self.connection.execute(
                    select(R.c.id, R.c.appointment_id, R.c.key, R.c.kind, R.c.offset, R.c.status, R.c.reason,
                           R.c.starts_at, R.c.due_at, R.c.note)
                    .where(R.c.appointment_id.in_(ids[start:start + 500]), R.c.recipient == "patient")):
                grouped[row.appointment_id].append(row)
        return grouped

    def _appointment(self, a: Any, rows: list[Any]) -> None:
        wanted = {offset.label: offset for offset in self.rules.offsets_for(a.type)}
        latest = a.start_utc - self.rules.lead
        for row in rows:
            if row.status != ReminderStatus.PENDING:
                continue
            offset = None
            if row.kind == "reminder":
                if row.starts_at != a.start_utc:
                    continue  # planned for an old start: the move's own cancellation handles it
                offset = wanted.get(row.offset)
                if offset is None:
                    self.cancel[row.id] = SETTINGS_CHANGED
                    continue
            elif row.kind == "confirmation" and not self.rules.confirms(a.type):
                self.cancel[row.id] = SETTINGS_CHANGED
                continue
            # not due yet, or a notice held back by quiet hours: placed again by the new settings
            slot = placed_again(row, a, self.rules, self.now, offset)
            if slot is not None:
                self._place(row, slot)
        covered = {r.offset for r in rows if r.kind == "reminder" and r.starts_at == a.start_utc
                   and r.status != ReminderStatus.CANCELLED}
        keys = {r.key: r for r in rows}
        for label, offset in wanted.items():
            if label in covered:
                continue
            due = due_for_offset(a.start_utc, a.timezone, offset)
            slot = place(due, now=self.now, latest=latest, zone_name=a.timezone,
                         quiet=self.rules.quiet_of(a.connector))
            if slot.due is None:
                continue  # its time has passed: a new offset is not planned backwards
            key = reminder_key(a.id, "patient", "reminder", label, a.version)
            old = keys.get(key)
            if old is None:
                self.rows[key] = (key, a.id, a.connector, "patient", a.patient_ref, "reminder", label, a.version,
                                  a.start_utc, slot.due, PLANNED, None, slot.note, None, "", 0, self.now, self.now)
            elif old.status == ReminderStatus.CANCELLED and old.reason == SETTINGS_CHANGED:
                self.revive[old.id] = slot

    def _place(self, row: Any, slot: Slot) -> None:
        if slot.due is None:
            self.skip[row.id] = slot.reason or "too late"
        elif slot.due != row.due_at or slot.note != row.note:
            self.move[row.id] = slot

    def _apply(self, known: set[str]) -> None:
        connection, now = self.connection, self.now
        pending = and_(R.c.id == bindparam("_id"), R.c.status == ReminderStatus.PENDING)
        for status, reasons, counter in ((ReminderStatus.CANCELLED, self.cancel, "cancelled"),
                                         (ReminderStatus.SKIPPED, self.skip, "skipped")):
            if reasons:
                done = connection.execute(
                    update(R).where(pending).values(status=status, reason=bindparam("_reason"), updated_at=now),
                    [{"_id": i, "_reason": reason} for i, reason in reasons.items()]).rowcount
                setattr(self.report, counter, getattr(self.report, counter) + int(done or 0))
        if self.move:
            done = connection.execute(
                update(R).where(pending).values(due_at=bindparam("_due"), note=bindparam("_note"), updated_at=now),
                [{"_id": i, "_due": s.due, "_note": s.note} for i, s in self.move.items()]).rowcount
            self.report.moved += int(done or 0)
        if self.revive:
            done = connection.execute(
                update(R).where(R.c.id == bindparam("_id"), R.c.status == ReminderStatus.CANCELLED,
                                R.c.reason == SETTINGS_CHANGED)
                .values(status=ReminderStatus.PENDING, reason=None, due_at=bindparam("_due"), note=bindparam("_note"),
                        updated_at=now),
                [{"_id": i, "_due": s.due, "_note": s.note} for i, s in self.revive.items()]).rowcount
            self.report.planned += int(done or 0)
        if self.rows:
            counts = PlanReport()
            insert_new(connection, self.rows, counts, known)
            self.report.planned += counts.planned
