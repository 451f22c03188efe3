"""What happened to a visit's answer, as it happened: one entry per thing someone did (the
patient answered by SMS, the source recorded an outcome, the front desk cancelled), with who
acted, by which channel and what they said. The visit's History page and `appointments show`
both read this, so they cannot tell two stories.

A desk action that changes the answer (a confirmation by phone, a cancel) also writes an
answer row (channel ``desk``, provider id ``desk:<action id>``) so it goes the way every answer
goes; that row is the action's trace, not a second event, and is never listed beside it. Nor
is a channel ever inferred for the desk: a cancel says the front desk cancelled, not that
someone phoned; only "confirmed by phone" and "left a message" are phone calls, because the
desk said so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, tuple_

from clinicsync.common.types import utcnow
from clinicsync.sync.store.model import Appointment, table_of
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.model.responses import RESPONSES, WRITEBACKS

A = table_of(Appointment)
DESK_TRACE = "desk:"  # the provider id prefix of the answer row a desk action writes
DESK_WORDS = {"confirmed_by_phone": "confirmed by phone", "left_message": "left a message", "no_show": "no-show",
              "cancel": "cancelled", "reschedule_handled": "reschedule request handled", "arrived": "came in"}
# Why the desk cancels: staff's words for the record (never the patient's own text).
CANCEL_REASONS = {"patient_asked": "the patient asked to cancel", "patient_ill": "the patient is ill",
                  "moved": "moved to another time", "doctor_unavailable": "the doctor is unavailable",
                  "duplicate": "booked twice", "other": "another reason"}
ANSWER_WORDS = {"confirm": "confirmed", "decline": "declined", "reschedule": "asked for another time",
                "opt_out": "opted out", "opt_in": "opted back in", "help": "asked for help"}
CHANNEL_NAMES = {"sms": "SMS", "email": "email", "whatsapp": "WhatsApp"}
# The desk's word for a visit it closed or waits on: the visit's state wherever it is shown
# (the pages, `appointments list/show` and their JSON), beside the source's own status.
DESK_STATES = {"no_show": "no-show", "arrived": "came in", "cancel": "cancelled by the desk",
               "left_message": "awaiting call-back"}
CALLBACK_WAIT = timedelta(hours=3)  # "left a message" is a wait this long, then back on the work list


@dataclass(frozen=True)
class Entry:
    """One thing someone did about the visit. ``actor``: patient, front desk or source;
    ``user``: the desk's login (staff, never patient data); ``how``: the channel in words, empty
    where there was none to speak of; ``words``: the patient's own text (PHI: only for the
    front desk's view); ``reason``: the desk's reason in staff words; ``action``: the desk
    action's kind or the answer's; ``source``: a desk action's write-back (queued, by_hand, none);
    ``written``: what became of the write-back it queued, its row's status found by the row's link
    to the action (pending, done, superseded, set_aside …), None for a row written before the link."""

    at: datetime
    actor: str
    what: str
    how: str
    action: str
    user: str | None = None
    words: str | None = None
    reason: str | None = None
    outcome: str = "applied"
    source: str | None = None
    written: str | None = None
    request: bool = False
    undone: bool = False
    undone_by: str | None = None

    @property
    def title(self) -> str:
        """'patient declined', 'front desk: cancelled'."""
        return f"front desk: {self.what}" if self.actor == "front desk" else f"{self.actor} {self.what}"


def answered_by(channel: str, provider_id: str | None) -> str:
    """How a patient's or source's answer came, in words: 'by SMS link', 'by SMS reply',
    'as the source records it'."""
    if channel == "source":
        return "as the source records it"
    name = CHANNEL_NAMES.get(channel, channel)
    return f"by {name} link" if (provider_id or "").startswith("link:") else f"by {name} reply"


def _answer(r: Any, full: bool) -> Entry:
    words = (r.body or "").strip() if full and r.channel != "source" else ""
    return Entry(at=r.received_at, actor="source" if r.channel == "source" else "patient",
                 what=ANSWER_WORDS.get(r.action, r.action), how=answered_by(r.channel, r.provider_id),
                 action=r.action, words=words or None, outcome=r.outcome, request=r.action == "reschedule",
                 undone=r.outcome == "undone")


def _desk(r: Any, words: str | None = None, written: str | None = None) -> Entry:
    how = "by phone" if r.action in ("confirmed_by_phone", "left_message") else ""
    return Entry(at=r.at, actor="front desk", what=DESK_WORDS.get(r.action, r.action), how=how, action=r.action,
                 words=words,
                 user=r.user, reason=CANCEL_REASONS.get(r.reason, r.reason) if r.reason else None, source=r.source,
                 written=written,
                 undone=r.undone_at is not None, undone_by=r.undone_by)


def visit_history(connection: Connection, appointment_id: int, full: bool = False) -> list[Entry]:
    """Every answer, request and desk action on the visit, oldest first, each once. An answer
    stored before answers were kept (the visit has one, no row says who gave it) is the
    patient's, with no channel claimed."""
    responses = connection.execute(select(RESPONSES).where(RESPONSES.c.appointment_id == appointment_id)
                                   .order_by(RESPONSES.c.received_at, RESPONSES.c.id)).all()
    entries = [_answer(r, full) for r in responses
               if r.channel != "desk" and not (r.provider_id or "").startswith(DESK_TRACE)]
    # the desk's own words for "another reason" ride on its answer row's body, like a patient's
    # words: PHI, so only in the front desk's view
    notes = {r.provider_id[len(DESK_TRACE):]: r.body for r in responses
             if full and r.body and (r.provider_id or "").startswith(DESK_TRACE)}
    # each desk action's own write-back (its first linked row: an undo's restoring row comes later)
    written: dict[int, str] = {}
    for w in connection.execute(select(WRITEBACKS.c.desk_action_id, WRITEBACKS.c.status).where(
            WRITEBACKS.c.appointment_id == appointment_id, WRITEBACKS.c.desk_action_id.is_not(None))
            .order_by(WRITEBACKS.c.id)):
        written.setdefault(int(w.desk_action_id), w.status)
    entries += [_desk(r, notes.get(str(r.id)), written.get(r.id)) for r in connection.execute(
        select(DESK_ACTIONS).where(DESK_ACTIONS.c.appointment_id == appointment_id)
        .order_by(DESK_ACTIONS.c.at, DESK_ACTIONS.c.id))]
    answer = connection.execute(select(A.c.participation, A.c.participation_at).where(A.c.id == appointment_id)).first()
    standing = any(r.outcome != "undone" and r.action != "reschedule" for r in responses)
    if answer is not None and answer.participation and answer.participation_at and not standing:
        entries.append(Entry(at=answer.participation_at, actor="patient", what=answer.participation, how="",
                             action=answer.participation))
    return sorted(entries, key=lambda e: e.at)


