"""The REST API for appointments (``/api/v1``): systems that cannot speak FHIR create,
update and cancel appointments of their own source, and read back what became of them.

- Each request carries ``Authorization: Bearer <key>``; the key picks the ``rest_api``
  connector it belongs to, and a key can touch only that source's appointments.
- Writes go through the push contract (sync/ingest/push.py): the connector's mapping, change
  detection and the outbox, committed before the 2xx. An appointment is identified by
  the caller's own id, so a retried request never duplicates it: PUT is an upsert, and a
  repeated POST answers 200 with the outcome ``unchanged``. An ``updated_at`` older than
  what is stored never overwrites newer data; one further ahead of the server's clock than
  ``store.future_tolerance_seconds`` is refused (422 naming it), and ``/cancel`` always wins.
- Errors are RFC 9457 problem details naming the field; a request that does not validate
  stores nothing. Requests per source are rate limited (429 with Retry-After).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, available_timezones

from fastapi import APIRouter, Depends, FastAPI, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from clinicsync.common.timeutil import iso_z
from clinicsync.connectors.rest_api import RestApiSettings, holder
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.push import OrphanedPushRefused, PushReceiver, PushResult
from clinicsync.sync.server.problems import PROBLEM, FieldProblem, Problem, ProblemOut, answer, from_http_exception
from clinicsync.sync.server.ratelimits import SharedBuckets, push_limiter
from clinicsync.sync.store.model import Appointment, table_of
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui import queries

PREFIX = "/api/v1"
MAX_KEY = 256
ExternalId = Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f/]+$",
                                 description="the appointment's id in your system")]
Status = Literal["booked", "pending", "proposed", "arrived", "checked-in", "fulfilled", "cancelled", "noshow",
                 "waitlist", "entered-in-error"]


MAX_VISIT_MINUTES = 1440
# ISO 8601 with its time: a date alone would silently become midnight.
DATE_TIME = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}"
AREA_CITY = re.compile(r"^[A-Z][A-Za-z_-]*(/[A-Za-z0-9_+-]+)+$")


class Strict(BaseModel):
    """No unknown fields, and no coercion: ``true`` or ``"30"`` is no number of minutes."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _iana_zone(name: str | None) -> str | None:
    """An IANA ``Area/City`` zone (or UTC): zoneinfo also loads ``localtime``, ``posixrules``
    and ``Factory``, files of the host's zone database that name no place."""
    if name is None:
        return None
    if (name != "UTC" and not AREA_CITY.match(name)) or name not in _known_zones():
        raise ValueError("not an IANA Area/City time zone (e.g. America/New_York)")
    return name


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


class PatientIn(Strict):
    id: str = Field(min_length=1, max_length=255, description="the patient's id in your system")
    name: str | None = Field(None, max_length=255)
    phone: str | None = Field(None, max_length=32, description="E.164, or national in the clinic's region")
    email: str | None = Field(None, max_length=320)
    language: str | None = Field(None, max_length=35, description="BCP 47, e.g. en or es-MX")
    channel: Literal["sms", "email", "whatsapp"] | None = Field(None, description="the patient's preference")
    allow_sms: bool | None = None
    allow_email: bool | None = None


class PractitionerIn(Strict):
    id: str = Field(min_length=1, max_length=255, description="the doctor's id in your system")
    name: str | None = Field(None, max_length=255)
    email: str | None = Field(None, max_length=320, description="routes the appointment to the doctor's calendar")


