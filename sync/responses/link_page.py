"""`/r/{token}`: the page behind an email's confirm/decline link. GET only shows the
question (mail scanners open links), a no-JavaScript form POSTs the answer; a link answers
once, and a used, expired or foreign link says so plainly, in the patient's language."""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from mappings.model import ACTIVE_STATUSES
from sync.model import Appointment, Patient
from sync.reminders.model import REMINDERS
from sync.reminders.txn import writer
from sync.responses.keywords import base_language
from sync.responses.links import LinkClaim, LinkProblem, read_token
from sync.responses.model import RESPONSES
from sync.responses.record import apply_answer
from sync.settings import Settings
from sync.store import Store
from sync.types import utcnow

router = APIRouter(tags=["links"])
A = Appointment.__table__  # type: ignore[attr-defined]
P = Patient.__table__  # type: ignore[attr-defined]
TEXT: dict[str, dict[str, str]] = {
    "en": {"confirm": "Confirm your appointment?", "decline": "Cancel your appointment?",
           "confirm_button": "Yes, I will come", "decline_button": "Yes, cancel it",
           "accepted": "Thank you, your appointment is confirmed.",
           "declined": "Thank you, your appointment is cancelled. The clinic has been told.",
           "used": "This link was already used. Please call the clinic to change your answer.",
           "expired": "This link has expired. Please call the clinic.",
           "closed": "This appointment can no longer be answered online. Please call the clinic.",
           "invalid": "This link is not valid. Please call the clinic."},
    "es": {"confirm": "¿Confirma su cita?", "decline": "¿Cancela su cita?",
           "confirm_button": "Sí, iré", "decline_button": "Sí, cancelarla",
           "accepted": "Gracias, su cita está confirmada.",
           "declined": "Gracias, su cita está cancelada. La clínica ha sido avisada.",
           "used": "Este enlace ya se usó. Llame a la clínica para cambiar su respuesta.",
           "expired": "Este enlace ha caducado. Llame a la clínica.",
           "closed": "Esta cita ya no se puede responder en línea. Llame a la clínica.",
           "invalid": "Este enlace no es válido. Llame a la clínica."},
}
STATUS = {"invalid": 404, "expired": 410, "used": 409, "closed": 410}
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "not a link of ours"}, 409: {"description": "already used"},
    410: {"description": "expired, or the appointment is over or cancelled"}}


def page(language: str | None, key: str, status: int = 200, form: str = "") -> HTMLResponse:
    lang = base_language(language) if base_language(language) in TEXT else "en"
    text = html.escape(TEXT[lang][key])
    body = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="robots" content="noindex">'
            f"<title>{text}</title></head><body><main><p>{text}</p>{form}</main></body></html>")
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _context(store: Store, claim: LinkClaim) -> tuple[Any, Any, Any] | None:
    with store.engine.connect() as connection:
        reminder = connection.execute(select(REMINDERS).where(REMINDERS.c.key == claim.key)).first()
        if reminder is None or reminder.appointment_id is None or reminder.recipient != "patient":
            return None
        appointment = connection.execute(select(A).where(A.c.id == reminder.appointment_id)).first()
        patient = connection.execute(select(P).where(
            P.c.connector == reminder.connector, P.c.external_id == reminder.recipient_ref)).first()
        used = connection.execute(select(RESPONSES.c.id).where(
            RESPONSES.c.provider_id == f"link:{claim.key}")).first()
    return reminder, appointment, (patient, used is not None)


def _state(claim: LinkClaim, found: tuple[Any, Any, Any] | None) -> str | None:
    """A reason the link cannot be answered now, or None."""
    if found is None:
        return "invalid"
    _, appointment, (_, used) = found
    if used:
        return "used"
    if (appointment is None or appointment.deleted_at is not None or appointment.status not in ACTIVE_STATUSES
            or appointment.start_utc <= utcnow()):
        return "closed"
    return None


def show(settings: Settings, store: Store, token: str) -> HTMLResponse:
    try:
        claim = read_token(settings, token)
    except LinkProblem as problem:
        return page(None, problem.reason, STATUS[problem.reason])
    found = _context(store, claim)
    language = found[2][0].language if found and found[2][0] is not None else None
    state = _state(claim, found)
    if state is not None:
        return page(language, state, STATUS[state])
    lang = base_language(language) if base_language(language) in TEXT else "en"
    button = html.escape(TEXT[lang][f"{claim.action}_button"])
    form = f'<form method="post"><button type="submit">{button}</button></form>'  # posts to this same URL
    return page(language, claim.action, form=form)


def answer(settings: Settings, store: Store, token: str) -> HTMLResponse:
    try:
        claim = read_token(settings, token)
    except LinkProblem as problem:
        return page(None, problem.reason, STATUS[problem.reason])
    found = _context(store, claim)
    language = found[2][0].language if found and found[2][0] is not None else None
    state = _state(claim, found)
    if state is not None or found is None:
        return page(language, state or "invalid", STATUS[state or "invalid"])
    reminder, appointment, (patient, _) = found
    now = utcnow()
    try:
        with writer(store.engine) as connection:
            connection.execute(insert(RESPONSES).values(
                channel="email", sender=(patient.email if patient is not None and patient.email else "link")[:320],
                body=None, language=language, action=claim.action, outcome="applied",
                appointment_id=appointment.id, reminder_id=reminder.id, provider_id=f"link:{claim.key}",
                received_at=now))
            apply_answer(connection, settings, appointment, claim.action, now)
    except IntegrityError:  # the same link, answered at the same moment in another tab
        return page(language, "used", STATUS["used"])
    return page(language, "accepted" if claim.action == "confirm" else "declined")


@router.get("/r/{token}", summary="The question behind an email's confirm/decline link (no JavaScript)",
            response_class=HTMLResponse, responses=PAGE_RESPONSES)
async def link_page(token: str, request: Request) -> HTMLResponse:
    return await run_in_threadpool(show, request.app.state.settings, request.app.state.store, token)


@router.post("/r/{token}", summary="Answer through an email link", response_class=HTMLResponse,
             responses=PAGE_RESPONSES)
async def link_answer(token: str, request: Request) -> HTMLResponse:
    result = await run_in_threadpool(answer, request.app.state.settings, request.app.state.store, token)
    request.app.state.metrics.webhooks.labels("link", str(result.status_code)).inc()
    return result
