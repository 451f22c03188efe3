"""`/r/{token}`: the page behind a message's answer link. GET only shows (mail scanners open
links); the choices are plain forms that POST, so no JavaScript is needed. It shows the clinic,
the appointment in the patient's language and its own zone, and the choices the clinic allows:
confirm, cancel (after a confirmation step) and ask for another time. A link answers once; a
used, expired or foreign link says so and gives the clinic's phone."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from babel import Locale
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from clinicsync.common.types import utcnow
from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.sync.clinic import LOGO_TYPES
from clinicsync.sync.model import Appointment, Patient
from clinicsync.sync.model.reminders import REMINDERS
from clinicsync.sync.model.responses import RESPONSES
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.responses.answer_view import VisitView, visit_view
from clinicsync.sync.responses.links import LinkClaim, LinkProblem, make_short_token, read_short_token, read_token
from clinicsync.sync.responses.page_text import page_locale, page_words
from clinicsync.sync.responses.record import apply_answer
from clinicsync.sync.settings import Settings
from clinicsync.sync.store import Store

router = APIRouter(tags=["links"])
A = Appointment.__table__  # type: ignore[attr-defined]
P = Patient.__table__  # type: ignore[attr-defined]
STATUS = {"invalid": 404, "expired": 410, "used": 409, "closed": 410, "moved": 410, "not_allowed": 403}
LINK_KINDS = ("confirmation", "reminder", "rescheduled")  # the messages that carry an answer link
STEPS = ("choose", "cancel", "reschedule")
STEP_CHOICE = {"cancel": "decline", "reschedule": "reschedule"}
DONE = {"confirm": "accepted", "decline": "declined", "reschedule": "requested"}
NOTE_MAX = 500
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "the clinic does not offer this choice online"}, 404: {"description": "not a link of ours"},
    409: {"description": "already used"},
    410: {"description": "expired, the appointment is over or cancelled, or it moved since the message was sent"},
    422: {"description": "the note is too long"}}

_env = Environment(loader=PackageLoader("clinicsync.sync.responses", "templates"),
                   autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)
_CSS = resources.files("clinicsync.sync.responses").joinpath("static/answer.css").read_bytes()


@dataclass(frozen=True)
class Found:
    """The rows behind a link: its reminder, appointment, patient and earlier answer."""

    reminder: Any
    appointment: Any
    patient: Any
    answered: str | None  # the action of the answer this link already gave


def render(settings: Settings, locale: Locale, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    clinic = settings.clinic
    phone = settings.reminders.clinic_phone if clinic.phone is None else None
    body = _env.get_template(template).render(
        lang=str(locale).replace("_", "-"), t=page_words(locale), clinic=clinic, logo=clinic.logo_file is not None,
        phone=clinic.phone_display() or ((phone, "tel:" + phone) if phone else None), **context)
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def message(settings: Settings, locale: Locale, key: str, status: int, tone: str = "bad",
            visit: VisitView | None = None, extra: tuple[str, ...] = (), newer: str | None = None) -> HTMLResponse:
    t = page_words(locale)
    lines = [t[k] for k in (f"{key}_explain", *extra) if k in t]
    return render(settings, locale, "message.html", status, heading=t[key], lines=lines, tone=tone, visit=visit,
                  newer=newer)


def _find(store: Store, claim: LinkClaim) -> Found | None:
    with store.engine.connect() as connection:
        reminder = connection.execute(select(REMINDERS).where(REMINDERS.c.key == claim.key)).first()
        if reminder is None or reminder.appointment_id is None or reminder.recipient != "patient":
            return None
        appointment = connection.execute(select(A).where(A.c.id == reminder.appointment_id)).first()
        patient = connection.execute(select(P).where(
            P.c.connector == reminder.connector, P.c.external_id == reminder.recipient_ref)).first()
        answered = connection.execute(select(RESPONSES.c.action).where(
            RESPONSES.c.provider_id == f"link:{claim.key}")).scalar()
    return Found(reminder, appointment, patient, answered)


def _problem(found: Found | None) -> str | None:
    """A reason the link cannot be answered now, or None."""
    if found is None:
        return "invalid"
    if found.answered is not None:
        return "used"
    appointment = found.appointment
    if (appointment is None or appointment.deleted_at is not None or appointment.status not in ACTIVE_STATUSES
            or appointment.start_utc <= utcnow()):
        return "closed"
    if moved(found.reminder, appointment):
        return "moved"
    return None


def moved(reminder: Any, appointment: Any) -> bool:
    """A link answers only the time its message gave: the reminder's ``starts_at`` (the start
    it was planned for, set again to the start the message told when it was sent)."""
    return reminder.starts_at is not None and reminder.starts_at != appointment.start_utc


def _newer(settings: Settings, store: Store, found: Found) -> str | None:
    """The answer link of the latest message sent to the patient for the appointment's
    current time, if there is one, to offer on the "moved" page."""
    r = REMINDERS.c
    with store.engine.connect() as connection:
        newer = connection.execute(
            select(r.id, r.key).where(r.appointment_id == found.appointment.id, r.recipient == "patient",
                                      r.status == "sent", r.kind.in_(LINK_KINDS), r.id != found.reminder.id,
                                      r.starts_at == found.appointment.start_utc)
            .order_by(r.sent_at.desc(), r.id.desc()).limit(1)).first()
    if newer is None:
        return None
    return f"/a/{make_short_token(settings, newer.id, newer.key)}"


def _claim(settings: Settings, store: Store, token: str, short: bool) -> LinkClaim:
    """An email's long link (/r/) carries its claim; an SMS's short one (/a/) names a reminder."""
    return read_short_token(settings, store, token) if short else read_token(settings, token)


def _open(settings: Settings, store: Store, token: str, accept_language: str | None, short: bool = False
          ) -> tuple[LinkClaim, Found, Locale, VisitView] | HTMLResponse:
    """The link's claim and rows, or the page that explains why it cannot be answered."""
    try:
        claim = _claim(settings, store, token, short)
    except LinkProblem as bad:
        return message(settings, page_locale(None, accept_language), bad.reason, STATUS[bad.reason], tone="warn")
    found = _find(store, claim)
    locale = page_locale(found.patient.language if found and found.patient is not None else None, accept_language)
    problem = _problem(found)
    if problem is None or problem == "used":
        assert found is not None
        with store.engine.connect() as connection:
            visit = visit_view(connection, found.appointment, found.patient, locale, settings.clinic)
        if problem == "used":
            return message(settings, locale, "used", STATUS["used"], tone="warn", visit=visit,
                           extra=(f"answered_{found.answered}",))
        return claim, found, locale, visit
    if problem == "moved":
        assert found is not None
        newer = _newer(settings, store, found)
        return message(settings, locale, "moved", STATUS["moved"], tone="warn", newer=newer)
    return message(settings, locale, problem, STATUS[problem], tone="warn")