class AppointmentIn(Strict):
    status: Status = "booked"
    start: str = Field(min_length=1, max_length=64, pattern=DATE_TIME,
                       description="ISO 8601 date and time; without an offset, local time in `timezone`")
    end: str | None = Field(None, max_length=64, pattern=DATE_TIME,
                            description=f"ISO 8601 date and time, at most {MAX_VISIT_MINUTES} minutes after start; "
                                        "or give duration_minutes (not both)")
    duration_minutes: int | None = Field(None, ge=1, le=MAX_VISIT_MINUTES)
    timezone: Annotated[str | None, AfterValidator(_iana_zone)] = Field(
        None, max_length=64, description="IANA Area/City zone, e.g. America/New_York")
    type: str | None = Field(None, max_length=255, description="the visit type")
    location: str | None = Field(None, max_length=255)
    visit_mode: Literal["in_person", "video", "phone"] | None = Field(
        None, description="how the visit takes place; unset: in person (a join_url alone means video)")
    join_url: str | None = Field(None, max_length=2048, description="the https link the patient joins a video visit by")
    provider_join_url: str | None = Field(None, max_length=2048,
                                          description="the doctor's own link, when it differs from the patient's")
    dial_in: str | None = Field(None, max_length=32, description="a number to dial into the visit")
    updated_at: str | None = Field(None, max_length=64,
                                   description="when your system last changed it (ISO 8601): older updates never win")
    patient: PatientIn | None = None
    practitioner: PractitionerIn | None = None

    @model_validator(mode="after")
    def _one_visit_length(self) -> AppointmentIn:
        """One of ``end`` and ``duration_minutes``, and an ``end`` no further from ``start``
        than ``duration_minutes`` may say (years 1900 to 2200 are the mapping's, clinic.plausible_dates)."""
        if self.end is not None and self.duration_minutes is not None:
            raise PydanticCustomError("end_or_duration", "give end or duration_minutes, not both",
                                      {"field": "end"})
        if self.end is not None and (minutes := _minutes_between(self.start, self.end, self.timezone)) is not None \
                and minutes > MAX_VISIT_MINUTES:
            raise PydanticCustomError("visit_too_long", f"end is more than {MAX_VISIT_MINUTES} minutes after start",
                                      {"field": "end"})
        return self


def _minutes_between(start: str, end: str, timezone: str | None) -> float | None:
    """Minutes from start to end; a value without an offset is read in ``timezone`` (or as
    the other one's wall clock). None when either does not parse: the mapping names that."""
    try:
        first, last = (datetime.fromisoformat(value.replace("z", "Z")) for value in (start, end))
    except ValueError:
        return None
    local = ZoneInfo(timezone) if timezone else None
    if (first.tzinfo is None) != (last.tzinfo is None):
        first, last = (value if value.tzinfo or local is None else value.replace(tzinfo=local)
                       for value in (first, last))
        if (first.tzinfo is None) != (last.tzinfo is None):
            first, last = first.replace(tzinfo=None), last.replace(tzinfo=None)
    try:
        return (last - first).total_seconds() / 60
    except OverflowError:
        return None


class AppointmentCreate(AppointmentIn):
    id: str = Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f/]+$",
                    description="the appointment's id in your system")


class AppointmentReplace(AppointmentIn):
    id: str | None = Field(None, max_length=255, description="optional: the same id as the path's (a body "
                           "read back or written for POST can be sent as it is); a different one is refused")


class PushOut(BaseModel):
    id: str
    result: str = Field(description="created, updated, rescheduled, cancelled, noshow or unchanged")
    notes: list[str] = Field(default_factory=list, description="optional values that were unusable and left out "
                             "(e.g. a phone that is no number), each naming the field and the problem")


class AppointmentOut(BaseModel):
    id: str
    status: str
    start: str = Field(description="UTC, ISO 8601")
    timezone: str
    type: str | None
    doctor: str
    answer: str | None = Field(description="the patient's answer: accepted, declined, tentative or none yet")
    reminders: dict[str, int] = Field(description="patient messages by state (pending, sent, delivered, failed, …)")
    calendar: str = Field(description="the doctor's calendar event: none, pending, present, deleted or failing")


PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemOut, "content": {PROBLEM: {}}, "description": text} for status, text in {
        400: "the body cannot be read (not UTF-8, nested too deep, a number too long); nothing was stored",
        401: "no or an unknown API key", 404: "no such appointment of this source",
        413: "the body is over server.max_body_bytes; nothing was stored",
        422: "the request does not validate: the fields are named, nothing was stored",
        429: "too many requests from this source (see Retry-After)",
        503: "the store cannot be reached: nothing was stored, send again (see Retry-After)"}.items()}


async def _authenticate(request: Request) -> RestApiSettings:
    """The rest_api connector the bearer key belongs to (401 otherwise), within its rate.
    A coroutine: FastAPI would run a plain function in the thread pool, a hop per request
    for a digest and, on SQLite, a bucket in memory; a bucket in the store goes
    to the thread pool alone (:func:`take_token`)."""
    settings: Settings = request.app.state.settings
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    config = None
    if scheme.lower() == "bearer" and 0 < len(key) <= MAX_KEY:
        config = next((c for c in settings.connectors if isinstance(c, RestApiSettings) and c.enabled
                       and holder(c, key.strip()) is not None), None)
    if config is None:
        _count(request, "unauthorized")
        raise Problem(401, "Unauthorized", "send Authorization: Bearer <API key of a rest_api connector>",
                      headers={"WWW-Authenticate": 'Bearer realm="clinicsync"'})
    wait = await take_token(request, config.name, config.rate_per_second, config.burst)
    if wait:
        _count(request, "rate_limited")
        raise Problem(429, "Too Many Requests", f"this source may send {config.rate_per_second:g} requests "
                      "per second", headers={"Retry-After": str(max(1, round(wait + 0.5)))})
    return config


