"""Amazon SNS notifications through the real app: two-way SMS replies and delivery events
for the aws_sms notifier, signed in the test with a locally generated certificate that the
server fetches from its SNS URL (served through respx, the server's own httpx path). A
forged, stale, foreign-topic or foreign-host message is refused and records nothing."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.responses import sns_hooks
from clinicsync.sync.responses.sns_signature import CertificateCache, string_to_sign
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.model.reminders import DELIVERIES, OPT_OUTS, REMINDERS
from clinicsync.sync.store.model.responses import RESPONSES
from clinicsync.sync.store.store import Store
from tests.faults import FaultyApi
from tests.notifiers.aws_fake import LONG_CODE, REGION, EndUserMessaging, aws_credentials, end_user_messaging_fake
from tests.responses.test_record import PHONE, participation, rows
from tests.sync.reminders.conftest import SettingsMaker, appointment, put

__all__ = ["aws_credentials"]  # fixture
pytestmark = pytest.mark.anyio
TOPIC = f"arn:aws:sns:{REGION}:123456789012:clinic-sms-inbound"
CERT_URL = f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"
SUBSCRIBE_URL = f"https://sns.{REGION}.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=abc"
START = datetime(2030, 6, 12, 14, tzinfo=UTC)


@pytest.fixture(scope="module")
def signing_key() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
                   .not_valid_after(now + timedelta(days=30)).sign(key, hashes.SHA256()))
    return key, certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def eum(aws_credentials: None) -> Iterator[tuple[FaultyApi, EndUserMessaging]]:
    api, service = end_user_messaging_fake()
    api.start()
    yield api, service
    api.stop()


@pytest.fixture
def settings(reminder_settings: SettingsMaker, eum: tuple[FaultyApi, EndUserMessaging]) -> Settings:
    aws = (f"  - name: aws\n    kind: aws_sms\n    region: {REGION}\n    origination_identity: \"{LONG_CODE}\"\n"
           f"    endpoint_url: {eum[0].url}\n    inbound_topic_arns: [\"{TOPIC}\"]\n    rate_per_second: 1000\n")
    return reminder_settings("quiet_hours: null\nagenda: {enabled: false}\noffsets: [1d]\nchannels: [sms]\n"
                             "routes: {sms: aws}\nconfirmation: false", extra_notifiers=aws)


@pytest.fixture
def sns(signing_key: tuple[rsa.RSAPrivateKey, bytes], monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.Router]:
    """SNS's certificate and confirmation URLs, answered at the HTTP boundary; a fresh cache."""
    monkeypatch.setattr(sns_hooks, "CERTIFICATES", CertificateCache())
    with respx.mock(assert_all_called=False) as router:
        router.get(CERT_URL).respond(200, content=signing_key[1])
        router.get(SUBSCRIBE_URL).respond(200, text="<ConfirmSubscriptionResponse/>")
        yield router


@pytest.fixture
async def client(settings: Settings, store: Store, sns: respx.Router) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal") as client:
        yield client


def signed(key: rsa.RSAPrivateKey, message: dict[str, Any], version: str = "2") -> dict[str, Any]:
    message = {"SignatureVersion": version, "SigningCertURL": CERT_URL, **message}
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(string_to_sign(message), padding.PKCS1v15(), digest)
    return {**message, "Signature": base64.b64encode(signature).decode()}


def notification(payload: dict[str, Any], *, topic: str = TOPIC, at: datetime | None = None) -> dict[str, Any]:
    return {"Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": topic,
            "Message": json.dumps(payload), "Timestamp": (at or datetime.now(UTC)).isoformat().replace("+00:00", "Z")}


def inbound(body: str, inbound_id: str = "cae173d2-66b9-564c-8309-21f858e9fb84") -> dict[str, Any]:
    """AWS End User Messaging's two-way payload, as its documentation shows it."""
    return {"originationNumber": PHONE, "destinationNumber": LONG_CODE, "messageKeyword": "KEYWORD_123456789012",
            "messageBody": body, "inboundMessageId": inbound_id, "previousPublishedMessageId": "wJalrXUtnFEMI"}


async def post(client: httpx.AsyncClient, message: dict[str, Any]) -> httpx.Response:
    return await client.post("/webhooks/aws/sns", content=json.dumps(message),
                             headers={"Content-Type": "text/plain; charset=UTF-8",
                                      "x-amz-sns-message-type": str(message.get("Type"))})


@pytest.mark.parametrize("version", ["1", "2"])
async def test_a_signed_yes_confirms_and_is_answered_once(client: httpx.AsyncClient, store: Store, version: str,
                                                          signing_key: tuple[rsa.RSAPrivateKey, bytes],
                                                          eum: tuple[FaultyApi, EndUserMessaging]) -> None:
    put(store, appointment("A1", START))
    message = signed(signing_key[0], notification(inbound("YES")), version)
    assert (await post(client, message)).status_code == 204
    assert participation(store) == {"A1": "accepted"}
    [answer] = eum[1].sent
    assert answer["DestinationPhoneNumber"] == PHONE
    assert answer["MessageBody"] == "Thank you, your appointment is confirmed."
    assert (await post(client, message)).status_code == 204  # SNS delivers again: no second answer
    assert len(eum[1].sent) == 1 and [r.outcome for r in rows(store, RESPONSES)] == ["applied"]


