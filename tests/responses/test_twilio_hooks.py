"""Twilio webhooks through the real app (httpx ASGI transport), signed by Twilio's own
RequestValidator: replies become participation, status callbacks become receipts, and
a forged or unsigned request changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model.reminders import DELIVERIES, OPT_OUTS, REMINDERS
from clinicsync.sync.store.model.responses import RESPONSES
from clinicsync.sync.store.store import Store
from tests.responses.test_record import BASE, PHONE, participation, rows
from tests.sync.reminders.conftest import SettingsMaker, appointment, put

pytestmark = pytest.mark.anyio
TOKEN = "0123456789abcdef0123456789abcdef"
PUBLIC = "https://clinic.example.org/hooks"  # behind a proxy: Twilio signs the public URL
TWILIO = (f"  - name: twilio\n    kind: twilio_sms\n    account_sid: AC{'a' * 32}\n    auth_token: {TOKEN}\n"
          f"    from_number: \"+12125550100\"\nserver:\n  public_url: {PUBLIC}\n")


@pytest.fixture
def settings(reminder_settings: SettingsMaker) -> Settings:
    return reminder_settings(BASE + "\nconfirmation: false", extra_notifiers=TWILIO)


@pytest.fixture
async def client(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal") as client:
        yield client


def signed(path: str, form: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(PUBLIC + path, form)}


def inbound_form(body: str, sid: str = "SM1", sender: str = PHONE) -> dict[str, str]:
    return {"MessageSid": sid, "From": sender, "To": "+12125550100", "Body": body, "AccountSid": "AC" + "a" * 32}


async def post(client: httpx.AsyncClient, path: str, form: dict[str, str], **sign: Any) -> httpx.Response:
    return await client.post(path, data=form, headers=signed(path, form, **sign))


async def test_a_signed_yes_accepts_and_answers_in_twiml(client: httpx.AsyncClient, store: Store) -> None:
    put(store, appointment("A1", datetime(2030, 6, 12, 14, tzinfo=UTC)))
    response = await post(client, "/webhooks/twilio/inbound", inbound_form("Yes"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    assert "<Message>Thank you, your appointment is confirmed.</Message>" in response.text
    assert participation(store) == {"A1": "accepted"}
    metrics = (await client.get("/metrics")).text
    assert 'clinicsync_responses{action="confirm",outcome="applied"} 1.0' in metrics
    assert 'clinicsync_writebacks{status="pending"} 1.0' in metrics


async def test_the_answer_is_in_the_patients_language(client: httpx.AsyncClient, store: Store) -> None:
    put(store, appointment("A1", datetime(2030, 6, 12, 14, tzinfo=UTC), language="es"))
    response = await post(client, "/webhooks/twilio/inbound", inbound_form("Sí"))
    assert "Gracias, su cita está confirmada." in response.text
    unknown = await post(client, "/webhooks/twilio/inbound", inbound_form("¿puedo ir a las 5?", sid="SM2"))
    assert "Responda C para confirmar o X para cancelar." in unknown.text
    assert [r.outcome for r in rows(store, RESPONSES)] == ["applied", "unrecognized"]


@pytest.mark.parametrize("headers", [
    {},  # unsigned
    {"X-Twilio-Signature": "Zm9yZ2Vk"},  # made up
    "wrong token",
    "other form",  # a signature replayed with a different body
    "internal url",  # signed for the URL the proxy forwarded to, not the public one
])
async def test_forged_requests_get_403_and_change_nothing(client: httpx.AsyncClient, store: Store,
                                                          headers: Any) -> None:
    put(store, appointment("A1", datetime(2030, 6, 12, 14, tzinfo=UTC)))
    path, form = "/webhooks/twilio/inbound", inbound_form("STOP")
    if headers == "wrong token":
        headers = signed(path, form, token="f" * 32)
    elif headers == "other form":
        headers = signed(path, inbound_form("hello"))
    elif headers == "internal url":
        headers = {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature("http://internal" + path, form)}
    response = await client.post(path, data=form, headers=headers)
    assert response.status_code == 403
    assert rows(store, RESPONSES) == [] and rows(store, OPT_OUTS) == []
    status = await client.post("/webhooks/twilio/status", data={"MessageSid": "x", "MessageStatus": "failed"},
                               headers=headers)
    assert status.status_code == 403
    metrics = (await client.get("/metrics")).text
    assert 'clinicsync_webhook_requests_total{endpoint="twilio_inbound",result="forbidden"} 1.0' in metrics


async def test_stop_by_sms_stops_every_further_sms(client: httpx.AsyncClient, store: Store, settings: Settings,
                                                    tmp_path: Any) -> None:
    start = datetime(2030, 6, 12, 14, tzinfo=UTC)
    put(store, appointment("A1", start))
    plan(settings, store, start - timedelta(days=10))
    response = await post(client, "/webhooks/twilio/inbound", inbound_form("stop"))
    assert "You will receive no more messages" in response.text
    assert [(o.channel, o.address) for o in rows(store, OPT_OUTS)] == [("sms", PHONE)]
    Dispatcher(settings, store, start - timedelta(days=1)).run()
    assert not (tmp_path / "texts.jsonl").exists() and (tmp_path / "mails.jsonl").exists()


async def test_status_callbacks_move_the_receipt_forward(client: httpx.AsyncClient, store: Store,
                                                         settings: Settings) -> None:
    start = datetime(2030, 6, 12, 14, tzinfo=UTC)
    put(store, appointment("A1", start))
    plan(settings, store, start - timedelta(days=10))
    Dispatcher(settings, store, start - timedelta(days=1)).run()
    [sent] = [r for r in rows(store, REMINDERS) if r.status == "sent"]
    path = "/webhooks/twilio/status"
    for state in ("sent", "delivered", "sent"):  # the late "sent" must not undo "delivered"
        form = {"MessageSid": sent.provider_id, "MessageStatus": state}
        assert (await post(client, path, form)).status_code == 204
    [reminder] = [r for r in rows(store, REMINDERS) if r.id == sent.id]
    [delivery] = rows(store, DELIVERIES)
    assert (reminder.status, delivery.provider_status) == ("delivered", "delivered")
    unknown = {"MessageSid": "SMunknown", "MessageStatus": "delivered"}
    assert (await post(client, path, unknown)).status_code == 204
    metrics = (await client.get("/metrics")).text
    assert 'clinicsync_webhook_requests_total{endpoint="twilio_status",result="recorded"} 3.0' in metrics
    assert 'clinicsync_webhook_requests_total{endpoint="twilio_status",result="ignored"} 1.0' in metrics
    assert 'clinicsync_reminders{channel="sms",status="delivered"} 1.0' in metrics


async def test_a_failed_callback_marks_the_reminder_failed(client: httpx.AsyncClient, store: Store,
                                                           settings: Settings) -> None:
    start = datetime(2030, 6, 12, 14, tzinfo=UTC)
    put(store, appointment("A1", start))
    plan(settings, store, start - timedelta(days=10))
    Dispatcher(settings, store, start - timedelta(days=1)).run()
    [sent] = [r for r in rows(store, REMINDERS) if r.status == "sent"]
    form = {"MessageSid": sent.provider_id, "MessageStatus": "undelivered", "ErrorCode": "30006"}
    await post(client, "/webhooks/twilio/status", form)
    with store.engine.connect() as connection:
        row = connection.execute(select(REMINDERS).where(REMINDERS.c.id == sent.id)).one()
    assert (row.status, row.reason) == ("failed", "the provider reported undelivered (error 30006)")
