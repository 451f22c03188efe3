"""The FHIR Subscription rest-hook endpoint: ``/hooks/fhir/{connector}``.

What a FHIR server sends here (see docs/connectors/fhir_subscriptions.md):

- ``POST /hooks/fhir/{connector}`` with no body: an R4 rest-hook without payload (the
  connector is polled now);
- ``POST /hooks/fhir/{connector}`` with a notification Bundle: topic-based (Backport IG,
  R4B, R5): handshake, heartbeat, event-notification, query-status;
- ``PUT /hooks/fhir/{connector}/Appointment/{id}`` with the Appointment, ``DELETE`` the
  same path: an R4 rest-hook with ``channel.payload`` (HAPI treats the endpoint as a FHIR
  base and updates the resource there). The PUT is a change signal, never a write;
- ``POST /hooks/fhir/{connector}`` with the bare Appointment: Medplum's rest-hook (the
  same change signal); its delete is a POST of ``{}`` with ``X-Medplum-Interaction:
  delete`` and ``X-Medplum-Deleted-Resource: Appointment/{id}``. Medplum's ``X-Signature``
  (HMAC-SHA256 of the body), when sent, must match the subscription secret.

Every request must carry the ``Authorization`` header the Subscription was created with
(``channel.header``); it is compared in constant time before a byte of the body is read.
Notifications are rate limited per connector (429 with Retry-After). The body is bounded
by ``server.max_body_bytes`` (413 beyond) and its nesting checked
before it is parsed. A body that is no notification is refused (400, naming the element)
and nothing is stored; an Appointment that does not map is quarantined and answered 200,
as the server would only send it again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from clinicsync.common.bounded_json import load_json
from clinicsync.connectors.fhir.notifications import (
    NotificationError,
    appointment_body,
    bare_appointment,
    medplum_deleted,
    read_notification,
)
from clinicsync.connectors.fhir.settings import FhirSettings
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.server.fhir_inbox import FhirInbox, Handled, Inboxes
from clinicsync.sync.server.problems import Problem

log = structlog.get_logger("clinicsync.fhir.hooks")
PREFIX = "/hooks/fhir"
MAX_DEPTH = 32  # a notification Bundle carrying Appointments nests about a dozen levels
JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
AppointmentId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\-.]{1,64}$",
                                    description="the Appointment's logical id (FHIR id syntax)")]
ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or a wrong Authorization header: nothing read, nothing stored"},
    429: {"description": "too many notifications from this server (see Retry-After); nothing stored"},
    400: {"description": "the body is no notification this endpoint reads (the element is named); nothing stored"},
    413: {"description": "the body is larger than server.max_body_bytes"},
    415: {"description": "the body is not FHIR JSON (create the Subscription with payload application/fhir+json)"},
}
router = APIRouter(prefix=PREFIX, tags=["FHIR subscriptions"], responses=ANSWERS)


class Refused(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


def public_endpoint(settings: Settings, connector: str) -> str | None:
    """The URL a FHIR server should call for ``connector``: server.public_url + the path."""
    base = settings.server.public_url if settings.server else None
    return f"{str(base).rstrip('/')}{PREFIX}/{connector}" if base is not None else None


def _subscribed(request: Request, connector: str) -> FhirSettings:
    """The connector, if the request carries its subscription's bearer (else 401). Unknown
    names are answered the same way, so the endpoint does not tell which connectors exist."""
    settings: Settings = request.app.state.settings
    config = next((c for c in settings.connectors if isinstance(c, FhirSettings) and c.name == connector
                   and c.enabled and c.subscription is not None), None)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    expected = config.subscription.secret.get_secret_value() if config and config.subscription else ""
    matches = hmac.compare_digest(token.strip().encode(), expected.encode())
    if config is None or scheme.lower() != "bearer" or not matches:
        _count(request, connector if config else "unknown", "unauthorized")
        if config is not None:  # a rotated secret stops the feed: said, never the token
            log.warning("fhir.hook.unauthorized", connector=config.name,
                        reason="no bearer" if not token.strip() else "not the subscription secret",
                        fix="run `clinicsync fhir subscribe` so the server's Subscription sends the current secret")
        raise Refused(401, "send the Authorization header the Subscription was created with (channel.header)",
                      {"WWW-Authenticate": 'Bearer realm="clinicsync"'})
    assert config.subscription is not None
    wait = request.app.state.api_limiter.try_acquire(f"fhir:{config.name}", config.subscription.rate_per_second,
                                                     config.subscription.burst)
    if wait:
        _count(request, config.name, "rate_limited")
        raise Refused(429, f"at most {config.subscription.rate_per_second:g} notifications per second",
                      {"Retry-After": str(max(1, round(wait + 0.5)))})
    return config


Subscribed = Annotated[FhirSettings, Depends(_subscribed)]


def _count(request: Request, connector: str, result: str) -> None:
    request.app.state.metrics.webhooks.labels(f"fhir:{connector}", result).inc()


def _inbox(request: Request, config: FhirSettings) -> FhirInbox:
    inboxes: Inboxes = request.app.state.fhir_inboxes
    return inboxes.get(config)


async def _json(request: Request) -> Any | None:
    """The body as JSON, None when there is none (bounded by the RequestBounds middleware)."""
    body = await request.body()
    if not body.strip():
        return None
    kind = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind not in JSON_TYPES:
        raise Refused(415, "send FHIR JSON (Subscription channel.payload application/fhir+json)")
    try:
        loaded = load_json(body, MAX_DEPTH)
    except ValueError:
        raise Refused(400, "the body is not JSON (or nests too deeply)") from None
    if loaded is None:  # JSON null is no ping (that is an empty body): refused, not read as one
        raise Refused(400, "the body is JSON null, not a notification or an Appointment")
    return loaded


def _answer(request: Request, config: FhirSettings, result: dict[str, Any]) -> JSONResponse:
    for outcome, count in result["results"].items():
        request.app.state.metrics.webhooks.labels(f"fhir:{config.name}", outcome).inc(count)
    if not result["results"]:
        _count(request, config.name, result["notification"])
    return JSONResponse(result)


@router.post("/{connector}", summary="A notification: empty (R4 rest-hook), a notification Bundle (topic-based) "
             "or the bare Appointment (Medplum)")
async def notified(connector: str, request: Request, config: Subscribed) -> JSONResponse:
    inbox = _inbox(request, config)
    try:
        gone = medplum_deleted(request.headers)
    except NotificationError as exc:
        _count(request, config.name, "invalid")
        raise Refused(400, str(exc)) from None
    if gone is not None:  # Medplum's delete: the body is only "{}", the header names the resource
        if gone[0] != "Appointment":
            return _answer(request, config, Handled("event-notification", Counter(ignored=1)).as_dict())
        handled = await run_in_threadpool(inbox.resource, gone[1], None)
        return _answer(request, config, handled.as_dict())
    body = await _json(request)
    if body is None:
        handled = await run_in_threadpool(inbox.pinged)
        return _answer(request, config, handled.as_dict())
    await _medplum_signature(request, config)
    try:
        resource = bare_appointment(body)
        notification = read_notification(body) if resource is None else None
    except NotificationError as exc:
        _count(request, config.name, "invalid")
        raise Refused(400, str(exc)) from None
    if resource is not None:  # Medplum POSTs the changed resource itself
        handled = await run_in_threadpool(inbox.resource, resource["id"], resource)
    else:
        assert notification is not None
        handled = await run_in_threadpool(inbox.notification, notification)
    return _answer(request, config, handled.as_dict())


async def _medplum_signature(request: Request, config: FhirSettings) -> None:
    """Medplum signs the body it sends (``X-Signature``: hex HMAC-SHA256) when its
    Subscription has the ``subscription-secret`` extension. The bearer already
    authenticated the request; a signature that is sent must also match (the extension set
    to the same secret), so a body altered on the way is refused (401), never stored."""
    sent = request.headers.get("X-Signature")
    if sent is None:
        return
    assert config.subscription is not None
    secret = config.subscription.secret.get_secret_value().encode()
    expected = hmac.new(secret, await request.body(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(sent.strip().lower().encode(), expected.encode()):
        _count(request, config.name, "unauthorized")
        raise Refused(401, "X-Signature does not match the body: set the Subscription's subscription-secret "
                      "extension to the connector's subscription secret, or leave it off")


@router.put("/{connector}/Appointment/{appointment_id}", summary="An R4 rest-hook with payload: the changed "
            "Appointment (a change signal, never a write)")
async def changed(connector: str, appointment_id: AppointmentId, request: Request,
                  config: Subscribed) -> JSONResponse:
    body = await _json(request)
    if body is None:
        _count(request, config.name, "invalid")
        raise Refused(400, "the PUT carries no Appointment (channel.payload application/fhir+json sends it)")
    try:
        resource = appointment_body(body, appointment_id)
    except NotificationError as exc:
        _count(request, config.name, "invalid")
        raise Refused(400, str(exc)) from None
    handled = await run_in_threadpool(_inbox(request, config).resource, appointment_id, resource)
    return _answer(request, config, handled.as_dict())


@router.delete("/{connector}/Appointment/{appointment_id}", summary="An R4 rest-hook with payload: the "
               "Appointment was deleted")
async def deleted(connector: str, appointment_id: AppointmentId, request: Request,
                  config: Subscribed) -> JSONResponse:
    handled = await run_in_threadpool(_inbox(request, config).resource, appointment_id, None)
    return _answer(request, config, handled.as_dict())


async def _refused(request: Request, exc: Refused) -> JSONResponse:
    """A refusal in the server's one error shape, problem+json."""
    return Problem(exc.status, detail=exc.detail, headers=exc.headers).response()


def install(app: Any) -> None:
    """The hooks' state and error answer on ``app`` (the router is in server.app.routers())."""
    app.state.fhir_inboxes = Inboxes(app.state.settings, app.state.store)
    app.exception_handler(Refused)(_refused)
