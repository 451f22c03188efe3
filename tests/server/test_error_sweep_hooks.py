"""The error-contract sweep over the endpoints tests/server/test_api_errors.py leaves out
(issue 35, done-when 3): the Acuity booking webhook, the FHIR Subscription hooks (notification
POST, rest-hook PUT), the Twilio, SendGrid and Amazon SNS reply/status hooks, and the answer
pages' posts. Each malformed or out-of-range body of that sweep, sent as the vendor sends
(signed where the test can sign: Acuity's HMAC, the subscription's bearer, Twilio's signature,
SendGrid's ECDSA), is answered without a 5xx and stores nothing:

- machine endpoints answer ``application/problem+json`` (RFC 9457);
- the answer pages (``/r/…``, ``/a/…``) are browser pages a patient sees, so they answer an
  HTML page in the patient's language, never problem+json (docs/api.md, "Error answers").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from sqlalchemy import MetaData, func, select
from twilio.request_validator import RequestValidator

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.store import Store
from tests.responses.test_links import booked, links
from tests.responses.test_record import BASE
from tests.responses.test_sendgrid_hooks import KEY, public_key, signed
from tests.server.test_api_errors import MALFORMED, is_problem
from tests.sync.reminders.conftest import SettingsMaker, reminder_settings, scripted  # noqa: F401 (fixtures)

pytestmark = pytest.mark.anyio
PUBLIC = "https://clinic.example.org"
TWILIO_TOKEN = "0123456789abcdef0123456789abcdef"
ACUITY_KEY = "acuity-key-sweep-0123456789"
FHIR_SECRET = "hook-secret-sweep-0123456789abcdef"
SETTINGS = f"""  - name: twilio
    kind: twilio_sms
    account_sid: AC{'a' * 32}
    auth_token: {TWILIO_TOKEN}
    from_number: "+12125550100"
  - name: aws
    kind: aws_sms
    region: us-east-1
    origination_identity: "+12125550199"
    endpoint_url: http://127.0.0.1:9
    inbound_topic_arns: ["arn:aws:sns:us-east-1:123456789012:clinic-replies"]
server:
  public_url: {PUBLIC}
  secret_key: test-secret-not-for-production
  max_body_bytes: {64 * 1024}
responses:
  sendgrid_verification_key: {public_key(KEY)}
connectors:
  - {{name: acuity, kind: acuity, user_id: "11145481", api_key: {ACUITY_KEY}}}
  - {{name: ehr, kind: fhir, base_url: "http://127.0.0.1:9/fhir",
      subscription: {{secret: {FHIR_SECRET}, payload: full-resource}}}}
"""


@pytest.fixture
def settings(reminder_settings: SettingsMaker) -> Settings:  # noqa: F811 (the imported fixture)
    return reminder_settings(BASE, extra_notifiers=SETTINGS)


@pytest.fixture
async def client(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as client:
        yield client
    app.state.fhir_inboxes.close()


def _acuity(raw: bytes, _: str) -> httpx.Request:
    signature = base64.b64encode(hmac.new(ACUITY_KEY.encode(), raw, hashlib.sha256).digest()).decode()
    return httpx.Request("POST", f"{PUBLIC}/webhooks/acuity/acuity", content=raw, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Acuity-Signature": signature})


def _fhir(method: str, path: str) -> Callable[[bytes, str], httpx.Request]:
    def build(raw: bytes, _: str) -> httpx.Request:
        return httpx.Request(method, f"{PUBLIC}/hooks/fhir/ehr{path}", content=raw, headers={
            "Authorization": f"Bearer {FHIR_SECRET}", "Content-Type": "application/fhir+json"})
    return build


def _twilio(path: str) -> Callable[[bytes, str], httpx.Request]:
    """Signed as Twilio signs: the public URL and the form's parameters as the server reads them."""
    def build(raw: bytes, _: str) -> httpx.Request:
        form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + path, form)
        return httpx.Request("POST", PUBLIC + path, content=raw, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
    return build


def _sendgrid(raw: bytes, _: str) -> httpx.Request:
    return httpx.Request("POST", f"{PUBLIC}/webhooks/sendgrid/events", content=raw, headers=signed(raw))


def _sns(raw: bytes, _: str) -> httpx.Request:
    """As SNS posts (text/plain); the sweep's bodies carry no valid SNS signature."""
    return httpx.Request("POST", f"{PUBLIC}/webhooks/aws/sns", content=raw, headers={
        "Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"})


def _answer(raw: bytes, link: str) -> httpx.Request:
    return httpx.Request("POST", PUBLIC + link, content=raw,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})