def show(settings: Settings, store: Store, token: str, step: str | None, accept_language: str | None = None,
         short: bool = False) -> HTMLResponse:
    opened = _open(settings, store, token, accept_language, short)
    if isinstance(opened, HTMLResponse):
        return opened
    claim, _, locale, visit = opened
    choices = settings.responses.choices
    if step not in STEPS:
        step = "cancel" if claim.action == "decline" else "choose"
    if step in STEP_CHOICE and STEP_CHOICE[step] not in choices:
        step = "choose"
    heading = page_words(locale)[{"choose": "title", "cancel": "cancel_title", "reschedule": "reschedule_title"}[step]]
    return render(settings, locale, "answer.html", step=step, visit=visit, choices=choices,
                  action=_path(token, short), heading=heading)


def _path(token: str, short: bool) -> str:
    return f"/a/{token}" if short else f"/r/{token}"


def answer(settings: Settings, store: Store, token: str, form: dict[str, str],
           accept_language: str | None = None, short: bool = False) -> HTMLResponse:
    opened = _open(settings, store, token, accept_language, short)
    if isinstance(opened, HTMLResponse):
        return opened
    claim, found, locale, visit = opened
    choice = form.get("choice") or claim.action  # a bare POST answers what the link says
    if choice not in DONE or choice not in settings.responses.choices:
        return message(settings, locale, "not_allowed", STATUS["not_allowed"], visit=visit)
    note = (form.get("note") or "").strip() if choice == "reschedule" else ""
    if len(note) > NOTE_MAX:
        return render(settings, locale, "answer.html", 422, step="reschedule", visit=visit, note=note,
                      choices=settings.responses.choices, action=_path(token, short),
                      heading=page_words(locale)["reschedule_title"], error=page_words(locale)["note_too_long"])
    reminder, appointment, patient = found.reminder, found.appointment, found.patient
    channel = reminder.channel or "email"
    address = (patient.email if channel == "email" else patient.phone) if patient is not None else None
    now = utcnow()
    try:
        with writer(store.engine) as connection:
            connection.execute(insert(RESPONSES).values(
                channel=channel[:16], sender=(address or "link")[:320], body=note or None,
                language=patient.language if patient is not None else None, action=choice,
                outcome="requested" if choice == "reschedule" else "applied", appointment_id=appointment.id,
                reminder_id=reminder.id, provider_id=f"link:{claim.key}", received_at=now))
            if choice != "reschedule":
                apply_answer(connection, settings, appointment, choice, now)
    except IntegrityError:  # the same link, answered at the same moment in another tab
        return message(settings, locale, "used", STATUS["used"], tone="warn", visit=visit)
    key = DONE[choice]
    return message(settings, locale, key, 200, tone="ok", visit=None if choice == "decline" else visit)


