"""Twilio SMS and WhatsApp through the official client against a loopback fake of the
Messages API: the exact form Twilio would receive, its auth, and its error codes."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

import pytest

from clinicsync.notifiers.base import (
    AccountError,
    DeliveryUnknownError,
    OptedOutError,
    PermanentError,
    Refusal,
    RetryableError,
)
from clinicsync.notifiers.twilio_base import ApiRootHttpClient
from clinicsync.notifiers.twilio_sms import TwilioSmsNotifier, TwilioSmsSettings
from clinicsync.notifiers.twilio_whatsapp import TwilioWhatsAppNotifier, TwilioWhatsAppSettings
from tests.notifiers.conftest import FakeApi, text_message

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token"
MESSAGING_SERVICE = "MG" + "fedcba9876543210" * 2
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
CALLBACK = "https://clinic.example/webhooks/twilio/status"


def created(sid: str = "SM" + "a" * 32, status: str = "queued", **fields: Any) -> dict[str, Any]:
    """The Messages API's 201 answer (the fields the client reads)."""
    return {"sid": sid, "status": status, "account_sid": ACCOUNT, "api_version": "2010-04-01",
            "date_created": "Mon, 03 Mar 2025 12:00:00 +0000", "direction": "outbound-api", **fields}


def twilio_error(code: int, message: str, status: int = 400) -> dict[str, Any]:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


def sms(api_root: str, **settings: Any) -> TwilioSmsNotifier:
    values: dict[str, Any] = {"name": "sms", "account_sid": ACCOUNT, "auth_token": TOKEN,
                              "from_number": "+15005550006", "api_root": api_root, "timeout": 5}
    values.update(settings)
    return TwilioSmsNotifier(TwilioSmsSettings(**values))


def whatsapp(api_root: str, **settings: Any) -> TwilioWhatsAppNotifier:
    values: dict[str, Any] = {"name": "wa", "account_sid": ACCOUNT, "auth_token": TOKEN,
                              "from_number": "+14155238886", "api_root": api_root, "timeout": 5}
    values.update(settings)
    return TwilioWhatsAppNotifier(TwilioWhatsAppSettings(**values))


def form(fake_api: FakeApi) -> dict[str, list[str]]:
    [request] = fake_api.requests
    assert (request.method, request.path) == ("POST", MESSAGES_PATH)
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return parse_qs(request.body.decode(), strict_parsing=True)


def test_sms_form_from_number_with_status_callback(fake_api: FakeApi) -> None:
    fake_api.reply(201, created("SM" + "1" * 32))
    message = text_message()
    receipt = sms(fake_api.url, status_callback=CALLBACK).send(message)
    assert form(fake_api) == {"To": ["+14155550123"], "From": ["+15005550006"], "Body": [message.body_text],
                              "StatusCallback": [CALLBACK]}
    assert (receipt.provider, receipt.provider_id, receipt.status) == ("twilio_sms", "SM" + "1" * 32, "queued")


def test_sms_through_a_messaging_service(fake_api: FakeApi) -> None:
    fake_api.reply(201, created(status="accepted"))
    receipt = sms(fake_api.url, from_number=None, messaging_service_sid=MESSAGING_SERVICE).send(text_message())
    body = form(fake_api)
    assert body["MessagingServiceSid"] == [MESSAGING_SERVICE] and "From" not in body
    assert receipt.status == "accepted"


def test_sms_unicode_body_goes_out_as_utf8(fake_api: FakeApi) -> None:
    fake_api.reply(201, created())
    sms(fake_api.url).send(text_message(body_text="Hola Ana, su cita es mañana a las 10:30. ¿Confirma? 👍"))
    assert form(fake_api)["Body"] == ["Hola Ana, su cita es mañana a las 10:30. ¿Confirma? 👍"]


@pytest.mark.parametrize("number", ["4155550123", "+1 555 12", "+999123456789", "not a number", ""])
def test_invalid_numbers_are_refused_before_sending(fake_api: FakeApi, number: str) -> None:
    with pytest.raises(PermanentError, match="phone number refused before sending") as caught:
        sms(fake_api.url).send(text_message(recipient=number))
    assert fake_api.requests == []
    if number.strip():
        assert number not in str(caught.value)


