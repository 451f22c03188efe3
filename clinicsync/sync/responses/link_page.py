"""`/r/{token}`: the page behind a message's answer link. GET only shows (mail scanners open
links); the choices are plain forms that POST, so no JavaScript is needed. It shows the clinic,
the appointment in the patient's language and its own zone, and the choices the clinic allows:
confirm, cancel (after a confirmation step) and ask for another time, and how the visit takes
place (answer_view.py). A link stays usable until the visit and the latest answer stands
(answer_state.py): confirm then cancel works, a cancel is final online and its page names the
visit. The page offers the visit to add to a calendar (add_to_calendar.py). An expired or
foreign link says so and gives the clinic's phone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import structlog
from babel import Locale
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from clinicsync.common.timeutil import parse_duration
from clinicsync.common.types import utcnow
from clinicsync.common.vocabulary import ACTIVE_STATUSES, ReminderStatus
from clinicsync.sync.config.clinic import LOGO_TYPES
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.answers import apply_answer
from clinicsync.sync.reminders.ics import event_uid
from clinicsync.sync.reminders.links import LinkClaim, LinkProblem, make_short_token, read_short_token, read_token
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.responses.add_to_calendar import CalendarEntry, google_link, ics_file, outlook_link
from clinicsync.sync.responses.answer_state import (
    MAX_LINK_ANSWERS,
    LinkAnswers,
    link_answers,
    offered,
    standing,
)
from clinicsync.sync.responses.answer_state import provider_id as answer_id
from clinicsync.sync.responses.answer_view import VisitView, visit_view
from clinicsync.sync.responses.page_text import page_locale, page_words
from clinicsync.sync.store.model import Appointment, Patient, table_of
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import RESPONSES
from clinicsync.sync.store.store import Store

router = APIRouter(tags=["links"])
log = structlog.get_logger("clinicsync.responses")
A = table_of(Appointment)
P = table_of(Patient)
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
LOGO_PATH = "/r/_/logo"
_CSS = resources.files("clinicsync.sync.responses").joinpath("static/answer.css").read_bytes()


@dataclass(frozen=True)
class Found:
    """The rows behind a link: its reminder, appointment, patient and the answers it gave."""

    reminder: Any
    appointment: Any
    patient: Any
    answers: LinkAnswers


@dataclass(frozen=True)
class Opened:
    """A link that shows its visit: what it claims, its rows, the page's language, the visit,
    the answer that stands and whether the visit has started (nothing to answer then)."""

    claim: LinkClaim
    found: Found
    locale: Locale
    visit: VisitView
    standing: str | None
    started: bool

    @property
    def connector(self) -> str:
        """The visit's source: the page speaks for its site."""
        return str(self.found.reminder.connector)


def render(settings: Settings, locale: Locale, template: str, status: int = 200, *, connector: str | None = None,
           **context: Any) -> HTMLResponse:
    """A page in the name of ``connector``'s site (its name, phone, logo: Settings.clinic_for);
    the clinic's when the link names no visit of ours."""
    clinic = settings.clinic_for(connector)
    phone = settings.reminders.clinic_phone if clinic.phone is None else None
    site = settings.site_of(connector)
    logo = None if clinic.logo_file is None else LOGO_PATH + (f"?site={site}" if site else "")
    body = _env.get_template(template).render(
        lang=str(locale).replace("_", "-"), t=page_words(locale), clinic=clinic, logo=logo,
        phone=clinic.phone_display() or ((phone, "tel:" + phone) if phone else None), **context)
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def message(settings: Settings, locale: Locale, key: str, status: int, tone: str = "bad",
            visit: VisitView | None = None, extra: tuple[str, ...] = (), newer: str | None = None,
            connector: str | None = None) -> HTMLResponse:
    t = page_words(locale)
    lines = [t[k] for k in (f"{key}_explain", *extra) if k in t]
    return render(settings, locale, "message.html", status, heading=t[key], lines=lines, tone=tone, visit=visit,
                  newer=newer, connector=connector)


