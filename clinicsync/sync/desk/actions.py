"""Recording what the front desk did about an appointment: confirmed
by phone, left a message, no-show, came in, cancel, reschedule request handled, and taking one
back within a few minutes.

A confirmation or a cancellation is the patient's answer given by phone, so it goes the way
every answer goes (sync/responses/record.py ``apply_answer``): the appointment's answer,
the patient's pending reminders, the doctor's notice and the write-back outbox, which the
write-back stage hands to the source where it takes answers (sync/responses/writeback.py).
A source that does not (a CSV export) is not changed: the action's ``source`` says
``by_hand`` and the page says what to do there. Each action is one desk_action row with who
and when, written in the same transaction as what it did.

Bound to what the desk saw: every form carries ``seen``, a digest of the visit as
the page was drawn (its version, status, start, answer and the desk's actions on it). The
action locks the appointment row (``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` serializes
writers), recomputes the digest and is refused when it differs: a visit the source moved,
a patient's answer, or another desk's action meanwhile. Of two desks acting at once one
wins and the other is told. An action that no longer fits the visit's moment (a cancel after
the start, a no-show before it, anything on a cancelled visit) is refused too."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from clinicsync.common.vocabulary import ACTIVE_STATUSES, ReminderStatus
from clinicsync.common.waitlist_states import SlotStatus
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.desk.doctor_word import cancel_undone, confirmation_undone, tell_doctor_confirmed
from clinicsync.sync.desk.sources import CLOSING, OPEN_AT_START, source_kind, writes_back
from clinicsync.sync.desk.writeback_undo import restore_writeback
from clinicsync.sync.reminders.answered import DECLINED_REASON
from clinicsync.sync.reminders.answers import apply_answer
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.responses.history import CANCEL_REASONS, DESK_TRACE, DESK_WORDS
from clinicsync.sync.responses.keywords import Action
from clinicsync.sync.store.model import Appointment, Patient, table_of
from clinicsync.sync.store.model.desk import DESK_ACTIONS, DESK_ACTIONS_KINDS
from clinicsync.sync.store.model.joins import with_people
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import RESPONSES, WRITEBACKS
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_OFFERS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.accept import ANSWERABLE

A = table_of(Appointment)
P = table_of(Patient)
DK, RM = DESK_ACTIONS, REMINDERS
LABELS = DESK_WORDS
BUTTONS = {"confirmed_by_phone": "Confirmed by phone", "left_message": "Left a message", "no_show": "No-show",
           "cancel": "Cancel visit…", "reschedule_handled": "Reschedule handled", "arrived": "Came in"}
ANSWERS: dict[str, Action] = {"confirmed_by_phone": "confirm", "cancel": "decline"}
UNDO_WINDOW = timedelta(minutes=10)  # an action can be taken back this long after it was recorded
NO_SHOW_GRACE = timedelta(days=3)  # a no-show or came-in is recorded up to this long after the start
AT_VISIT = ("arrived", "no_show")  # the actions of a visit that has started; every other one is before it


class UnknownAction(ValueError):
    """Not one of DESK_ACTIONS_KINDS (a hand-made post)."""


class ReasonNeeded(ValueError):
    """A cancel posted without one of CANCEL_REASONS: the confirm step asks for it."""


class Refused(Exception):
    """The action was not recorded: ``why`` in words for the desk (no patient data)."""

    def __init__(self, why: str, changed: bool = False) -> None:
        super().__init__(why)
        self.why, self.changed = why, changed


@dataclass(frozen=True)
class Seen:
    """One appointment as the page drew it: its digest, for the form's ``seen`` field, and the
    desk's actions on it that still stand (not undone), oldest first."""

    digest: str
    standing: tuple[str, ...]


def _digest(appointment: Any, actions: Iterable[Any]) -> str:
    """The visit as the desk saw it: its row and the desk's steps on it (a waitlist task's
    answer kept on its row is the booking's, not the visit's: the "Recorded … Undo" line drawn
    after a cancel still holds once the desk books the waiting patient into the time)."""
    parts = [appointment.version, appointment.status, appointment.start_utc.isoformat(),
             appointment.participation or "-", appointment.deleted_at is not None]
    parts += [f"{a.id}{'u' if a.undone_at else ''}" for a in actions if a.action in DESK_ACTIONS_KINDS]
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:20]


