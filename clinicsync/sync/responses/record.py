"""Acting on a reply: find the appointment it answers, record the patient's participation,
tell the clinic about a decline, queue the write-back, and keep opt-outs, all in one
transaction so a retried webhook never half-applies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Connection, and_, insert, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from clinicsync.common.types import utcnow
from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.notifiers.phone import e164
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.answered import DECLINED_REASON
from clinicsync.sync.reminders.dispatch import lift_opt_out, record_opt_out
from clinicsync.sync.reminders.doctor_values import desk_note
from clinicsync.sync.reminders.planner import reminder_key
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.responses.keywords import Action, interpret
from clinicsync.sync.responses.replies import answer
from clinicsync.sync.store.model import Appointment, Patient
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import RESPONSES, WRITEBACKS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.replies import offer_out

A = Appointment.__table__  # type: ignore[attr-defined]
P = Patient.__table__  # type: ignore[attr-defined]
R = REMINDERS
AWAITING = (None, "needs-action", "tentative")  # participation that still awaits an answer
PARTICIPATION = {"confirm": "accepted", "decline": "declined"}
log = structlog.get_logger("clinicsync.responses")


@dataclass(frozen=True)
class ReplyResult:
    action: Action
    outcome: str
    language: str | None
    appointment_id: int | None
    answer: str  # what we say back, in the patient's language


def phone_address(sender: str) -> str | None:
    """The E.164 number a reply came from (``whatsapp:`` prefix dropped), None if it is no number."""
    try:
        return e164(sender)
    except ValueError:
        return None


def _patients(connection: Connection, phone: str) -> list[Any]:
    return list(connection.execute(select(P.c.connector, P.c.external_id, P.c.language).where(P.c.phone == phone)))


def awaiting_appointment(connection: Connection, patients: list[Any], now: datetime) -> Any | None:
    """The nearest upcoming active appointment of these patients that awaits an answer."""
    if not patients:
        return None
    keys = [(p.connector, p.external_id) for p in patients]
    return connection.execute(
        select(A).where(tuple_(A.c.connector, A.c.patient_ref).in_(keys), A.c.start_utc > now,
                        A.c.deleted_at.is_(None), A.c.status.in_(ACTIVE_STATUSES),
                        or_(A.c.participation.is_(None), A.c.participation.in_([a for a in AWAITING if a])))
        .order_by(A.c.start_utc, A.c.id).limit(1)).first()


def apply_answer(connection: Connection, settings: Settings, appointment: Any, action: Action,
                 now: datetime, *, from_source: bool = False, desk_action: int | None = None,
                 desk_reason: str | None = None) -> None:
    """Record accepted/declined on the appointment and everything that follows from it.
    ``from_source``: the source itself recorded it (a desk confirmation), so it is neither
    written back nor announced to the doctor — the clinic's own system already shows it.
    ``desk_action``: the front desk recorded it (sync/ui/desk_actions.py, that action's id), with
    ``desk_reason`` (staff words): a decline is then the desk's cancel, the doctor's notice says
    so and its key names the action, so the same cancel taken again after an undo is a notice
    of its own rather than the withdrawn one."""
    status = PARTICIPATION[action]
    connection.execute(update(A).where(A.c.id == appointment.id).values(participation=status, participation_at=now))
    config = settings.responses
    if status == "declined":
        if config.cancel_reminders_on_decline:  # the answering patient's own: a notice owed to a
            connection.execute(update(R).where(  # patient who had the visit before still goes
                *_own_messages(appointment.id, appointment.patient_ref), R.c.status == "pending").values(
                status="cancelled", reason=DECLINED_REASON, updated_at=now))
        if config.notify_practitioner and appointment.practitioner_ref and not from_source:
            _notify_practitioner(connection, appointment, now, desk_action,
                                 desk_note(desk_reason) if desk_action is not None else None)
    if config.writeback and not from_source:
        connection.execute(insert(WRITEBACKS).values(
            appointment_id=appointment.id, connector=appointment.connector, external_id=appointment.external_id,
            patient_ref=appointment.patient_ref, participant_status=status,
            appointment_status="cancelled" if status == "declined" and config.decline_cancels else None,
            status="pending", attempts=0, next_at=now, created_at=now))


def declined_notice_key(appointment: Any, desk_action: int | None) -> str:
    """The key of the doctor's `declined` notice: the visit's version, and the desk action it
    belongs to when the desk cancelled (a patient's decline has one per version)."""
    return reminder_key(appointment.id, "practitioner", "declined",
                        f"desk{desk_action}" if desk_action is not None else None, appointment.version)


def doctors_last_word(connection: Connection, appointment: Any) -> Any | None:
    """The doctor's last notice standing on this version of the visit (``declined`` or a
    "booked" ``confirmation``, not withdrawn): what the doctor was, or is about to be, told."""
    return connection.execute(select(R.c.id, R.c.kind, R.c.status, R.c.key).where(
        R.c.appointment_id == appointment.id, R.c.recipient == "practitioner", R.c.version == appointment.version,
        R.c.kind.in_(("declined", "confirmation")), R.c.status != "cancelled").order_by(R.c.id.desc()).limit(1)).first()


def _notify_practitioner(connection: Connection, appointment: Any, now: datetime, desk_action: int | None,
                         note: str | None) -> None:
    """A `declined` notice to the doctor, sent by the reminders dispatcher like any other, so
    that the doctor's last word on this version of the visit is that it is off. A "booked
    again" notice of an undone cancel still unsent is withdrawn (the doctor hears only the
    final state); nothing new is planned when the last notice standing already says declined
    (a desk cancel after the patient's own decline, or after an undo whose "booked again" was
    withdrawn before it went). ``note`` records a desk's cancel (doctor_values.desk_note)."""
    mine = (R.c.appointment_id == appointment.id, R.c.recipient == "practitioner", R.c.version == appointment.version)
    connection.execute(update(R).where(*mine, R.c.kind == "confirmation", R.c.status == "pending",
                                       R.c.key.like(f"a{appointment.id}:practitioner:confirmation:undo%")).values(
        status="cancelled", reason="cancelled again by the desk", updated_at=now))
    last = doctors_last_word(connection, appointment)
    key = declined_notice_key(appointment, desk_action)
    if last is not None and last.kind == "declined":
        return
    if connection.execute(select(R.c.id).where(R.c.key == key)).first() is not None:  # a withdrawn one: it stays so
        return
    connection.execute(insert(R).values(
        key=key, appointment_id=appointment.id, connector=appointment.connector, recipient="practitioner",
        recipient_ref=appointment.practitioner_ref, kind="declined", version=appointment.version,
        starts_at=appointment.start_utc, due_at=now, status="pending", note=note, tried="", attempts=0,
        created_at=now, updated_at=now))


def handle_reply(settings: Settings, store: Store, channel: str, sender: str, body: str,
                 provider_id: str | None = None, now: datetime | None = None) -> ReplyResult:
    """Interpret and act on one inbound SMS/WhatsApp reply; a provider id seen before is a no-op."""
    now = now or utcnow()
    phone = phone_address(sender)
    with writer(store.engine) as connection:
        if provider_id:
            seen = connection.execute(select(RESPONSES).where(RESPONSES.c.provider_id == provider_id)).first()
            if seen is not None:
                return ReplyResult(seen.action, "duplicate", seen.language, seen.appointment_id,
                                   answer(_answer_key(seen.action, seen.outcome), seen.language))
        patients = _patients(connection, phone) if phone else []
        own = next((p for p in patients if p.language), patients[0] if patients else None)
        # their site's language when the patient has none (the clinic's without `sites:`)
        language = settings.clinic_for(own.connector if own is not None else None).speaks(
            own.language if own is not None else None)
        action = interpret(body, language)
        appointment_id: int | None = None
        reminder_id: int | None = None
        offered = False
        if action in PARTICIPATION:
            appointment = awaiting_appointment(connection, patients, now) if settings.responses.enabled else None
            if appointment is None:
                outcome = "no_appointment"
                # a waiting patient answering an offer's text: the link takes the slot (issue 33)
                offered = action == "confirm" and offer_out(connection, patients)
            else:
                outcome, appointment_id = "applied", appointment.id
                reminder_id = _last_reminder(connection, appointment, channel)
                apply_answer(connection, settings, appointment, action, now)
        elif action == "opt_out" and phone:
            outcome = "opted_out"
            record_opt_out(connection, channel, phone, "reply", now)
        elif action == "opt_in" and phone:
            outcome = "opted_in"
            lift_opt_out(connection, channel, phone)
        elif action == "help":
            outcome = "help"
        else:
            outcome = "unrecognized"
        try:
            connection.execute(insert(RESPONSES).values(
                channel=channel, sender=phone or sender[:320], body=body, language=language, action=action,
                outcome=outcome, appointment_id=appointment_id, reminder_id=reminder_id,
                provider_id=provider_id, received_at=now))
        except IntegrityError:  # the same message, recorded by a concurrent retry
            connection.rollback()
            return ReplyResult(action, "duplicate", language, appointment_id,
                               answer(_answer_key(action, outcome), language))
    log.info("responses.reply", channel=channel, action=action, outcome=outcome, appointment_id=appointment_id)
    key = "offer_link" if offered else _answer_key(action, outcome)
    return ReplyResult(action, outcome, language, appointment_id, answer(key, language))


def _own_messages(appointment_id: int, patient_ref: str | None) -> tuple[ColumnElement[bool], ...]:
    """The messages about this appointment planned for the patient who has it now. A visit
    the source gave to another patient keeps the first patient's rows (docs/reminders.md):
    what the patient who has it now says or does must not touch them."""
    return R.c.appointment_id == appointment_id, R.c.recipient == "patient", R.c.recipient_ref == patient_ref


def _last_reminder(connection: Connection, appointment: Any, channel: str) -> int | None:
    """The message the answer is put on: the last that went to the patient who answered."""
    found = connection.execute(select(R.c.id).where(and_(
        *_own_messages(appointment.id, appointment.patient_ref), R.c.status.in_(("sent", "delivered")),
        R.c.channel == channel)).order_by(R.c.sent_at.desc(), R.c.id.desc()).limit(1)).scalar()
    return int(found) if found is not None else None


def _answer_key(action: str, outcome: str) -> str:
    if outcome == "applied":
        return PARTICIPATION.get(action, "unrecognized")
    return outcome if outcome in ("no_appointment", "opted_out", "opted_in", "help") else "unrecognized"