@router.get("/r/_/answer.css", include_in_schema=False)
def stylesheet() -> Response:
    """The answer page's stylesheet. Public: it holds no data."""
    return Response(_CSS, media_type="text/css", headers={"cache-control": "public, max-age=3600"})


@router.get("/r/_/logo", include_in_schema=False)
def logo(request: Request) -> Response:
    """The clinic's logo (`clinic.logo_file`), served by us: no third party sees who opens a link."""
    path = request.app.state.settings.clinic.logo_file
    if path is None:
        return Response(status_code=404)
    return Response(path.read_bytes(), media_type=LOGO_TYPES[path.suffix.lower()],
                    headers={"cache-control": "public, max-age=3600"})


@router.get("/r/{token}", summary="The page behind a message's answer link (no JavaScript)",
            response_class=HTMLResponse, responses=PAGE_RESPONSES)
async def link_page(token: str, request: Request, step: str | None = None) -> HTMLResponse:
    return await run_in_threadpool(show, request.app.state.settings, request.app.state.store, token, step,
                                   request.headers.get("accept-language"))


@router.post("/r/{token}", summary="Answer through a link: confirm, decline or ask for another time",
             response_class=HTMLResponse, responses=PAGE_RESPONSES)
async def link_answer(token: str, request: Request) -> HTMLResponse:
    raw = (await request.body()).decode("utf-8", errors="replace")
    form = {key: values[0] for key, values in parse_qs(raw, max_num_fields=8).items()}
    result = await run_in_threadpool(answer, request.app.state.settings, request.app.state.store, token, form,
                                     request.headers.get("accept-language"))
    request.app.state.metrics.webhooks.labels("link", str(result.status_code)).inc()
    return result


@router.get("/a/{token}", summary="The same page behind an SMS's short answer link", response_class=HTMLResponse,
            responses=PAGE_RESPONSES)
async def short_link_page(token: str, request: Request, step: str | None = None) -> HTMLResponse:
    return await run_in_threadpool(show, request.app.state.settings, request.app.state.store, token, step,
                                   request.headers.get("accept-language"), True)


@router.post("/a/{token}", summary="Answer through an SMS's short link", response_class=HTMLResponse,
             responses=PAGE_RESPONSES)
async def short_link_answer(token: str, request: Request) -> HTMLResponse:
    raw = (await request.body()).decode("utf-8", errors="replace")
    form = {key: values[0] for key, values in parse_qs(raw, max_num_fields=8).items()}
    result = await run_in_threadpool(answer, request.app.state.settings, request.app.state.store, token, form,
                                     request.headers.get("accept-language"), True)
    request.app.state.metrics.webhooks.labels("link", str(result.status_code)).inc()
    return result
