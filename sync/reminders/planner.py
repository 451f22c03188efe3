"""Planning: turns outbox events into Reminder rows, in the same transaction as the
consumer's offset, so a crash never loses or repeats planning.

Per appointment the events of a read are reconciled against its current state:
- booked (created active, or reactivated): a confirmation, and reminders at the offsets;
- moved (rescheduled): pending reminders for the old start are cancelled, the offsets are
  planned for the new start, and a reschedule notice goes unless an unsent confirmation or
  notice is still pending (it renders the current time anyway);
- cancelled or deleted: everything pending for the patient is cancelled and one
  cancellation notice goes (none when the booking and its cancellation arrive together).
Every row has a unique key, so planning the same events twice plans nothing new.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, and_, bindparam, insert, select, update

from mappings.model import ACTIVE_STATUSES
from mappings.timeutil import zone
from sync.model import Appointment, Practitioner
from sync.outbox import OutboxEvent, advance, claim_offset, read_events
from sync.reminders.model import REMINDERS
from sync.reminders.settings import RemindersSettings
from sync.reminders.timing import Slot, due_for_offset, place, wall_clock
from sync.reminders.txn import writer
from sync.settings import Settings
from sync.store import Store
from sync.types import utcnow

CONSUMER = "reminders"
READ_LIMIT = 500
NOTICES = ("confirmation", "rescheduled")
APPOINTMENTS = Appointment.__table__  # type: ignore[attr-defined]
PRACTITIONERS = Practitioner.__table__  # type: ignore[attr-defined]
log = structlog.get_logger("clinicsync.reminders")


@dataclass
class PlanReport:
    planned: int = 0
    skipped: int = 0
    cancelled: int = 0
    events: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def reminder_key(appointment_id: int, recipient: str, kind: str, offset: str | None, version: int) -> str:
    return ":".join([f"a{appointment_id}", recipient, kind, *([offset] if offset else []), f"v{version}"])


def agenda_key(connector: str, practitioner_ref: str, day: date) -> str:
    return f"agenda:{connector}:{practitioner_ref}:{day.isoformat()}"


class _Chunk:
    """Plans one read of events; collects the rows to insert and the ids to cancel."""

    def __init__(self, connection: Connection, settings: Settings, now: datetime) -> None:
        self.connection = connection
        self.config: RemindersSettings = settings.reminders
        self.now = now
        self.rows: dict[str, dict[str, Any]] = {}
        self.cancel: dict[int, str] = {}

    def plan(self, events: list[OutboxEvent]) -> None:
        grouped: dict[int, list[OutboxEvent]] = defaultdict(list)
        for event in events:
            grouped[event.appointment_id].append(event)
        ids = list(grouped)
        appointments = {r.id: r for r in self.connection.execute(
            select(APPOINTMENTS).where(APPOINTMENTS.c.id.in_(ids)))}
        existing: dict[int, list[Any]] = defaultdict(list)
        for row in self.connection.execute(
                select(REMINDERS.c.id, REMINDERS.c.appointment_id, REMINDERS.c.recipient, REMINDERS.c.kind,
                       REMINDERS.c.offset, REMINDERS.c.status, REMINDERS.c.starts_at)
                .where(REMINDERS.c.appointment_id.in_(ids))):
            existing[row.appointment_id].append(row)
        for appointment_id, group in grouped.items():
            appointment = appointments.get(appointment_id)
            if appointment is not None:
                self._appointment(appointment, group, existing[appointment_id])

    def _appointment(self, a: Any, events: list[OutboxEvent], existing: list[Any]) -> None:
        kinds = {e.kind for e in events}
        booked = "created" in kinds or any(e.kind == "updated" and e.payload.get("reactivated") for e in events)
        moved = "rescheduled" in kinds
        active = a.deleted_at is None and a.status in ACTIVE_STATUSES
        pending = [r for r in existing if r.recipient == "patient" and r.status == "pending"]
        if a.patient_ref:
            if not active:
                if kinds & {"cancelled", "deleted", "noshow"}:
                    reason = "no-show" if a.status == "noshow" else "appointment cancelled"
                    for row in pending:
                        self.cancel[row.id] = reason
                    if kinds & {"cancelled", "deleted"} and "created" not in kinds:
                        self._notice(a, "cancelled")
            elif booked or moved:
                self._replan(a, booked, pending, existing)
        if self.config.agenda.same_day_changes and a.practitioner_ref:
            self._same_day(a, events)

    def _replan(self, a: Any, booked: bool, pending: list[Any], existing: list[Any]) -> None:
        for row in pending:
            if row.kind == "reminder" and row.starts_at != a.start_utc:
                self.cancel[row.id] = "appointment moved"
        notice_pending = any(r.kind in NOTICES for r in pending)
        if booked and not notice_pending and self.config.confirms(a.type):
            self._notice(a, "confirmation")
        elif not booked and not notice_pending:
            self._notice(a, "rescheduled")
        covered = {r.offset for r in existing if r.recipient == "patient" and r.kind == "reminder"
                   and r.starts_at == a.start_utc and r.status != "cancelled"}
        latest = a.start_utc - self.config.lead
        for offset in self.config.offsets_for(a.type):
            if offset.label in covered:
                continue
            due = due_for_offset(a.start_utc, a.timezone, offset)
            slot = place(due, now=self.now, latest=latest, zone_name=a.timezone, quiet=self.config.quiet_hours)
            self._add(a, "patient", a.patient_ref, "reminder", offset.label, slot, fallback_due=due)

    def _notice(self, a: Any, kind: str) -> None:
        slot = place(self.now, now=self.now, latest=a.start_utc, zone_name=a.timezone,
                     quiet=self.config.quiet_hours)
        self._add(a, "patient", a.patient_ref, kind, None, slot, fallback_due=self.now)

    def _same_day(self, a: Any, events: list[OutboxEvent]) -> None:
        last = events[-1]
        kind = {"created": "confirmation", "rescheduled": "rescheduled", "cancelled": "cancelled",
                "deleted": "cancelled"}.get(last.kind)
        if kind is None:
            return
        today = self.now.astimezone(zone(a.timezone)).date()
        starts = [a.start_utc]
        previous = (last.payload.get("previous") or {}).get("start")
        if previous:
            starts.append(datetime.fromisoformat(previous.replace("Z", "+00:00")))
        if any(s.astimezone(zone(a.timezone)).date() == today and s > self.now for s in starts):
            self._add(a, "practitioner", a.practitioner_ref, kind, None, Slot(self.now), fallback_due=self.now)

    def _add(self, a: Any, recipient: str, ref: str, kind: str, offset: str | None, slot: Slot,
             fallback_due: datetime) -> None:
        key = reminder_key(a.id, recipient, kind, offset, a.version)
        self.rows[key] = {
            "key": key, "appointment_id": a.id, "connector": a.connector, "recipient": recipient,
            "recipient_ref": ref, "kind": kind, "offset": offset, "version": a.version,
            "starts_at": a.start_utc, "due_at": slot.due or fallback_due,
            "status": "pending" if slot.due else "skipped", "reason": slot.reason, "note": slot.note,
            "tried": "", "attempts": 0, "created_at": self.now, "updated_at": self.now,
        }


def _insert_new(connection: Connection, rows: dict[str, dict[str, Any]], report: PlanReport) -> None:
    if not rows:
        return
    keys = list(rows)
    known: set[str] = set()
    for start in range(0, len(keys), 500):
        known.update(connection.execute(
            select(REMINDERS.c.key).where(REMINDERS.c.key.in_(keys[start:start + 500]))).scalars())
    new = [row for key, row in rows.items() if key not in known]
    if new:
        connection.execute(insert(REMINDERS), new)
    report.planned += sum(1 for r in new if r["status"] == "pending")
    report.skipped += sum(1 for r in new if r["status"] == "skipped")


def _cancel(connection: Connection, cancel: dict[int, str], now: datetime) -> int:
    if not cancel:
        return 0
    result = connection.execute(
        update(REMINDERS).where(and_(REMINDERS.c.id == bindparam("_id"), REMINDERS.c.status == "pending"))
        .values(status="cancelled", reason=bindparam("_reason"), updated_at=now),
        [{"_id": i, "_reason": reason} for i, reason in cancel.items()])
    return int(result.rowcount or 0)


def plan_agendas(connection: Connection, settings: Settings, now: datetime, report: PlanReport) -> None:
    """Each doctor with an email and appointments today or tomorrow (clinic time) gets that day's agenda."""
    agenda = settings.reminders.agenda
    if not agenda.enabled:
        return
    clinic_zone = settings.clinic.timezone
    today = now.astimezone(zone(clinic_zone)).date()
    rows: dict[str, dict[str, Any]] = {}
    for day in (today, today + timedelta(days=1)):
        begin = wall_clock(day, datetime.min.time(), clinic_zone)
        end = wall_clock(day + timedelta(days=1), datetime.min.time(), clinic_zone)
        doctors = connection.execute(
            select(APPOINTMENTS.c.connector, APPOINTMENTS.c.practitioner_ref).distinct()
            .join(PRACTITIONERS, and_(PRACTITIONERS.c.connector == APPOINTMENTS.c.connector,
                                      PRACTITIONERS.c.external_id == APPOINTMENTS.c.practitioner_ref))
            .where(APPOINTMENTS.c.start_utc >= begin, APPOINTMENTS.c.start_utc < end,
                   APPOINTMENTS.c.deleted_at.is_(None), APPOINTMENTS.c.status.in_(ACTIVE_STATUSES),
                   PRACTITIONERS.c.email.is_not(None))).all()
        due = wall_clock(day, agenda.at, clinic_zone)
        for connector, ref in doctors:
            key = agenda_key(connector, ref, day)
            rows[key] = {
                "key": key, "appointment_id": None, "connector": connector, "recipient": "practitioner",
                "recipient_ref": ref, "kind": "agenda", "offset": day.isoformat(), "version": 0,
                "starts_at": begin, "due_at": due, "status": "pending", "reason": None, "note": None,
                "channel": "email", "tried": "", "attempts": 0, "created_at": now, "updated_at": now,
            }
    _insert_new(connection, rows, report)


def plan(settings: Settings, store: Store, now: datetime | None = None) -> PlanReport:
    """Consume every unread event, then plan the doctors' agendas."""
    report = PlanReport()
    if not settings.reminders.enabled:
        return report
    now = now or utcnow()
    while True:
        with writer(store.engine) as connection:
            offset = claim_offset(connection, CONSUMER)
            events = read_events(connection, offset, READ_LIMIT)
            if not events:
                break
            chunk = _Chunk(connection, settings, now)
            chunk.plan(events)
            report.cancelled += _cancel(connection, chunk.cancel, now)
            _insert_new(connection, chunk.rows, report)
            advance(connection, CONSUMER, events[-1].id)
            report.events += len(events)
    with writer(store.engine) as connection:
        plan_agendas(connection, settings, now, report)
    log.info("reminders.planned", **report.as_dict())
    return report


def planning_stage(settings: Settings, store: Store, run_id: str) -> dict[str, Any]:
    """The `reminders` stage of `sync --once`."""
    return dict(plan(settings, store).as_dict())