def test_error_21211_invalid_number_is_permanent_without_the_number(fake_api: FakeApi) -> None:
    fake_api.reply(400, twilio_error(21211, "The 'To' number +14155550123 is not a valid phone number."))
    with pytest.raises(PermanentError) as caught:
        sms(fake_api.url).send(text_message())
    assert type(caught.value) is PermanentError
    assert str(caught.value) == "Twilio error 21211 (HTTP 400): the 'To' number is not a valid phone number"


def test_error_21610_unsubscribed_is_opted_out(fake_api: FakeApi) -> None:
    fake_api.reply(400, twilio_error(21610, "Attempt to send to unsubscribed recipient"))
    with pytest.raises(OptedOutError, match="21610") as caught:
        sms(fake_api.url).send(text_message())
    assert isinstance(caught.value, PermanentError)  # callers that only know permanent still stop


@pytest.mark.parametrize("code", [21408, 21614, 21612])
def test_other_refusals_are_permanent(fake_api: FakeApi, code: int) -> None:
    fake_api.reply(400, twilio_error(code, "refused +14155550123"))
    with pytest.raises(PermanentError, match=str(code)) as caught:
        sms(fake_api.url).send(text_message())
    assert type(caught.value) is PermanentError and "+1415" not in str(caught.value)


@pytest.mark.parametrize(("code", "about"), [
    (21211, Refusal.ADDRESS), (21614, Refusal.ADDRESS), (21612, Refusal.ADDRESS), (21408, Refusal.ADDRESS),
    (21617, Refusal.MESSAGE), (30007, Refusal.MESSAGE), (21602, Refusal.MESSAGE), (21656, Refusal.MESSAGE),
    (63016, Refusal.MESSAGE), (21999, Refusal.ADDRESS),  # a code not known: the number's, as before
])
def test_a_refusal_says_whether_it_is_about_the_number_or_the_message(fake_api: FakeApi, code: int,
                                                                      about: Refusal) -> None:
    """Invalid, unreachable, a landline, a region not enabled: the number's (the patient's other
    numbers may take it). Too long, filtered as spam, no body, a template's bad variables, WhatsApp
    outside its window: the message's (every number refuses it alike)."""
    fake_api.reply(400, twilio_error(code, "refused"))
    with pytest.raises(PermanentError, match=str(code)) as caught:
        sms(fake_api.url).send(text_message())
    assert type(caught.value) is PermanentError and caught.value.about is about


@pytest.mark.parametrize("code", [21212, 21659])
def test_an_invalid_sender_is_the_accounts_fault(fake_api: FakeApi, code: int) -> None:
    """A 'From' Twilio refuses refuses every message and every number alike, as 21606 does."""
    fake_api.reply(400, twilio_error(code, "The 'From' number +15005550006 is not valid"))
    with pytest.raises(AccountError, match="check from_number") as caught:
        sms(fake_api.url).send(text_message())
    assert "5005550006" not in str(caught.value)


def test_unknown_error_text_is_kept_with_numbers_masked(fake_api: FakeApi) -> None:
    fake_api.reply(400, twilio_error(21999, "Something about +14155550123 went wrong"))
    with pytest.raises(PermanentError) as caught:
        sms(fake_api.url).send(text_message())
    assert "went wrong" in str(caught.value) and "4155550123" not in str(caught.value)


def test_429_is_retryable_with_retry_after(fake_api: FakeApi) -> None:
    fake_api.reply(429, twilio_error(20429, "Too Many Requests", 429), Retry_After="3")
    with pytest.raises(RetryableError, match="20429") as caught:
        sms(fake_api.url).send(text_message())
    assert caught.value.retry_after == 3.0


@pytest.mark.parametrize(("status", "body"), [
    (500, twilio_error(20500, "Internal Server Error", 500)),
    (503, twilio_error(20503, "Service Unavailable", 503)),
    (502, "<html>Bad Gateway</html>"),  # a proxy's answer, not JSON
])
def test_server_errors_are_retryable(fake_api: FakeApi, status: int, body: Any) -> None:
    fake_api.reply(status, body)
    with pytest.raises(RetryableError, match=f"HTTP {status}") as caught:
        sms(fake_api.url).send(text_message())
    assert caught.value.retry_after is None


