"""Amazon SNS HTTPS subscription for the AWS SMS notifier: two-way replies and delivery events.

AWS End User Messaging SMS publishes each inbound text to an SNS topic (two-way SMS) and,
through a configuration set's event destination, each delivery event to a topic; SNS posts
both here. Every message's signature is checked (sns_signature) before its ``Message`` is
read; a forged, stale or foreign-topic message gets 403 and nothing is recorded. A
subscription confirmation is confirmed by fetching its SubscribeURL, on the same trusted
SNS host only. Replies go through the same keyword interpretation as Twilio's (YES/C/NO/
STOP in the patient's language); delivery events move receipts like Twilio's callbacks.
"""

from __future__ import annotations

from typing import Any

import httpx
import structlog
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from clinicsync.common.bounded_json import load_json
from clinicsync.notifiers.aws_sms import AwsSmsSettings
from clinicsync.notifiers.base import Message, NotifierError
from clinicsync.notifiers.registry import build_notifier
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.responses.receipts import record_receipt
from clinicsync.sync.responses.record import ReplyResult, handle_reply
from clinicsync.sync.responses.sns_signature import (
    CertificateCache,
    SignatureError,
    topic_region,
    trusted_sns_url,
    verify,
)
from clinicsync.sync.store.store import Store

router = APIRouter(prefix="/webhooks/aws", tags=["webhooks"])
SIGNED: dict[int | str, dict[str, Any]] = {
    403: {"description": "not signed by SNS for a configured topic, or stale: nothing recorded"},
    400: {"description": "not an SNS message"}}
CERTIFICATES = CertificateCache()
MAX_JSON_DEPTH = 8
# AWS End User Messaging's messageStatus -> the receipt status it means (others: a final failure).
DELIVERY = {"DELIVERED": "delivered", "SUCCESSFUL": "sent", "PENDING": "queued", "QUEUED": "queued"}
ANSWERED = ("applied", "unrecognized", "no_appointment", "help")  # outcomes we text an answer for
log = structlog.get_logger("clinicsync.responses")


def _aws_settings(settings: Settings, topic: Any) -> AwsSmsSettings | None:
    return next((n for n in settings.notifiers if isinstance(n, AwsSmsSettings) and topic in n.inbound_topic_arns),
                None)


def _json_object(text: str | bytes) -> dict[str, Any] | None:
    """A JSON object nesting at most MAX_JSON_DEPTH levels, else None (never a parser's recursion)."""
    try:
        value = load_json(text.encode("utf-8") if isinstance(text, str) else text, MAX_JSON_DEPTH)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _answer(settings: Settings, config: AwsSmsSettings, phone: str, result: ReplyResult, inbound_id: str) -> None:
    """Text the patient our short answer, once per inbound message (a duplicate is never answered)."""
    if result.outcome not in ANSWERED or not result.answer:
        return
    notifier = build_notifier(config)
    try:
        notifier.send(Message("sms", phone, result.answer, f"reply:{inbound_id}", language=result.language or "en"))
    except NotifierError as exc:
        log.warning("responses.answer_failed", provider="aws_sms", reason=str(exc))
    finally:
        notifier.close()


def _reply(settings: Settings, store: Store, config: AwsSmsSettings, payload: dict[str, Any]) -> str:
    sender, body = payload.get("originationNumber"), payload.get("messageBody")
    inbound_id = str(payload.get("inboundMessageId") or "")
    if not isinstance(sender, str) or not isinstance(body, str) or not inbound_id:
        return "ignored"
    result = handle_reply(settings, store, "sms", sender, body, f"aws:{inbound_id}")
    _answer(settings, config, sender, result, inbound_id)
    return result.outcome


def _delivery(store: Store, payload: dict[str, Any]) -> str:
    message_id, status = payload.get("messageId"), str(payload.get("messageStatus") or "").upper()
    if not isinstance(message_id, str) or not status or status == "UNKNOWN":
        return "ignored"
    receipt = DELIVERY.get(status, "failed")
    detail = None if receipt != "failed" else f"AWS {status}"[:80]
    return "recorded" if record_receipt(store, message_id, receipt, detail) else "ignored"


def handle(settings: Settings, store: Store, config: AwsSmsSettings, message: dict[str, Any]) -> str:
    """Act on one verified SNS message; the result names what happened (for metrics)."""
    kind, topic = message["Type"], message["TopicArn"]
    if kind == "SubscriptionConfirmation":
        url = str(message.get("SubscribeURL", ""))
        if not trusted_sns_url(url, topic_region(topic)):
            return "refused"
        try:
            confirmed = httpx.get(url, timeout=10, follow_redirects=False).status_code == 200
        except httpx.HTTPError:
            confirmed = False
        log.info("responses.sns_subscription", topic=topic, confirmed=confirmed)
        return "confirmed" if confirmed else "unconfirmed"
    if kind == "UnsubscribeConfirmation":
        log.warning("responses.sns_unsubscribed", topic=topic)
        return "unsubscribed"
    payload = _json_object(str(message.get("Message", "")))
    if payload is None:
        return "ignored"
    if "originationNumber" in payload:
        return _reply(settings, store, config, payload)
    if "messageStatus" in payload:
        return _delivery(store, payload)
    return "ignored"


@router.post("/sns", summary="Amazon SNS: two-way SMS replies and delivery events for the aws_sms notifier",
             response_class=Response, responses=SIGNED)
async def sns(request: Request) -> Response:
    metrics = request.app.state.metrics.webhooks
    settings: Settings = request.app.state.settings
    message = _json_object(await request.body())
    if message is None:
        metrics.labels("aws_sns", "invalid").inc()
        raise HTTPException(400, detail="expected an SNS message (JSON object)")  # answered as problem+json
    config = _aws_settings(settings, message.get("TopicArn"))
    refusal = "TopicArn is not one of the configured inbound_topic_arns" if config is None else None
    if config is not None:
        rehearsal = settings.responses.insecure_sns_signing_certs_from_local_server_for_rehearsal
        if rehearsal is not None:
            log.warning("responses.sns_rehearsal", detail="REHEARSAL: SNS signing certificates are fetched from a "
                                                         "local server, not from AWS")
        try:
            await run_in_threadpool(verify, message, set(config.inbound_topic_arns), CERTIFICATES, None,
                                    str(rehearsal) if rehearsal is not None else None)
        except SignatureError as exc:
            refusal = str(exc)
    if config is None or refusal:
        log.warning("responses.sns_refused", reason=refusal)
        metrics.labels("aws_sns", "forbidden").inc()
        raise HTTPException(403, detail="forbidden")  # answered as problem+json
    result = await run_in_threadpool(handle, settings, request.app.state.store, config, message)
    metrics.labels("aws_sns", result).inc()
    return Response(status_code=204)