def _actions(connection: Connection, ids: list[int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = defaultdict(list)
    for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
        for row in connection.execute(select(DK).where(DK.c.appointment_id.in_(chunk)).order_by(DK.c.at, DK.c.id)):
            found[row.appointment_id].append(row)
    return found


def seen_of(store: Store, ids: list[int]) -> dict[int, Seen]:
    """Each appointment's ``Seen``, for the forms of a page about to be drawn."""
    if not ids:
        return {}
    with store.engine.connect() as connection:
        actions = _actions(connection, ids)
        out = {}
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            for a in connection.execute(select(A.c.id, A.c.version, A.c.status, A.c.start_utc, A.c.participation,
                                               A.c.deleted_at).where(A.c.id.in_(chunk))):
                mine = actions.get(a.id, [])
                out[a.id] = Seen(_digest(a, mine), tuple(r.action for r in mine if r.undone_at is None))
    return out


def offered(standing: tuple[str, ...], start_utc: datetime, now: datetime, status: str = "booked",
            reschedule: bool = False, declined: bool = False) -> list[str]:
    """The actions that fit this visit now, the primary first: before the start the phone
    outcomes and cancel (cancel first for a visit the patient or doctor declined, "reschedule
    handled" first for a request); from the start (for NO_SHOW_GRACE) came in and no-show;
    nothing once the desk closed it or it is no longer active."""
    if status not in ACTIVE_STATUSES or any(a in CLOSING for a in standing):
        return []
    if now >= start_utc:
        return list(AT_VISIT) if now <= start_utc + NO_SHOW_GRACE and status in OPEN_AT_START else []
    if declined:
        return ["cancel", "confirmed_by_phone", "left_message", *(["reschedule_handled"] if reschedule else [])]
    if reschedule:
        return ["reschedule_handled", "confirmed_by_phone", "left_message", "cancel"]
    return ["confirmed_by_phone", "left_message", "cancel"]


def why_not(action: str, appointment: Any, standing: tuple[str, ...], now: datetime) -> str | None:
    """Why ``action`` does not fit the visit now (None: it fits), in words for the desk."""
    if appointment.deleted_at is not None:
        return "The visit was removed at the source."
    if appointment.status not in ACTIVE_STATUSES:
        return f"The visit is {appointment.status} at the source: nothing to record."
    closed = next((a for a in standing if a in CLOSING), None)
    if closed is not None:
        return f"The desk already recorded this visit as {LABELS[closed]}: undo that first."
    started = now >= appointment.start_utc
    if action in AT_VISIT:
        if not started:
            return f"{BUTTONS[action]} is recorded once the visit has started, not before."
        if appointment.status not in OPEN_AT_START:
            return f"The source already records the visit as {appointment.status}."
        if now > appointment.start_utc + NO_SHOW_GRACE:
            return f"The visit was more than {NO_SHOW_GRACE.days} days ago: record it in the clinic's system."
        return None
    if started:
        return "The visit has started: only Came in or No-show can be recorded now."
    return None


def source_hint(settings: Settings, connector: str, action: str, source: str, written: str | None = None,
                undone: bool = False) -> str:
    """What became of the action at the source, in words for the desk. ``written``: the status of
    the write-back row linked to the action (None: a row from before the link, said as before)."""
    kind = source_kind(settings, connector)
    if source == "queued":
        where = f"{connector} ({kind})"
        if written == "pending":
            return f"to be written back to {where} at the next run"
        if written == "superseded":
            return (f"withdrawn by its undo before it was written back to {where}" if undone else
                    f"not written back to {where}: a later answer went instead")
        if written == "set_aside":
            return f"not written back to {where}: set aside after an error (clinicsync set-aside list)"
        return f"written back to {where}"
    if action == "cancel":
        return f"still booked in {kind}: cancel it in {kind} too (this source is not written back)"
    if action == "confirmed_by_phone":
        return f"recorded here; {kind} is not written back"
    if action == "no_show":
        return f"mark it as a no-show in {kind} too"
    return ""


def _locked(connection: Connection, appointment_id: int) -> Any | None:
    """The appointment, its row locked until the transaction ends (PostgreSQL, MariaDB: the
    compare-and-set of two desks at once; SQLite's writer already holds the database)."""
    return connection.execute(select(A).where(A.c.id == appointment_id, A.c.deleted_at.is_(None))
                              .with_for_update()).first()


def _check(connection: Connection, appointment: Any, seen: str | None) -> list[Any]:
    actions = _actions(connection, [appointment.id]).get(appointment.id, [])
    if not seen or seen != _digest(appointment, actions):
        raise Refused("This visit changed since your page was drawn (at the source, by the patient or by "
                      "another desk). Nothing was recorded: here it is as it is now.", changed=True)
    return actions


NOTE_MAX = 200  # "another reason" in the desk's words: a sentence, not a record


def record_action(settings: Settings, store: Store, appointment_id: int, action: str, user: str, role: str,
                  now: datetime, seen: str | None = None, reason: str | None = None,
                  note: str | None = None) -> dict[str, Any] | None:
    """Record ``action`` on the visit as the desk saw it (``seen``); None when there is no such
    appointment. Raises Refused (changed meanwhile, or it no longer fits), ReasonNeeded (a
    cancel without its reason). ``note``: the desk's words for "another reason", kept as the
    body of its answer row (shown to the front desk only, never sent to the doctor or logged).
    Returns the row written."""
    if action not in DESK_ACTIONS_KINDS:
        raise UnknownAction(action)
    if action == "cancel" and reason not in CANCEL_REASONS:
        raise ReasonNeeded(action)
    with writer(store.engine) as connection:
        appointment = _locked(connection, appointment_id)
        if appointment is None:
            return None
        actions = _check(connection, appointment, seen)
        refusal = why_not(action, appointment, tuple(a.action for a in actions if a.undone_at is None), now)
        if refusal:
            raise Refused(refusal)
        answer = ANSWERS.get(action)
        source = "none"
        if answer is not None:
            source = "queued" if writes_back(settings, appointment.connector) else "by_hand"
        elif action == "no_show":
            source = "by_hand"
        row = {"appointment_id": appointment.id, "version": appointment.version, "action": action,
               "user": user[:64], "role": role[:16], "source": source, "at": now,
               "reason": reason if action == "cancel" else None, "prior_answer": appointment.participation,
               "prior_answer_at": appointment.participation_at}
        inserted = connection.execute(insert(DK).values(row)).inserted_primary_key
        assert inserted is not None
        action_id = int(inserted[0])
        if answer is not None:
            pending = [r.id for r in connection.execute(select(RM.c.id).where(
                RM.c.appointment_id == appointment.id, RM.c.recipient == "patient",
                RM.c.status == ReminderStatus.PENDING))]
            words = " ".join((note or "").split())[:NOTE_MAX] if action == "cancel" and reason == "other" else ""
            connection.execute(insert(RESPONSES).values(
                channel="desk", sender=user[:320], body=words or None, language=None, action=answer, outcome="applied",
                appointment_id=appointment.id, reminder_id=None, provider_id=f"{DESK_TRACE}{action_id}",
                received_at=now))
            apply_answer(connection, settings, appointment, answer, now, desk_action=action_id,
                         desk_reason=CANCEL_REASONS[reason] if action == "cancel" and reason else None)
            if action == "cancel":
                # The desk cancels the visit, not only the patient's attendance: on its own row, found by
                # its link (a patient's answer queued in the same moment keeps the status it was given).
                connection.execute(update(WRITEBACKS).where(WRITEBACKS.c.desk_action_id == action_id).values(
                    appointment_status="cancelled"))
            if pending:
                cancelled = [r.id for r in connection.execute(select(RM.c.id).where(
                    RM.c.id.in_(pending), RM.c.status == ReminderStatus.CANCELLED))]
                if cancelled:
                    connection.execute(update(DK).where(DK.c.id == action_id).values(
                        cancelled_reminders=",".join(map(str, cancelled))))
            if action == "confirmed_by_phone":
                tell_doctor_confirmed(connection, appointment, action_id, now)
    return {**row, "id": action_id}


def undo_action(settings: Settings, store: Store, action_id: int, user: str, now: datetime,
                seen: str | None) -> int | None:
    """Take back the desk's action ``action_id`` (within UNDO_WINDOW, the visit unchanged since,
    no later action on it) and restore what it changed: the answer as it was, the patient's
    messages it cancelled while the visit is ahead (pending again as they were, one due this
    very minute too: the dispatcher judges what has become late, as for any message), the
    write-back (sync/desk/writeback_undo.py: its own row, found by its link, withdrawn while
    still queued, a patient's write-back it pushed aside pending again, else the answer and
    status as they were queued after it), the doctor's last word
    (sync/desk/doctor_word.py: a notice withdrawn while unsent, else the doctor is told the
    visit is on, or off, again).
    The calendar stage renders the restored answer at its next pass like any other change.
    Returns the appointment's id, None if no such action."""
    with writer(store.engine) as connection:
        target = connection.execute(select(DK).where(DK.c.id == action_id)).first()
        if target is None:
            return None
        appointment = _locked(connection, target.appointment_id)
        if appointment is None:
            raise Refused("The visit was removed at the source: nothing to undo.")
        actions = _check(connection, appointment, seen)
        if target.undone_at is not None:
            raise Refused("This action was already undone.")
        if now - target.at > UNDO_WINDOW:
            raise Refused(f"Undo is offered for {int(UNDO_WINDOW.total_seconds() // 60)} minutes after an action; "
                          "record what happened instead.")
        if target.action not in DESK_ACTIONS_KINDS:  # a waitlist task's answer: book_undo.py takes it back
            raise Refused("This is the answer to a waitlist task: take it back on the Waitlist page.")
        if any(a.id > target.id for a in _visit_stack(actions)):
            raise Refused("A later action was recorded on this visit: undo that one first.")
        if _time_given_away(connection, target):
            raise Refused("The waiting list already has this time (offered or taken): the cancel stands. "
                          "Book the patient again at the source if they still need a visit.")
        connection.execute(update(DK).where(DK.c.id == target.id).values(undone_at=now, undone_by=user[:64]))
        if target.action in ANSWERS:
            _restore_answer(connection, settings, appointment, target, now)
    return int(target.appointment_id)


def _time_given_away(connection: Connection, target: Any) -> bool:
    """Whether undoing the desk's cancel ``target`` would take back a time the waiting list gave
    away: a slot freed on its version that was taken, or is open with an offer still out, one a
    patient can still take it with (sent; or sent and its hold run out, as a late tap still takes
    an open slot nobody took: sync/waitlist/accept.py). An offer answered "No thanks", withdrawn
    (the slot withdrawn before, a row a later cancel opens again keeps those), or never sent
    promises nothing, nor does a slot freed and offered to nobody yet (the waitlist withdraws it
    once the visit holds its time again); nor one whose cancel only put back the patient's own
    decline, which keeps the time free. Any offer ever sent was rejected as the test: a slot
    opened again kept its old answered offers, and refused the Undo with nothing out."""
    if target.action != "cancel" or target.prior_answer == "declined":
        return False
    out = select(WAITLIST_OFFERS.c.id).where(WAITLIST_OFFERS.c.slot_id == FREED_SLOTS.c.id,
                                             WAITLIST_OFFERS.c.sent_at.is_not(None),
                                             WAITLIST_OFFERS.c.status.in_(ANSWERABLE)).exists()
    return connection.execute(select(FREED_SLOTS.c.id).where(
        FREED_SLOTS.c.appointment_id == target.appointment_id, FREED_SLOTS.c.appointment_version == target.version,
        (FREED_SLOTS.c.status == SlotStatus.TAKEN) | ((FREED_SLOTS.c.status == SlotStatus.OPEN) & out))
        .limit(1)).first() is not None


def _restore_answer(connection: Connection, settings: Settings, appointment: Any, target: Any, now: datetime) -> None:
    """The answer as it was before the action, unless the patient answered since (through an
    answer link, after the desk's step): their answer is newer than both and stands."""
    if appointment.participation_at is None or appointment.participation_at <= target.at:
        connection.execute(update(A).where(A.c.id == appointment.id).values(
            participation=target.prior_answer, participation_at=target.prior_answer_at))
    connection.execute(update(RESPONSES).where(RESPONSES.c.provider_id == f"{DESK_TRACE}{target.id}").values(
        outcome="undone"))
    ids = [int(i) for i in (target.cancelled_reminders or "").split(",") if i]
    if ids and now < appointment.start_utc:  # pending again as they were, a notice due this minute too
        connection.execute(update(RM).where(  # (a cancel undone at once): the dispatcher skips what is late
            RM.c.id.in_(ids), RM.c.status == ReminderStatus.CANCELLED, RM.c.reason == DECLINED_REASON,
            RM.c.due_at < appointment.start_utc).values(status=ReminderStatus.PENDING, reason=None, updated_at=now))
    restore_writeback(connection, settings, appointment, target, now)
    if target.action == "cancel":
        cancel_undone(connection, appointment, target, now)
    else:
        confirmation_undone(connection, appointment, target, now)


def actions_of(store: Store, appointment_id: int) -> list[Any]:
    """The desk's actions on one appointment, oldest first (undone ones too: the record)."""
    with store.engine.connect() as connection:
        return _actions(connection, [appointment_id]).get(appointment_id, [])


def _visit_stack(actions: list[Any]) -> list[Any]:
    """The desk's standing actions on the visit itself, oldest first: what its Undo takes back,
    latest first. The desk's answers to a waitlist task (waitlist_booked, …) are kept on the
    freed visit's row too, but they are about the waiting patient's booking, have their own Undo
    (sync/waitlist/book_undo.py) and are not a later step on the visit: counted here, booking a
    waiting patient into a time the visit's patient declined hid the Undo of the desk's cancel
    (which puts that decline back and keeps the time free), and the visit's page offered an Undo
    of the booking that marked its row undone and left the booking as it was."""
    return [a for a in actions if a.undone_at is None and a.action in DESK_ACTIONS_KINDS]


def undoable(actions: list[Any], now: datetime) -> Any | None:
    """The action the page offers to undo: the latest standing one on the visit, within UNDO_WINDOW."""
    standing = _visit_stack(actions)
    return standing[-1] if standing and now - standing[-1].at <= UNDO_WINDOW else None


def undo_offer(store: Store, action_id: int, now: datetime) -> dict[str, Any] | None:
    """The "Recorded … Undo" line after an action: offered while ``action_id`` is the latest
    standing action on its visit and within UNDO_WINDOW; None otherwise."""
    with store.engine.connect() as connection:
        target = connection.execute(select(DK).where(DK.c.id == action_id)).first()
    if target is None:
        return None
    latest = undoable(actions_of(store, target.appointment_id), now)
    if latest is None or latest.id != target.id:
        return None
    with store.engine.connect() as connection:
        if _time_given_away(connection, target):  # the undo would be refused: not offered
            return None
    seen = seen_of(store, [target.appointment_id]).get(target.appointment_id)
    visit = visit_named(store, target.appointment_id)
    if seen is None or visit is None:
        return None
    return {"id": target.id, "appointment_id": target.appointment_id, "label": LABELS.get(target.action, target.action),
            "until": target.at + UNDO_WINDOW, "seen": seen.digest, **visit}


def visit_named(store: Store, appointment_id: int) -> dict[str, Any] | None:
    """Who and when a desk action was about, for "Recorded: … — Jamal Weber, Thu 9:00 AM" and
    "Undone: …": the desk reads which visit, not only what was done (front desk pages only)."""
    with store.engine.connect() as connection:
        row = connection.execute(select(A.c.start_utc, A.c.timezone, A.c.patient_ref, P.c.name)
                                 .select_from(with_people()).where(A.c.id == appointment_id)).first()
    if row is None:
        return None
    return {"patient": row.name or f"patient {row.patient_ref}", "start_utc": row.start_utc, "timezone": row.timezone}


def appointment_of(store: Store, action_id: int) -> int | None:
    """The visit a desk action is about (a refused undo shows it as it is now)."""
    with store.engine.connect() as connection:
        found = connection.execute(select(DK.c.appointment_id).where(DK.c.id == action_id)).scalar()
    return int(found) if found is not None else None