async def _source(request: Request) -> RestApiSettings:
    """The connector :class:`KeyFirstRoute` found before the body was read (or, on a route
    declared without it, found now)."""
    config = getattr(request.state, "rest_source", None)
    return config if config is not None else await _authenticate(request)


class KeyFirstRoute(APIRoute):
    """A route of the API whose bearer key and rate are checked before its body is read:
    FastAPI parses a JSON body before it solves dependencies, so a malformed body without a
    key got 400, not 401, and the JSON parser ran for anyone who could reach the port. Every
    inbound request is authenticated before it is parsed (the booking webhooks check their
    signature on the raw bytes the same way)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def key_first(request: Request) -> Response:
            request.state.rest_source = await _authenticate(request)
            return await handler(request)

        return key_first


Source = Annotated[RestApiSettings, Depends(_source)]


async def take_token(request: Request, key: str, rate: float, burst: int) -> float:
    """A token from ``key``'s rate bucket (0, or the seconds to wait): in the thread pool when
    the bucket is in the store (a statement: never on the event loop, which serves every
    other request meanwhile), here when it is in this process (no I/O, no hop)."""
    limiter = request.app.state.api_limiter
    if isinstance(limiter, SharedBuckets):
        return float(await run_in_threadpool(limiter.try_acquire, key, rate, burst))
    return float(limiter.try_acquire(key, rate, burst))


def _count(request: Request, result: str) -> None:
    request.app.state.metrics.webhook("api_v1", result).inc()


def _receiver(request: Request, config: RestApiSettings) -> PushReceiver:
    receivers: dict[str, PushReceiver] = request.app.state.push_receivers
    if config.name not in receivers:
        receivers[config.name] = PushReceiver(request.app.state.settings, request.app.state.store, config)
    return receivers[config.name]


def _answer(request: Request, result: PushResult) -> Response:
    """201 or 200 with the PushOut, rendered as FastAPI renders a returned PushOut (its
    pydantic JSON, application/json): the same bytes without FastAPI validating the model it
    was just built as, and merging a sub-response."""
    if result.outcome == "refused":
        field, reason = (result.problem.field, result.problem.reason) if result.problem else (None, "does not map")
        _count(request, "invalid")
        raise Problem(422, "Unprocessable Content", "the appointment does not map; nothing was stored",
                      [FieldProblem(field=field or "(record)", detail=reason)])
    _count(request, result.outcome)
    out = PushOut(id=result.external_id or "", result=result.outcome, notes=list(result.notes))
    return Response(out.model_dump_json(), status_code=201 if result.outcome == "created" else 200,
                    media_type="application/json")


router = APIRouter(prefix=PREFIX, tags=["appointments API"], responses=PROBLEMS, route_class=KeyFirstRoute)


@router.post("/appointments", status_code=201, summary="Create an appointment (a retry answers 200, unchanged)",
             response_model=PushOut)
async def create(body: AppointmentCreate, request: Request, config: Source) -> Response:
    record = body.model_dump(mode="json", exclude_none=True)
    result = await run_in_threadpool(_receiver(request, config).receive, record, f"api POST {body.id}",
                                     quarantine_bad=False)
    return _answer(request, result)


@router.put("/appointments/{external_id}", summary="Create or replace an appointment", response_model=PushOut)
async def put(external_id: ExternalId, body: AppointmentReplace, request: Request, config: Source) -> Response:
    if body.id is not None and body.id != external_id:
        _count(request, "invalid")
        raise Problem(422, "Unprocessable Content", "the body's id is not the path's; nothing was stored",
                      [FieldProblem(field="id", detail="differs from the id in the path (leave it out, or send the "
                                                       "same)")])
    record = {**body.model_dump(mode="json", exclude_none=True), "id": external_id}
    result = await run_in_threadpool(_receiver(request, config).receive, record, f"api PUT {external_id}",
                                     quarantine_bad=False)
    return _answer(request, result)


@router.post("/appointments/{external_id}/cancel", summary="Cancel an appointment", response_model=PushOut)
async def cancel(external_id: ExternalId, request: Request, config: Source) -> Response:
    result = await run_in_threadpool(_receiver(request, config).cancel, external_id, f"api cancel {external_id}")
    if result is None:
        _count(request, "not_found")
        raise Problem(404, "Not Found", "no appointment with this id from this source")
    return _answer(request, result)


@router.get("/appointments/{external_id}", summary="An appointment with its reminders, answer and calendar state")
async def read(external_id: ExternalId, request: Request, config: Source) -> AppointmentOut:
    row = await run_in_threadpool(_appointment_row, request.app.state.store, config.name, external_id)
    if row is None:
        raise Problem(404, "Not Found", "no appointment with this id from this source")
    return AppointmentOut(id=row.external_id, status=row.status, start=iso_z(row.start_utc), timezone=row.timezone,
                          type=row.type, doctor=row.doctor, answer=row.answer, reminders=dict(row.reminders),
                          calendar=row.calendar)


def _appointment_row(store: Store, connector: str, external_id: str) -> queries.AppointmentRow | None:
    table = table_of(Appointment).c
    with store.engine.connect() as connection:
        found = connection.execute(select(table.id).where(
            table.connector == connector, table.external_id == external_id, table.deleted_at.is_(None))).first()
    return queries.appointment(store, int(found[0])) if found else None


async def _problem(request: Request, exc: Problem) -> Response:
    return answer(request, exc)


# How long a sender refused for an orphaned source waits: as for a store that cannot be reached
# (sync/server/middleware.py), since the fix is the admin's `clinicsync source rename` or `retire`.
ORPHAN_RETRY_AFTER = "30"


async def _orphaned(request: Request, exc: OrphanedPushRefused) -> Response:
    """A push refused before anything was stored, because the store holds a source the settings
    no longer name (sync/ingest/orphans.py), from any push route (the API, the booking webhooks, FHIR
    notifications): 503 with Retry-After, the answer to a store that is down, so the sender
    retries, and its retry is stored once the admin renamed or retired the old source. Counted
    with the route's other push results (``refused_orphan``); logged by the receiver."""
    _count_push(request, exc.connector, "refused_orphan")
    return Problem(503, "Service Unavailable", f"source {exc.connector!r} is held until the administrator says "
                   "whether it is a renamed source (`clinicsync source rename`); nothing was stored, send again "
                   "later", headers={"Retry-After": ORPHAN_RETRY_AFTER}).response()


