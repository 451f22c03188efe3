"""SendGrid's Event Webhook through the real app, signed with a real ECDSA key made here and
checked by SendGrid's own EventWebhook helper: receipts, a hard bounce invalidating the
address (the next reminder falls back to SMS), forged and replayed requests refused."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model.reminders import DELIVERIES, OPT_OUTS, REMINDERS
from clinicsync.sync.store.store import Store
from tests.responses.test_record import BASE, rows
from tests.sync.reminders.conftest import SettingsMaker, appointment, put
from tests.sync.reminders.fakes import read_log

pytestmark = pytest.mark.anyio
KEY = ec.generate_private_key(ec.SECP256R1())
OTHER = ec.generate_private_key(ec.SECP256R1())
PATH = "/webhooks/sendgrid/events"
EMAIL = "ana@example.org"
START = datetime(2030, 6, 12, 14, tzinfo=UTC)
BOOKED = START - timedelta(days=10)


def public_key(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def signed(body: bytes, key: ec.EllipticCurvePrivateKey = KEY, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp, "Content-Type": "application/json"}


@pytest.fixture
def settings(reminder_settings: SettingsMaker) -> Settings:
    return reminder_settings(BASE, extra_notifiers=f"responses:\n  sendgrid_verification_key: {public_key(KEY)}\n")


@pytest.fixture
async def client(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, store)),
                                 base_url="http://test") as client:
        yield client


def emailed_confirmation(settings: Settings, store: Store) -> Any:
    """A booking whose confirmation went out by email (the patient prefers email)."""
    put(store, appointment("A1", START, channel="email"))
    plan(settings, store, BOOKED)
    Dispatcher(settings, store, BOOKED).run()
    [sent] = [r for r in rows(store, REMINDERS) if r.status == "sent"]
    assert sent.channel == "email"
    return sent


def event(sent: Any, kind: str, **extra: Any) -> dict[str, Any]:
    return {"email": EMAIL, "timestamp": int(time.time()), "event": kind, "reminder_id": str(sent.id),
            "sg_message_id": f"{sent.provider_id}.filterdrecv-1-0", **extra}


async def test_a_hard_bounce_invalidates_the_address_and_the_next_reminder_uses_sms(
        client: httpx.AsyncClient, store: Store, settings: Settings, tmp_path: Any) -> None:
    sent = emailed_confirmation(settings, store)
    body = json.dumps([event(sent, "deferred"), event(sent, "bounce", type="bounce", reason="550 no such user"),
                       event(sent, "open")]).encode()
    response = await client.post(PATH, content=body, headers=signed(body))
    assert response.status_code == 204
    [reminder] = [r for r in rows(store, REMINDERS) if r.id == sent.id]
    assert (reminder.status, reminder.reason) == ("failed", "the provider reported bounce (bounce)")
    assert rows(store, DELIVERIES)[0].provider_status == "bounce"
    assert [(o.channel, o.address, o.source) for o in rows(store, OPT_OUTS)] == [("email", EMAIL, "bounce")]
    Dispatcher(settings, store, START - timedelta(days=1)).run()
    [text] = read_log(tmp_path / "texts.jsonl")
    assert text["channel"] == "sms" and len(read_log(tmp_path / "mails.jsonl")) == 1
    metrics = (await client.get("/metrics")).text
    assert 'clinicsync_webhook_requests_total{endpoint="sendgrid_events",result="invalidated"} 1.0' in metrics


async def test_delivered_and_a_temporary_block(client: httpx.AsyncClient, store: Store, settings: Settings) -> None:
    sent = emailed_confirmation(settings, store)
    body = json.dumps([event(sent, "delivered")]).encode()
    assert (await client.post(PATH, content=body, headers=signed(body))).status_code == 204
    assert [r.status for r in rows(store, REMINDERS) if r.id == sent.id] == ["delivered"]
    blocked = json.dumps([event(sent, "bounce", type="blocked")]).encode()
    await client.post(PATH, content=blocked, headers=signed(blocked))
    assert rows(store, OPT_OUTS) == []  # a block is not a dead address


@pytest.mark.parametrize("forgery", ["unsigned", "other key", "tampered", "replayed", "future"])
async def test_forged_or_replayed_events_change_nothing(client: httpx.AsyncClient, store: Store,
                                                        settings: Settings, forgery: str) -> None:
    sent = emailed_confirmation(settings, store)
    body = json.dumps([event(sent, "bounce", type="bounce")]).encode()
    headers = {
        "unsigned": {"Content-Type": "application/json"},
        "other key": signed(body, OTHER),
        "tampered": signed(body.replace(b"bounce", b"delivered", 1)),
        "replayed": signed(body, at=time.time() - 3600),
        "future": signed(body, at=time.time() + 3600),
    }[forgery]
    assert (await client.post(PATH, content=body, headers=headers)).status_code == 403
    assert rows(store, OPT_OUTS) == [] and [r.status for r in rows(store, REMINDERS) if r.id == sent.id] == ["sent"]


async def test_not_a_list_is_a_bad_request(client: httpx.AsyncClient) -> None:
    body = b'{"event": "delivered"}'
    assert (await client.post(PATH, content=body, headers=signed(body))).status_code == 400
