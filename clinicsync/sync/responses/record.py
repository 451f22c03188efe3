"""Acting on a reply: find the appointment it answers, record the patient's participation,
tell the clinic about a decline, queue the write-back, and keep opt-outs, all in one
transaction so a retried webhook never half-applies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection, and_, insert, or_, select, tuple_
from sqlalchemy.exc import IntegrityError

from clinicsync.common.types import utcnow
from clinicsync.common.vocabulary import ACTIVE_STATUSES, ReminderStatus
from clinicsync.notifiers.phone import e164
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.answers import PARTICIPATION, apply_answer, own_messages
from clinicsync.sync.reminders.dispatch import lift_opt_out, record_opt_out
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.responses.keywords import Action, interpret
from clinicsync.sync.responses.replies import answer
from clinicsync.sync.store.model import Appointment, Patient, table_of
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import RESPONSES
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.replies import offer_out

A = table_of(Appointment)
P = table_of(Patient)
R = REMINDERS
AWAITING = (None, "needs-action", "tentative")  # participation that still awaits an answer
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
    """The nearest upcoming active appointment of these patients that awaits an answer. Two at
    the same start (one patient booked at one time in two sources) are told apart by source and
    id, never by the order the store happened to save them in: which visit a bare "X" answers must
    not depend on which source a worker polled first after an outage."""
    if not patients:
        return None
    keys = [(p.connector, p.external_id) for p in patients]
    return connection.execute(
        select(A).where(tuple_(A.c.connector, A.c.patient_ref).in_(keys), A.c.start_utc > now,
                        A.c.deleted_at.is_(None), A.c.status.in_(ACTIVE_STATUSES),
                        or_(A.c.participation.is_(None), A.c.participation.in_([a for a in AWAITING if a])))
        .order_by(A.c.start_utc, A.c.connector, A.c.external_id).limit(1)).first()


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
                # a waiting patient answering an offer's text: the link takes the slot
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


def _last_reminder(connection: Connection, appointment: Any, channel: str) -> int | None:
    """The message the answer is put on: the last that went to the patient who answered."""
    found = connection.execute(select(R.c.id).where(and_(
        *own_messages(appointment.id, appointment.patient_ref), R.c.status.in_((ReminderStatus.SENT,
                                                                                ReminderStatus.DELIVERED)),
        R.c.channel == channel)).order_by(R.c.sent_at.desc(), R.c.id.desc()).limit(1)).scalar()
    return int(found) if found is not None else None


def _answer_key(action: str, outcome: str) -> str:
    if outcome == "applied":
        return PARTICIPATION.get(action, "unrecognized")
    return outcome if outcome in ("no_appointment", "opted_out", "opted_in", "help") else "unrecognized"