def _find(store: Store, claim: LinkClaim) -> Found | None:
    with store.engine.connect() as connection:
        reminder = connection.execute(select(REMINDERS).where(REMINDERS.c.key == claim.key)).first()
        if reminder is None or reminder.appointment_id is None or reminder.recipient != "patient":
            return None
        appointment = connection.execute(select(A).where(A.c.id == reminder.appointment_id)).first()
        patient = connection.execute(select(P).where(
            P.c.connector == reminder.connector, P.c.external_id == reminder.recipient_ref)).first()
        answers = link_answers(connection, claim.key, reminder.id)
    return Found(reminder, appointment, patient, answers)


def _problem(found: Found | None, now: datetime) -> str | None:
    """A reason the link cannot show its visit now, or None. A cancelled answer is not one:
    its page names the visit it cancelled."""
    if found is None:
        return "invalid"
    appointment = found.appointment
    if appointment is None or appointment.deleted_at is not None:
        return "closed"
    if found.reminder.recipient_ref != appointment.patient_ref:
        return "closed"  # given to another patient since: this link must not answer, nor show, their visit
    if appointment.participation == "declined":
        return None
    if appointment.status not in ACTIVE_STATUSES or appointment.end_utc <= now:
        return "closed"
    if appointment.start_utc <= now and appointment.visit_mode != "video":
        return "closed"  # a video visit's page stays until its end: it carries the join link
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
                                      r.status == ReminderStatus.SENT, r.kind.in_(LINK_KINDS),
                                      r.id != found.reminder.id,
                                      r.starts_at == found.appointment.start_utc)
            .order_by(r.sent_at.desc(), r.id.desc()).limit(1)).first()
    if newer is None:
        return None
    return f"/a/{make_short_token(settings, newer.id, newer.key)}"


def _claim(settings: Settings, store: Store, token: str, short: bool) -> LinkClaim:
    """An email's long link (/r/) carries its claim; an SMS's short one (/a/) names a reminder."""
    return read_short_token(settings, store, token) if short else read_token(settings, store, token)


def _open(settings: Settings, store: Store, token: str, accept_language: str | None, short: bool = False
          ) -> Opened | HTMLResponse:
    """The link's claim, rows and visit, or the page that explains why it cannot show them."""
    try:
        claim = _claim(settings, store, token, short)
    except LinkProblem as bad:
        return message(settings, page_locale(None, accept_language), bad.reason, STATUS[bad.reason], tone="warn")
    found = _find(store, claim)
    locale = page_locale(found.patient.language if found and found.patient is not None else None, accept_language)
    now = utcnow()
    problem = _problem(found, now)
    connector = found.reminder.connector if found is not None else None  # the page speaks for its visit's site
    if problem is None:
        assert found is not None
        with store.engine.connect() as connection:
            visit = visit_view(connection, found.appointment, found.patient, locale, settings.clinic_for(connector),
                               now, parse_duration(settings.responses.join_link_opens))
        return Opened(claim, found, locale, visit, standing(found.appointment, found.answers),
                      found.appointment.start_utc <= now)
    if problem == "moved":
        assert found is not None
        newer = _newer(settings, store, found)
        return message(settings, locale, "moved", STATUS["moved"], tone="warn", newer=newer, connector=connector)
    return message(settings, locale, problem, STATUS[problem], tone="warn", connector=connector)


def _page(settings: Settings, opened: Opened, token: str, short: bool, status: int = 200,
          heading_key: str | None = None) -> HTMLResponse:
    """The visit as its answer stands: what was answered (``heading_key`` right after an
    answer), the choices still open, add-to-calendar; a cancelled visit is named, with the
    phone to book again; a started video visit shows its join link and nothing to answer."""
    t = page_words(opened.locale)
    standing = opened.standing
    common: dict[str, Any] = {"step": "choose", "visit": opened.visit, "standing": standing,
                              "action": _path(token, short), "connector": opened.connector}
    if standing == "decline":
        common["visit"] = opened.visit.as_cancelled()
        return render(settings, opened.locale, "answer.html", status, heading=t[heading_key or "cancelled"],
                      notice=[t["cancelled_explain"]], boxed="bad", offered=[], calendar=None, **common)
    if opened.started:
        return render(settings, opened.locale, "answer.html", status, heading=t["started"], notice=[], boxed=None,
                      offered=[], calendar=None, **common)
    heading = t[heading_key] if heading_key else t[f"answered_{standing}"] if standing else t["title"]
    notice = [t["standing_reschedule"]] if standing == "reschedule" else []
    return render(settings, opened.locale, "answer.html", status, heading=heading, notice=notice,
                  boxed="ok" if standing else None, offered=offered(list(settings.responses.choices), standing),
                  calendar=calendar_links(settings, opened, token, short), **common)