def _count_push(request: Request, connector: str, result: str) -> None:
    """``result`` counted under the endpoint label the push's route counts its results with."""
    settings: Settings = request.app.state.settings
    config = next((c for c in settings.connectors if c.name == connector), None)
    if request.url.path.startswith(PREFIX) or config is None:
        endpoint = "api_v1"
    elif config.kind == "fhir":
        endpoint = f"fhir:{connector}"
    else:
        endpoint = f"{config.kind}/{connector}"
    request.app.state.metrics.webhook(endpoint, result).inc()


async def _invalid(request: Request, exc: RequestValidationError) -> Response:
    """422 as problem details naming each field (never echoing the input), on every route."""
    errors = [FieldProblem(field=_field(error), detail=str(error.get("msg", "invalid"))) for error in exc.errors()][:20]
    if request.url.path.startswith(PREFIX + "/"):
        request.app.state.metrics.webhooks.labels("api_v1", "invalid").inc()
    return answer(request, Problem(422, "Unprocessable Content", "the request does not validate; nothing was stored",
                                   errors))


def _field(error: Any) -> str:
    """``patient.phone`` from pydantic's location; the body itself when it is no JSON at all."""
    named = (error.get("ctx") or {}).get("field")  # a rule over several fields names the one to fix
    location = [str(part) for part in error.get("loc", ())[1:]] + ([str(named)] if named else [])
    if error.get("type") == "json_invalid" or not location:
        return "(body)"
    return ".".join(location)


async def _http(request: Request, exc: Exception) -> Response:
    """The framework's own refusals (a body it cannot parse, no such route or method)."""
    assert isinstance(exc, StarletteHTTPException)
    return answer(request, from_http_exception(exc))


def install(app: FastAPI) -> None:
    """The API's state and error answers on ``app`` (its router is in server.app.routers())."""
    # A bucket per source that never waits; in the store when replicas share it (PostgreSQL).
    app.state.api_limiter = push_limiter(app.state.store.engine)
    app.state.push_receivers = {}
    app.exception_handler(Problem)(_problem)
    app.exception_handler(OrphanedPushRefused)(_orphaned)
    app.exception_handler(RequestValidationError)(_invalid)
    app.exception_handler(StarletteHTTPException)(_http)
