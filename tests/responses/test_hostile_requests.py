"""Hostile requests to the routes anyone can reach: each is answered 4xx, with the security
headers, and leaves no traceback in the log (issue 16, observations 6 and 10)."""

from __future__ import annotations

import base64
import logging
import urllib.parse
from collections.abc import AsyncIterator

import httpx
import pytest
from twilio.request_validator import RequestValidator

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.store import Store
from tests.responses.test_record import BASE
from tests.responses.test_sendgrid_hooks import KEY, public_key, signed
from tests.responses.test_twilio_hooks import PUBLIC, TOKEN, TWILIO
from tests.sync.reminders.conftest import SettingsMaker

pytestmark = pytest.mark.anyio
SENDGRID = "/webhooks/sendgrid/events"
UI_TOKEN = "Zq8v-Nw3rT5yLp0aXk7bMd2eHs9u"


@pytest.fixture
def settings(reminder_settings: SettingsMaker) -> Settings:
    return reminder_settings(
        BASE, extra_notifiers=TWILIO + f"responses:\n  sendgrid_verification_key: {public_key(KEY)}\n"
                                       f"ui:\n  token: {UI_TOKEN}\n")


@pytest.fixture
async def client(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(settings, store), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://internal") as client:
        yield client


def refused_cleanly(response: httpx.Response, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
                    expected: set[int]) -> None:
    out, err = capsys.readouterr()
    assert response.status_code in expected, (response.status_code, response.text[:200])
    assert response.headers.get("x-content-type-options") == "nosniff", response.headers
    assert "Traceback" not in caplog.text + out + err


async def test_a_400_digit_sendgrid_timestamp_is_refused_before_any_arithmetic(
        client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    headers = signed(b"[]") | {"X-Twilio-Email-Event-Webhook-Timestamp": "9" * 400}
    refused_cleanly(await client.post(SENDGRID, content=b"[]", headers=headers), caplog, capsys, {403})


async def test_a_signed_body_nested_20000_deep_is_a_400(
        client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    body = b"[" * 20_000
    refused_cleanly(await client.post(SENDGRID, content=body, headers=signed(body)), caplog, capsys, {400})
    deep = b"[" * 40 + b"{}" + b"]" * 40  # valid JSON, but deeper than any SendGrid batch
    refused_cleanly(await client.post(SENDGRID, content=deep, headers=signed(deep)), caplog, capsys, {400})


async def test_a_signed_body_that_is_not_utf8_is_a_400(
        client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    body = b'[{"event": "delivered", "email": "\xff"}]'
    refused_cleanly(await client.post(SENDGRID, content=body, headers=signed(body)), caplog, capsys, {400, 403})


async def test_a_huge_appointment_id_is_a_4xx(
        client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    auth = {"Authorization": f"Bearer {UI_TOKEN}"}
    for raw in ("9" * 40, "-1", "9223372036854775808"):
        response = await client.get(f"/ui/appointments/{raw}", headers=auth)
        refused_cleanly(response, caplog, capsys, {404, 422})
        refused_cleanly(await client.get(f"/ui/appointments/{raw}"), caplog, capsys, {401})


async def test_oversized_header_values_are_refused_before_any_route(
        client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    huge = {"X-Twilio-Signature": "A" * 20_000}
    refused_cleanly(await client.post("/webhooks/twilio/inbound", data={"Body": "YES"}, headers=huge),
                    caplog, capsys, {431})
    refused_cleanly(await client.get("/ui/", headers={"Authorization": "Basic " + "Q" * 50_000}),
                    caplog, capsys, {431})


async def test_a_413_carries_the_security_headers(
        client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    body = b"[" + b"{}," * 40_000 + b"{}]"
    response = await client.post(SENDGRID, content=body, headers=signed(body))
    refused_cleanly(response, caplog, capsys, {413})
    assert response.headers["content-security-policy"].startswith("default-src 'self'")


async def test_openapi_is_served_only_to_status_page_users(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc"):
        assert (await client.get(path)).status_code == 404, path
    assert (await client.get("/openapi.json")).status_code == 401
    schema = await client.get("/openapi.json", headers={"Authorization": f"Bearer {UI_TOKEN}"})
    assert schema.status_code == 200 and SENDGRID in schema.json()["paths"]


async def test_hostile_twilio_forms_are_refused_without_a_traceback(
        client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.INFO)
    for path in ("/webhooks/twilio/inbound", "/webhooks/twilio/status"):
        form = {"From": "+12125550101", "Body": "YES", "MessageSid": "SM" + "1" * 32}
        signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, form)
        bodies = [
            (b"Body=%ff%fe&From=%2B1", "application/x-www-form-urlencoded"),
            (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"),
            (b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n", "multipart/form-data; boundary=x"),
            (b"garbage", "multipart/form-data"),
            ("&".join(f"k{i}=v" for i in range(5000)).encode(), "application/x-www-form-urlencoded"),
            (urllib.parse.urlencode(form).encode(), "text/plain"),
        ]
        for body, content_type in bodies:
            response = await client.post(path, content=body, headers={"Content-Type": content_type,
                                                                       "X-Twilio-Signature": signature})
            refused_cleanly(response, caplog, capsys, {400, 403, 413})
    basic = "Basic " + base64.b64encode(b"\xff\xfe:\x00").decode()
    refused_cleanly(await client.get("/ui/", headers={"Authorization": basic}), caplog, capsys, {401})
