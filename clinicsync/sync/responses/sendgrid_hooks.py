"""SendGrid's Event Webhook: receipts for emails, verified with SendGrid's own EventWebhook
helper (ECDSA over timestamp + body). A stale timestamp is refused, so a captured request
cannot be replayed later. A hard bounce marks the address invalid (an opt-out on email),
so the next reminder falls back to another channel."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from clinicsync.common.bounded_json import load_json
from clinicsync.common.types import utcnow
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.dispatch import record_opt_out
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.responses.receipts import record_receipt
from clinicsync.sync.store.store import Store

router = APIRouter(prefix="/webhooks/sendgrid", tags=["webhooks"])
SIGNED: dict[int | str, dict[str, Any]] = {
    403: {"description": "missing, bad or stale signature: nothing recorded"},
    400: {"description": "the body is not a JSON list of events"}}
RECEIPTS = ("delivered", "bounce", "dropped", "deferred")
MAX_TIMESTAMP_DIGITS = 12  # Unix seconds until the year 33658; longer is forged
MAX_SIGNATURE_CHARS = 512  # base64 of a DER ECDSA P-256 signature is about 96


def verified(settings: Settings, body: bytes, signature: str | None, timestamp: str | None) -> bool:
    config = settings.responses
    key = config.sendgrid_verification_key
    if key is None or not signature or not timestamp:
        return False
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_TIMESTAMP_DIGITS
            and len(signature) <= MAX_SIGNATURE_CHARS):
        return False  # checked before any arithmetic: a 400-digit number overflows a float
    try:
        age = abs(time.time() - int(timestamp))
        helper = EventWebhook(key.get_secret_value().strip())
        return age <= config.webhook_max_age_seconds and bool(
            helper.verify_signature(body.decode("utf-8"), signature, timestamp))
    except (ValueError, TypeError):  # a malformed key, signature or timestamp
        return False


def hard_bounce(event: dict[str, Any]) -> bool:
    """A permanent bounce (not a temporary block), or a drop because the address bounced before."""
    if event.get("event") == "bounce":
        return event.get("type", "bounce") == "bounce"
    return event.get("event") == "dropped" and "bounce" in str(event.get("reason", "")).lower()


def apply_events(store: Store, events: list[Any]) -> dict[str, int]:
    counts = {"recorded": 0, "ignored": 0, "invalidated": 0}
    for event in events:
        if not isinstance(event, dict) or event.get("event") not in RECEIPTS:
            counts["ignored"] += 1
            continue
        message_id = str(event.get("sg_message_id") or "").split(".")[0]
        reason = event.get("type") if event.get("event") == "bounce" else None
        known = bool(message_id) and record_receipt(store, message_id, str(event["event"]), reason)
        counts["recorded" if known else "ignored"] += 1
        address = event.get("email")
        if known and hard_bounce(event) and isinstance(address, str) and address:
            with writer(store.engine) as connection:
                if record_opt_out(connection, "email", address, "bounce", utcnow()):
                    counts["invalidated"] += 1
    return counts


@router.post("/events", summary="SendGrid Event Webhook (delivered, bounce, dropped, deferred)",
             response_class=Response, responses=SIGNED)
async def events(request: Request) -> Response:
    metrics = request.app.state.metrics.webhooks
    body = await request.body()
    if not verified(request.app.state.settings, body, request.headers.get(EventWebhookHeader.SIGNATURE),
                    request.headers.get(EventWebhookHeader.TIMESTAMP)):
        metrics.labels("sendgrid_events", "forbidden").inc()
        raise HTTPException(403, detail="forbidden")  # answered as problem+json
    try:
        payload = load_json(body)
    except ValueError:  # not JSON, not UTF-8, or nested deeper than any event batch
        payload = None
    if not isinstance(payload, list):
        metrics.labels("sendgrid_events", "invalid").inc()
        raise HTTPException(400, detail="expected a JSON list of events")  # answered as problem+json
    counts = await run_in_threadpool(apply_events, request.app.state.store, payload)
    for result, count in counts.items():
        if count:
            metrics.labels("sendgrid_events", result).inc(count)
    return Response(status_code=204)