def desk_states(connection: Connection, ids: list[int], now: datetime | None = None) -> dict[int, str]:
    """Per appointment, the desk's standing state in DESK_STATES words: its latest action not
    undone that closes the visit (no-show, came in, cancelled), or a message left within
    CALLBACK_WAIT (awaiting call-back). A confirmation is the answer, shown as the answer."""
    now = now or utcnow()
    out: dict[int, str] = {}
    DK = DESK_ACTIONS.c
    for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
        for row in connection.execute(select(DK.appointment_id, DK.action, DK.at).where(
                DK.appointment_id.in_(chunk), DK.undone_at.is_(None)).order_by(DK.at, DK.id)):
            waiting = row.action == "left_message" and now < row.at + CALLBACK_WAIT
            if row.action in ("no_show", "arrived", "cancel") or waiting:
                out[row.appointment_id] = DESK_STATES[row.action]
            elif out.get(row.appointment_id) == DESK_STATES["left_message"]:
                del out[row.appointment_id]  # a later action (a confirmation) ended the wait
    return out


def desk_states_of(connection: Connection, refs: list[tuple[str, str]],
                   now: datetime | None = None) -> dict[tuple[str, str], str]:
    """``desk_states`` keyed by the visits' (connector, external id), for what lists visits by
    the source's key (`appointments list/show`)."""
    ids: dict[int, tuple[str, str]] = {}
    for chunk in (refs[i:i + 500] for i in range(0, len(refs), 500)):
        for row in connection.execute(select(A.c.id, A.c.connector, A.c.external_id).where(
                tuple_(A.c.connector, A.c.external_id).in_(chunk))):
            ids[row.id] = (row.connector, row.external_id)
    return {ids[i]: state for i, state in desk_states(connection, list(ids), now).items()}