def show(settings: Settings, store: Store, token: str, step: str | None, accept_language: str | None = None,
         short: bool = False) -> HTMLResponse:
    opened = _open(settings, store, token, accept_language, short)
    if isinstance(opened, HTMLResponse):
        return opened
    choices = offered(list(settings.responses.choices), opened.standing)
    if opened.started or opened.standing == "decline":
        return _page(settings, opened, token, short)
    if step not in STEPS:
        step = "cancel" if opened.claim.action == "decline" else "choose"  # the email's Cancel link, even later
    if step in STEP_CHOICE and STEP_CHOICE[step] not in choices:
        step = "choose"
    if step == "choose":
        return _page(settings, opened, token, short)
    heading = page_words(opened.locale)[{"cancel": "cancel_title", "reschedule": "reschedule_title"}[step]]
    return render(settings, opened.locale, "answer.html", step=step, visit=opened.visit, action=_path(token, short),
                  heading=heading, connector=opened.connector)


def _path(token: str, short: bool) -> str:
    return f"/a/{token}" if short else f"/r/{token}"


def answer(settings: Settings, store: Store, token: str, form: dict[str, str],
           accept_language: str | None = None, short: bool = False) -> HTMLResponse:
    opened = _open(settings, store, token, accept_language, short)
    if isinstance(opened, HTMLResponse):
        return opened
    claim, found, locale, visit = opened.claim, opened.found, opened.locale, opened.visit
    if opened.standing == "decline":  # cancelled is final online: the page says so and names the visit
        return _page(settings, opened, token, short, STATUS["used"])
    if opened.started:
        return message(settings, locale, "closed", STATUS["closed"], tone="warn", connector=opened.connector)
    choice = form.get("choice") or claim.action  # a bare POST answers what the link says
    if choice not in DONE or choice not in settings.responses.choices:
        return message(settings, locale, "not_allowed", STATUS["not_allowed"], visit=visit,
                       connector=opened.connector)
    if choice == opened.standing:  # answered so already (a second tab, a reload): nothing changes
        return _page(settings, opened, token, short, heading_key=DONE[choice])
    if found.answers.count >= MAX_LINK_ANSWERS:
        return message(settings, locale, "used", STATUS["used"], tone="warn", visit=visit,
                       connector=opened.connector)
    note = (form.get("note") or "").strip() if choice == "reschedule" else ""
    if len(note) > NOTE_MAX:
        return render(settings, locale, "answer.html", 422, step="reschedule", visit=visit, note=note,
                      action=_path(token, short), heading=page_words(locale)["reschedule_title"],
                      error=page_words(locale)["note_too_long"], connector=opened.connector)
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
                reminder_id=reminder.id, provider_id=answer_id(claim.key, found.answers), received_at=now))
            if choice != "reschedule":
                apply_answer(connection, settings, appointment, choice, now)
    except IntegrityError:  # the same link, answered at the same moment in another tab
        return message(settings, locale, "used", STATUS["used"], tone="warn", visit=visit,
                       connector=opened.connector)
    log.info("responses.link_answer", action=choice, appointment_id=appointment.id, changed=found.answers.count > 0)
    after = _open(settings, store, token, accept_language, short)
    if isinstance(after, HTMLResponse):
        return after
    return _page(settings, after, token, short, heading_key=DONE[choice])