async def test_stop_is_recorded_as_an_opt_out(client: httpx.AsyncClient, store: Store,
                                              signing_key: tuple[rsa.RSAPrivateKey, bytes],
                                              eum: tuple[FaultyApi, EndUserMessaging]) -> None:
    put(store, appointment("A1", START))
    await post(client, signed(signing_key[0], notification(inbound("STOP", "id-2"))))
    assert [(o.channel, o.address) for o in rows(store, OPT_OUTS)] == [("sms", PHONE)]
    assert eum[1].sent == []  # AWS answers STOP itself


@pytest.mark.parametrize("forgery", ["bad signature", "other host", "lookalike host", "plain http", "other region",
                                     "unknown topic", "stale", "version 3", "other body"])
async def test_forged_messages_get_403_and_change_nothing(client: httpx.AsyncClient, store: Store, forgery: str,
                                                          signing_key: tuple[rsa.RSAPrivateKey, bytes],
                                                          sns: respx.Router) -> None:
    put(store, appointment("A1", START))
    key = signing_key[0]
    message = notification(inbound("YES"))
    evil = sns.get(host__regex=r"evil|amazonaws\.com\.|sns\.eu-west-1").respond(200, content=signing_key[1])
    if forgery == "bad signature":
        message = {**signed(key, message), "Signature": base64.b64encode(b"x" * 256).decode()}
    elif forgery == "other body":
        message = {**signed(key, message), "Message": json.dumps(inbound("NO"))}
    elif forgery == "stale":
        message = signed(key, notification(inbound("YES"), at=datetime.now(UTC) - timedelta(hours=2)))
    elif forgery == "unknown topic":
        message = signed(key, notification(inbound("YES"), topic=TOPIC.replace("clinic", "other")))
    elif forgery == "version 3":
        message = signed(key, message) | {"SignatureVersion": "3"}
    else:
        url = {"other host": "https://evil.example.com/cert.pem",
               "lookalike host": f"https://sns.{REGION}.amazonaws.com.evil.example/cert.pem",
               "plain http": CERT_URL.replace("https:", "http:"),
               "other region": CERT_URL.replace(REGION, "eu-west-1")}[forgery]
        message = signed(key, {**message, "SigningCertURL": url})
    response = await post(client, message)
    assert response.status_code == 403
    assert participation(store) == {"A1": None} and rows(store, RESPONSES) == []
    assert not evil.called  # a certificate is fetched only from the topic region's SNS host
    metrics = (await client.get("/metrics")).text
    assert 'clinicsync_webhook_requests_total{endpoint="aws_sns",result="forbidden"} 1.0' in metrics


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"[" * 20000,
                                  json.dumps({"a": [[[[[[[[[[1]]]]]]]]]]}).encode()])
async def test_a_body_that_is_no_sns_message_gets_400(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post("/webhooks/aws/sns", content=body)
    assert response.status_code in (400, 413)


async def test_a_subscription_is_confirmed_on_the_sns_host(client: httpx.AsyncClient, sns: respx.Router,
                                                           signing_key: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    message = signed(signing_key[0], {
        "Type": "SubscriptionConfirmation", "MessageId": str(uuid.uuid4()), "Token": "abc", "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic.", "SubscribeURL": SUBSCRIBE_URL,
        "Timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")})
    assert (await post(client, message)).status_code == 204
    assert sns.routes[1].call_count == 1  # the SubscribeURL, fetched once
    metrics = (await client.get("/metrics")).text
    assert 'clinicsync_webhook_requests_total{endpoint="aws_sns",result="confirmed"} 1.0' in metrics


async def test_delivery_events_move_the_receipt(client: httpx.AsyncClient, store: Store, settings: Settings,
                                                signing_key: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    put(store, appointment("A1", START))
    plan(settings, store, START - timedelta(days=10))
    Dispatcher(settings, store, START - timedelta(days=1)).run()
    [sent] = [r for r in rows(store, REMINDERS) if r.status == "sent"]
    for status in ("SUCCESSFUL", "DELIVERED", "PENDING"):  # a late PENDING must not undo DELIVERED
        event = {"eventType": f"TEXT_{status}", "eventVersion": "1.0", "isFinal": status == "DELIVERED",
                 "originationPhoneNumber": LONG_CODE, "destinationPhoneNumber": PHONE, "messageId": sent.provider_id,
                 "messageStatus": status, "messageType": "TRANSACTIONAL", "context": {"reminder_id": str(sent.id)}}
        assert (await post(client, signed(signing_key[0], notification(event)))).status_code == 204
    [reminder] = [r for r in rows(store, REMINDERS) if r.id == sent.id]
    [delivery] = rows(store, DELIVERIES)
    assert (reminder.status, delivery.provider_status) == ("delivered", "delivered")


async def test_an_undeliverable_event_fails_the_reminder(client: httpx.AsyncClient, store: Store, settings: Settings,
                                                         signing_key: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    put(store, appointment("A1", START))
    plan(settings, store, START - timedelta(days=10))
    Dispatcher(settings, store, START - timedelta(days=1)).run()
    [sent] = [r for r in rows(store, REMINDERS) if r.status == "sent"]
    event = {"eventType": "TEXT_CARRIER_UNREACHABLE", "messageId": sent.provider_id,
             "messageStatus": "CARRIER_UNREACHABLE", "isFinal": True}
    await post(client, signed(signing_key[0], notification(event)))
    [reminder] = [r for r in rows(store, REMINDERS) if r.id == sent.id]
    assert (reminder.status, reminder.reason) == ("failed", "the provider reported failed (AWS CARRIER_UNREACHABLE)")
