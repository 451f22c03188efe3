"""Booking tools' webhooks: ``POST /webhooks/{calcom|easyappointments|acuity}/{connector}``.

Each request is checked in the same order, and nothing is stored before the last step:
1. the connector must exist, be enabled and be of the route's kind (404 otherwise);
2. the vendor's signature or token is verified on the RAW body, before any parsing, by the
   kind's module in connectors/ (401 without a credential, 403 with a wrong one or a stale
   body);
3. the source's rate limit (429 with Retry-After; the same per-source bucket as the API);
4. the body is parsed with its size (server.max_body_bytes, RequestBounds) and nesting
   (bounded_json) bounded; a body that is not the vendor's shape is 400 naming the field;
5. the record goes through the push contract (sync/ingest/push.py): mapping, change detection
   and the outbox in one transaction, committed before the 2xx. A record that does not
   map is quarantined with its reason (a vendor cannot fix and resend) and answered 200.

Logs and answers name the connector, the trigger and the outcome, never the body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from clinicsync.common.bounded_json import load_json
from clinicsync.common.logs import emits
from clinicsync.common.types import utcnow
from clinicsync.connectors import acuity, calcom, easyappointments
from clinicsync.connectors.acuity import AcuityConnector, AcuitySettings
from clinicsync.connectors.base import ConnectorError, RetriableConnectorError
from clinicsync.connectors.booking_hooks import BookingHookSettings, WebhookMalformed, WebhookRefused, digest
from clinicsync.connectors.calcom import CalcomSettings
from clinicsync.connectors.easyappointments import EasyAppointmentsConnector, EasyAppointmentsSettings
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.push import PushReceiver, PushResult, Withdrawn
from clinicsync.sync.ingest.push_hooks import DUPLICATE, merge_chain, receipt_and_alias, received_or_chain, unchained
from clinicsync.sync.server.api import FieldProblem, Problem, take_token

log = structlog.get_logger("clinicsync.webhooks")
router = APIRouter(prefix="/webhooks", tags=["booking webhooks"])
S = TypeVar("S", bound=BookingHookSettings)
ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "received: `result` says what it changed (created, rescheduled, cancelled, unchanged, "
                         "duplicate, quarantined, ignored, …)"},
    400: {"description": "an authentic body that is not the vendor's shape; the field is named, nothing stored"},
    401: {"description": "no signature or token"}, 403: {"description": "a wrong signature or token, or a stale body"},
    404: {"description": "no such enabled connector of this kind"},
    429: {"description": "too many webhooks from this source (see Retry-After)"},
    503: {"description": "the appointment could not be read from the vendor; send again later"},
}


def _count(request: Request, config: BookingHookSettings, result: str) -> None:
    request.app.state.metrics.webhook(f"{config.kind}/{config.name}", result).inc()


def _config(request: Request, model: type[S], name: str) -> S:
    settings: Settings = request.app.state.settings
    found = next((c for c in settings.connectors if isinstance(c, model) and c.name == name and c.enabled), None)
    if found is None:
        kind = model.model_fields["kind"].default
        request.app.state.metrics.webhooks.labels(kind, "unknown_connector").inc()
        raise Problem(404, "Not Found", f"no enabled {kind} connector of this name")
    return found


def _refused(request: Request, config: BookingHookSettings, refusal: WebhookRefused) -> Problem:
    _count(request, config, "unauthorized" if refusal.status == 401 else "forbidden")
    log.warning("webhook.refused", connector=config.name, kind=config.kind, status=refusal.status,
                reason=refusal.reason)
    return Problem(refusal.status, "Unauthorized" if refusal.status == 401 else "Forbidden", refusal.reason)


def _malformed(request: Request, config: BookingHookSettings, problem: WebhookMalformed) -> Problem:
    _count(request, config, "invalid")
    log.warning("webhook.invalid", connector=config.name, kind=config.kind, field=problem.field)
    return Problem(400, "Bad Request", "the body is not the vendor's documented shape; nothing was stored",
                   [FieldProblem(field=problem.field, detail=problem.reason)])


async def _admit(request: Request, config: BookingHookSettings, verify: Callable[[], None]) -> None:
    """Every hook's first steps, in this order: the vendor's signature or token (``verify``,
    before anything of the body is parsed), then the source's rate (api.take_token: a bucket
    in the store is taken in the thread pool, not on the event loop)."""
    try:
        verify()
    except WebhookRefused as refusal:
        raise _refused(request, config, refusal) from None
    wait = await take_token(request, config.name, config.rate_per_second, config.burst)
    if wait:
        _count(request, config, "rate_limited")
        raise Problem(429, "Too Many Requests", f"this source may send {config.rate_per_second:g} webhooks per "
                      "second", headers={"Retry-After": str(max(1, round(wait + 0.5)))})


def _json(request: Request, config: BookingHookSettings, body: bytes) -> Any:
    try:
        return load_json(body)
    except ValueError:
        problem = WebhookMalformed("(body)", "not JSON (UTF-8), or nested too deep")
        raise _malformed(request, config, problem) from None


def _receiver(request: Request, config: BookingHookSettings) -> PushReceiver:
    receivers: dict[str, PushReceiver] = request.app.state.push_receivers
    if config.name not in receivers:
        receivers[config.name] = PushReceiver(request.app.state.settings, request.app.state.store, config)
    return receivers[config.name]


def _answer(request: Request, config: BookingHookSettings, outcome: str, trigger: str,
            result: PushResult | None = None) -> JSONResponse:
    _count(request, config, outcome)
    if emits(logging.INFO):  # logging warnings only (as W8 does): no event to build
        log.info("webhook.received", connector=config.name, kind=config.kind, trigger=trigger, result=outcome)
    content: dict[str, Any] = {"result": outcome}
    if result is not None and result.problem is not None and outcome == "quarantined":
        content |= {"field": result.problem.field, "reason": result.problem.reason}
    return JSONResponse(content)


# -- Cal.com ---------------------------------------------------------------------------------
@router.post("/calcom/{name}", summary="A Cal.com booking webhook (X-Cal-Signature-256)", responses=ANSWERS)
async def calcom_hook(name: str, request: Request) -> JSONResponse:
    config = _config(request, CalcomSettings, name)
    body = await request.body()
    await _admit(request, config, lambda: calcom.verify(config, body, request.headers.get(calcom.SIGNATURE_HEADER)))
    data = _json(request, config, body)
    max_age = timedelta(seconds=config.max_age_seconds)
    try:
        event = calcom.read(data, utcnow(), max_age)
    except WebhookRefused as refusal:
        raise _refused(request, config, refusal) from None
    except WebhookMalformed as problem:
        raise _malformed(request, config, problem) from None
    if not event.applied:
        return _answer(request, config, "ignored", event.trigger)
    outcome, result = await run_in_threadpool(_apply_calcom, request, config, body, data, event, max_age)
    return _answer(request, config, outcome, event.trigger, result)


def _apply_calcom(request: Request, config: CalcomSettings, body: bytes, data: dict[str, Any],
                  event: calcom.CalEvent, max_age: timedelta) -> tuple[str, PushResult | None]:
    """Apply once per body; a reschedule's new uid becomes an alias of the booking it moved,
    and the chain, however it arrived, is one appointment keyed by its first uid
    (sync/ingest/push_hooks.py: merged parts; a rescheduled uid's record is old news)."""
    store = request.app.state.store
    body_digest = digest(body)
    assert event.uid is not None  # an applied trigger has one (calcom.read)
    if event.reschedule_uid is None:  # most webhooks: the first read in the push's transaction
        position = f"calcom {event.trigger} {event.uid}"
        first = unchained(config.name, position, body_digest, event.uid, 2 * max_age)
        try:
            result = _receiver(request, config).receive(calcom.record(data, event.uid), position,
                                                        quarantine_bad=True, within=first)
            return result.outcome, result
        except Withdrawn as why:
            if why.args[0] == DUPLICATE:
                return "duplicate", None
        # The uid is in a reschedule chain: the chain's way, below.
    chain = received_or_chain(store, config.name, body_digest, event.uid, event.reschedule_uid)
    if chain is None:
        return "duplicate", None
    receiver = _receiver(request, config)
    position = f"calcom {event.trigger} {event.uid}"
    merge_chain(receiver, chain, position)
    # Receipts live twice the window: a body older than the window is refused before this.
    alias = (event.uid, event.reschedule_uid) if event.reschedule_uid else None
    within = receipt_and_alias(config.name, position, body_digest, 2 * max_age, alias)
    if chain.stale:  # only the edge and the receipt: the chain already holds later news
        receiver.commit([], [], within)
        return "unchanged", None
    result = receiver.receive(calcom.record(data, chain.root), position, quarantine_bad=True, within=within)
    return result.outcome, result


# -- Easy!Appointments -----------------------------------------------------------------------
@router.post("/easyappointments/{name}", summary="An Easy!Appointments webhook (secret token header)",
             responses=ANSWERS)
async def easyappointments_hook(name: str, request: Request) -> JSONResponse:
    config = _config(request, EasyAppointmentsSettings, name)
    await _admit(request, config, lambda: easyappointments.verify(config, request.headers.get(config.token_header)))
    data = _json(request, config, await request.body())
    try:
        event = easyappointments.read(data)
    except WebhookMalformed as problem:
        raise _malformed(request, config, problem) from None
    if not event.applied or event.appointment_id is None:
        return _answer(request, config, "ignored", event.action)
    position = f"easyappointments {event.action} {event.appointment_id}"
    receiver = _receiver(request, config)
    result: PushResult | None
    connector = EasyAppointmentsConnector(config)
    if event.action == easyappointments.DELETE:
        # The delete carries the row: one that overtook its save is stored cancelled (the save,
        # arriving later, is older), as save-then-delete would have left it.
        result = await run_in_threadpool(lambda: receiver.cancel(event.appointment_id, position,  # type: ignore[arg-type]
                                                                 connector.with_customer(data)))
        return _answer(request, config, "unknown" if result is None else result.outcome, event.action, result)
    result = await run_in_threadpool(lambda: receiver.receive(connector.with_customer(data), position,
                                                              quarantine_bad=True))
    return _answer(request, config, result.outcome, event.action, result)


# -- Acuity Scheduling -----------------------------------------------------------------------
@router.post("/acuity/{name}", summary="An Acuity Scheduling webhook (X-Acuity-Signature)", responses=ANSWERS)
async def acuity_hook(name: str, request: Request) -> JSONResponse:
    config = _config(request, AcuitySettings, name)
    body = await request.body()
    await _admit(request, config, lambda: acuity.verify(config, body, request.headers.get(acuity.SIGNATURE_HEADER)))
    try:
        event = acuity.read(body)
    except WebhookMalformed as problem:
        raise _malformed(request, config, problem) from None
    if not event.applied or event.appointment_id is None:
        return _answer(request, config, "ignored", event.action)
    try:
        outcome, result = await run_in_threadpool(_apply_acuity, request, config, event)
    except ConnectorError as exc:
        _count(request, config, "fetch_failed")
        log.warning("webhook.fetch_failed", connector=config.name, kind=config.kind, error=str(exc),
                    retriable=isinstance(exc, RetriableConnectorError))
        raise Problem(503, "Service Unavailable", "the appointment could not be read from Acuity; nothing was "
                      "stored, send again later", headers={"Retry-After": "60"}) from None
    return _answer(request, config, outcome, event.action, result)


def _apply_acuity(request: Request, config: AcuitySettings,
                  event: acuity.AcuityEvent) -> tuple[str, PushResult | None]:
    """Read the appointment the webhook names, then apply it (a cancel of one Acuity no
    longer has cancels what is stored)."""
    assert event.appointment_id is not None
    position = f"acuity {event.action} {event.appointment_id}"
    receiver = _receiver(request, config)
    appointment = AcuityConnector(config).appointment(event.appointment_id)
    if appointment is None:
        if event.action == "canceled":
            cancelled = receiver.cancel(event.appointment_id, position)
            return ("unknown", None) if cancelled is None else (cancelled.outcome, cancelled)
        return "unknown", None
    result = receiver.receive(acuity.record(event, appointment), position, quarantine_bad=True)
    return result.outcome, result
