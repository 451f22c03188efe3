"""Twilio webhooks: inbound SMS/WhatsApp replies and message status callbacks.

Every request is checked with Twilio's own RequestValidator against the URL Twilio
called (``server.public_url`` + path, for deployments behind a proxy); a bad or missing
signature gets 403 before anything is read into the store."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from clinicsync.notifiers.phone import WHATSAPP_PREFIX
from clinicsync.notifiers.twilio_base import TwilioSettings
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.responses.receipts import record_receipt
from clinicsync.sync.responses.record import handle_reply

router = APIRouter(prefix="/webhooks/twilio", tags=["webhooks"])
TWIML = "application/xml"
SIGNED: dict[int | str, dict[str, Any]] = {403: {"description": "missing or bad X-Twilio-Signature: nothing recorded"}}


def public_url(request: Request) -> str:
    """The URL the caller signed: the configured public URL with this path and query."""
    settings: Settings = request.app.state.settings
    base = settings.server.public_url if settings.server else None
    if base is None:
        return str(request.url)
    url = str(base).rstrip("/") + request.url.path
    return f"{url}?{request.url.query}" if request.url.query else url


async def verified_form(request: Request) -> dict[str, str] | None:
    """The posted form if a configured Twilio auth token signed it, else None."""
    settings: Settings = request.app.state.settings
    tokens = [n.auth_token.get_secret_value() for n in settings.notifiers if isinstance(n, TwilioSettings)]
    signature = request.headers.get("X-Twilio-Signature")
    if not tokens or not signature:
        return None
    form = {key: value for key, value in (await request.form()).multi_items() if isinstance(value, str)}
    url = public_url(request)
    if any(RequestValidator(token).validate(url, form, signature) for token in tokens):
        return form
    return None


def _count(request: Request, endpoint: str, result: str) -> None:
    request.app.state.metrics.webhooks.labels(endpoint, result).inc()


def _twiml(text: str | None) -> Response:
    reply = MessagingResponse()
    if text:
        reply.message(text)
    return Response(str(reply), media_type=TWIML)


@router.post("/inbound", summary="An SMS or WhatsApp reply from a patient (answered with TwiML)",
             response_class=Response, responses=SIGNED)
async def inbound(request: Request) -> Response:
    form = await verified_form(request)
    if form is None:
        _count(request, "twilio_inbound", "forbidden")
        raise HTTPException(403, detail="forbidden")  # answered as problem+json
    missing = [name for name in ("From", "MessageSid") if not form.get(name)]
    if missing:  # Twilio always sends both: a signed form without them is no reply to record
        _count(request, "twilio_inbound", "invalid")
        raise HTTPException(400, detail=f"the form has no {' and no '.join(missing)}")
    sender = form["From"]
    channel = "whatsapp" if sender.lower().startswith(WHATSAPP_PREFIX) else "sms"
    result = await run_in_threadpool(handle_reply, request.app.state.settings, request.app.state.store, channel,
                                     sender, form.get("Body", ""), form["MessageSid"])
    _count(request, "twilio_inbound", result.outcome)
    return _twiml(result.answer)


@router.post("/status", summary="A message status callback (queued, sent, delivered, undelivered, failed)",
             response_class=Response, responses=SIGNED)
async def status(request: Request) -> Response:
    form = await verified_form(request)
    if form is None:
        _count(request, "twilio_status", "forbidden")
        raise HTTPException(403, detail="forbidden")  # answered as problem+json
    sid, state = form.get("MessageSid", ""), form.get("MessageStatus", "")
    code = form.get("ErrorCode")
    known = bool(sid and state) and await run_in_threadpool(
        record_receipt, request.app.state.store, sid, state, f"error {code}" if code else None)
    _count(request, "twilio_status", "recorded" if known else "ignored")
    return Response(status_code=204)