def test_bad_credentials_are_the_accounts_fault(fake_api: FakeApi) -> None:
    """A rotated auth token refuses every message alike: retried while in time, not failed for
    good (notifiers/base.py AccountError)."""
    fake_api.reply(401, twilio_error(20003, "Authenticate", 401))
    with pytest.raises(AccountError, match="check account_sid and auth_token") as caught:
        sms(fake_api.url).send(text_message())
    assert TOKEN not in str(caught.value)


def test_a_refused_connection_is_retryable(closed_port_url: str) -> None:
    with pytest.raises(RetryableError, match="could not connect to Twilio"):
        sms(closed_port_url).send(text_message())


def test_no_answer_after_the_request_is_unknown(fake_api: FakeApi) -> None:
    fake_api.drop()
    with pytest.raises(DeliveryUnknownError, match="may have been delivered"):
        sms(fake_api.url).send(text_message())
    assert len(fake_api.requests) == 1


def test_whatsapp_content_template(fake_api: FakeApi) -> None:
    fake_api.reply(201, created())
    message = text_message("whatsapp", template_id="reminder.es",
                           template_variables={"1": "Ana", "2": "mañana 10:30"})
    content_sid = "HX" + "b" * 32
    whatsapp(fake_api.url, templates={"reminder.es": content_sid}, status_callback=CALLBACK).send(message)
    body = form(fake_api)
    assert body == {"To": ["whatsapp:+14155550123"], "From": ["whatsapp:+14155238886"],
                    "ContentSid": [content_sid], "ContentVariables": [body["ContentVariables"][0]],
                    "StatusCallback": [CALLBACK]}
    assert json.loads(body["ContentVariables"][0]) == {"1": "Ana", "2": "mañana 10:30"}


def test_whatsapp_free_form_body_and_prefixed_recipient(fake_api: FakeApi) -> None:
    fake_api.reply(201, created())
    message = text_message("whatsapp", recipient="whatsapp:+34612345678")
    receipt = whatsapp(fake_api.url).send(message)
    assert form(fake_api) == {"To": ["whatsapp:+34612345678"], "From": ["whatsapp:+14155238886"],
                              "Body": [message.body_text]}
    assert receipt.provider == "twilio_whatsapp"


def test_whatsapp_template_sid_used_as_given_and_messaging_service(fake_api: FakeApi) -> None:
    fake_api.reply(201, created())
    whatsapp(fake_api.url, from_number=None, messaging_service_sid=MESSAGING_SERVICE).send(
        text_message("whatsapp", template_id="HX" + "c" * 32))
    body = form(fake_api)
    assert body["ContentSid"] == ["HX" + "c" * 32] and body["MessagingServiceSid"] == [MESSAGING_SERVICE]
    assert "ContentVariables" not in body and "Body" not in body and "From" not in body


def test_whatsapp_opt_out_and_invalid_number(fake_api: FakeApi) -> None:
    fake_api.reply(400, twilio_error(21610, "Attempt to send to unsubscribed recipient"))
    with pytest.raises(OptedOutError):
        whatsapp(fake_api.url).send(text_message("whatsapp"))
    with pytest.raises(PermanentError, match="refused before sending"):
        whatsapp(fake_api.url).send(text_message("whatsapp", recipient="whatsapp:12"))
    assert len(fake_api.requests) == 1


def test_each_kind_refuses_the_other_channels(fake_api: FakeApi) -> None:
    with pytest.raises(PermanentError, match="sends sms, not whatsapp"):
        sms(fake_api.url).send(text_message("whatsapp"))
    with pytest.raises(PermanentError, match="sends whatsapp, not email"):
        whatsapp(fake_api.url).send(text_message("email"))
    assert fake_api.requests == []


@pytest.mark.parametrize(("root", "url", "expected"), [
    ("https://api.twilio.com", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
     "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"),
    ("http://127.0.0.1:8080", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?x=1",
     "http://127.0.0.1:8080/2010-04-01/Accounts/AC1/Messages.json?x=1"),
    ("https://egress.internal/twilio", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
     "https://egress.internal/twilio/2010-04-01/Accounts/AC1/Messages.json"),
])
def test_api_root_rewrite(root: str, url: str, expected: str) -> None:
    assert ApiRootHttpClient(root, 5).rewrite(url) == expected
