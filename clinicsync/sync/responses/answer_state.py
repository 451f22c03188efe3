"""Where a patient's answer stands, as the answer page reads it: a link
answers more than once, and the latest answer stands.

* Confirmed (by this link, another one, a reply or the source): the page offers to cancel or
  to ask for another time instead.
* Asked for another time: the page offers to keep the appointment (confirm) or cancel it.
* Cancelled: **final online**. The cancellation cancels the pending reminders, tells the
  doctor and is written back (with ``responses.decline_cancels``, as a cancelled slot that
  may be given to someone else), so a second thought could not get the slot back; the page
  names the cancelled visit and gives the clinic's phone to book again.

Each answer through one link is one Response row, ``provider_id`` ``link:<key>`` for the
first and ``link:<key>:<n>`` for the n-th, unique: two tabs answering at the same moment
cannot both record the same n-th answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from clinicsync.sync.store.model.responses import RESPONSES

MAX_LINK_ANSWERS = 8  # changes of mind through one link; then the page asks the patient to call
STANDING = {"accepted": "confirm", "declined": "decline"}


@dataclass(frozen=True)
class LinkAnswers:
    count: int  # answers this link gave
    last: str | None  # the latest one's action
    last_at: datetime | None


def link_answers(connection: Connection, key: str, reminder_id: int) -> LinkAnswers:
    r = RESPONSES.c
    rows = connection.execute(select(r.action, r.received_at).where(
        r.reminder_id == reminder_id,
        (r.provider_id == f"link:{key}") | r.provider_id.startswith(f"link:{key}:", autoescape=True))
        .order_by(r.received_at.desc(), r.id.desc())).all()
    return LinkAnswers(len(rows), rows[0].action if rows else None, rows[0].received_at if rows else None)


def provider_id(key: str, answers: LinkAnswers) -> str:
    """The id of this link's next answer (the first keeps the form older rows have)."""
    return f"link:{key}" if answers.count == 0 else f"link:{key}:{answers.count + 1}"


def standing(appointment: Any, answers: LinkAnswers) -> str | None:
    """The answer that stands: ``decline`` (final), ``reschedule`` (this link's request is
    newer than any confirmation), ``confirm``, or None (not answered)."""
    participation = STANDING.get(appointment.participation or "")
    if participation == "decline":
        return "decline"
    if answers.last == "reschedule" and (appointment.participation_at is None or answers.last_at is None
                                         or appointment.participation_at <= answers.last_at):
        return "reschedule"
    return participation


def offered(choices: list[str], answer: str | None) -> list[str]:
    """What the page still offers: everything the clinic allows but the answer that stands;
    nothing once cancelled."""
    if answer == "decline":
        return []
    return [choice for choice in choices if choice != answer]