def calendar_links(settings: Settings, opened: Opened, token: str, short: bool) -> dict[str, str] | None:
    """The add-to-calendar targets: our .ics download, Google's and Outlook's "add" pages."""
    entry = calendar_entry(settings, opened, token, short)
    return {"ics": f"{_path(token, short)}/visit.ics", "google": google_link(entry), "outlook": outlook_link(entry)}


def calendar_entry(settings: Settings, opened: Opened, token: str, short: bool) -> CalendarEntry:
    """The visit as a calendar event, in the page's language: where (the place) or how (video,
    phone), and the answer page's link, where the join link appears when it is time."""
    t, visit, appointment = page_words(opened.locale), opened.visit, opened.found.appointment
    server = settings.server
    page = f"{str(server.public_url).rstrip('/')}{_path(token, short)}" if server and server.public_url else None
    lines = [f"{t['doctor']}: {visit.doctor}"] if visit.doctor else []
    if visit.mode == "in_person":
        where = [p for p in (visit.location, visit.place.address if visit.place else None) if p]
        location = ", ".join(where) or None
        if visit.place_unknown:
            lines.append(t["place_unknown"])
        if visit.instructions:
            lines.append(visit.instructions)
    elif visit.mode == "video":
        location = t["mode_video"]
    else:
        location = t["mode_phone"]
        lines.append(f"{t['dial_in']} {visit.dial_in[0]}." if visit.dial_in else
                     t["calls_you"].format(digits=visit.calls_you) if visit.calls_you else t["calls_you_plain"])
    if page:
        lines.append(f"{t['page_link']}: {page}")
    site_name = settings.clinic_for(opened.connector).name
    return CalendarEntry(uid=event_uid(appointment.connector, appointment.external_id), start=appointment.start_utc,
                         end=appointment.end_utc, summary=f"{visit.type or t['appointment']} · {site_name}",
                         location=location, description="\n".join(lines), url=page)


def visit_ics(settings: Settings, store: Store, token: str, short: bool) -> Response:
    """The .ics download: only for a link that shows its visit and has not cancelled it."""
    opened = _open(settings, store, token, None, short)
    if isinstance(opened, HTMLResponse):
        return opened
    if opened.standing == "decline" or opened.started:
        return message(settings, opened.locale, "closed", STATUS["closed"], tone="warn", connector=opened.connector)
    body = ics_file(calendar_entry(settings, opened, token, short), utcnow(), opened.found.appointment.version)
    return Response(body, media_type="text/calendar; charset=utf-8", headers={
        "Cache-Control": "no-store", "Content-Disposition": 'attachment; filename="appointment.ics"'})


@router.get("/r/_/answer.css", include_in_schema=False)
def stylesheet() -> Response:
    """The answer page's stylesheet. Public: it holds no data."""
    return Response(_CSS, media_type="text/css", headers={"cache-control": "public, max-age=3600"})


@router.get(LOGO_PATH, include_in_schema=False)
def logo(request: Request, site: str | None = None) -> Response:
    """The clinic's logo (`clinic.logo_file`), or a site's (`sites.<key>.logo_file`, else the
    clinic's), served by us: no third party sees who opens a link."""
    settings: Settings = request.app.state.settings
    own = settings.sites.get(site) if site else None
    path = (own.logo_file if own is not None else None) or settings.clinic.logo_file
    if path is None:
        return Response(status_code=404)
    return Response(path.read_bytes(), media_type=LOGO_TYPES[path.suffix.lower()],
                    headers={"cache-control": "public, max-age=3600"})


@router.get("/r/{token}/visit.ics", summary="The visit as a calendar file to add (METHOD:PUBLISH)",
            response_class=Response, responses=PAGE_RESPONSES)
async def link_ics(token: str, request: Request) -> Response:
    return await run_in_threadpool(visit_ics, request.app.state.settings, request.app.state.store, token, False)


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


@router.get("/a/{token}/visit.ics", summary="The visit as a calendar file, from an SMS's short link",
            response_class=Response, responses=PAGE_RESPONSES)
async def short_link_ics(token: str, request: Request) -> Response:
    return await run_in_threadpool(visit_ics, request.app.state.settings, request.app.state.store, token, True)


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