def _short(raw: bytes, _: str) -> httpx.Request:
    return httpx.Request("POST", f"{PUBLIC}/a/12345678", content=raw,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})


MACHINE = {"acuity": _acuity, "fhir notification": _fhir("POST", ""),
           "fhir rest-hook PUT": _fhir("PUT", "/Appointment/A-1"),
           "twilio inbound": _twilio("/webhooks/twilio/inbound"), "twilio status": _twilio("/webhooks/twilio/status"),
           "sendgrid": _sendgrid, "sns": _sns}
PAGES = {"answer link": _answer, "short answer link": _short}
# Form bodies too: the reply hooks and the answer pages read forms.
BODIES = {**MALFORMED, "form with a huge field": b"Body=" + b"x" * 70_000, "form of garbage": b"%%%&&&===\xff\xfe",
          "form without fields": b"&&&", "form repeating a field": b"MessageSid=SM1&MessageSid=SM2&Body=YES",
          "answer out of range": b"answer=" + b"9" * 400, "answer unknown": b"answer=perhaps&when=9999-99-99"}


def _valid_message(endpoint: str, body: str, response: httpx.Response) -> bool:
    """The few bodies a vendor's protocol makes a valid message, answered as that protocol asks
    (still storing nothing): a signed Twilio form whatever its fields (an inbound reply not
    understood gets TwiML asking again; a status callback about no known message, 204), a
    SendGrid list of events it cannot use (skipped: 204), an
    empty POST to the FHIR hook (an R4 rest-hook ping), an answer page (the page again, saying
    the link was used)."""
    kind = response.headers.get("content-type", "")
    if endpoint == "twilio inbound":
        return (response.status_code, kind.startswith("application/xml")) == (200, True) and (
            "<Response>" in response.text)
    if endpoint == "twilio status":
        return response.status_code == 204
    if endpoint == "sendgrid":  # a JSON list: events it cannot use are skipped, so SendGrid does not retry them
        return response.status_code == 204 and body == "array"
    if endpoint == "fhir notification":
        return body == "empty" and response.status_code == 200
    return endpoint in PAGES and response.status_code == 200 and kind.startswith("text/html")


# The server's own bookkeeping, not anything a body said: a rate-limit bucket, the FHIR
# subscription's last ping and the poll run it started (with the standing condition its
# failure against the unreachable EHR notes in housekeeping).
BOOKKEEPING = {"alembic_version", "ratebucket", "fhir_subscription", "syncrun", "connectorstate", "housekeeping"}


def _counts(store: Store) -> dict[str, int]:
    """Rows in every table of the store but its bookkeeping: nothing a refused body did may add one."""
    metadata = MetaData()
    metadata.reflect(store.engine)
    with store.engine.connect() as connection:
        return {name: int(connection.execute(select(func.count()).select_from(table)).scalar_one())
                for name, table in metadata.tables.items() if name not in BOOKKEEPING}


@pytest.mark.parametrize("endpoint", [*MACHINE, *PAGES])
async def test_every_malformed_body_to_every_hook_and_page_is_refused_cleanly(
        client: httpx.AsyncClient, store: Store, settings: Settings, tmp_path: Path, endpoint: str) -> None:
    link = links(booked(settings, store, tmp_path, language="en"))["confirm"]
    if endpoint in PAGES:  # a bare POST answers what the link says (by design): answered once, first
        assert (await client.post(link)).status_code == 200
    before = _counts(store)
    build: Any = MACHINE.get(endpoint) or PAGES[endpoint]
    wrong = {}
    for name, raw in BODIES.items():
        response = await client.send(build(raw, link))
        kind = response.headers.get("content-type", "")
        if response.status_code < 400:
            right = _valid_message(endpoint, name, response)
        else:
            right = response.status_code < 500 and (is_problem(response) or (
                endpoint in PAGES and kind.startswith("text/html")))
        if not right:
            wrong[name] = (response.status_code, kind, response.text[:120])
    assert wrong == {}, "\n".join(f"{k}: {v}" for k, v in wrong.items())
    assert _counts(store) == before
