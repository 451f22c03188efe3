"""The sendgrid notifier through the official client against a loopback fake of the v3 API."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from clinicsync.notifiers.base import AccountError, DeliveryUnknownError, PermanentError, RetryableError
from clinicsync.notifiers.sendgrid_mail import SendGridNotifier, SendGridSettings
from tests.notifiers.conftest import ICS, FakeApi, email_message

API_KEY = "SG.test-key.secret"


def notifier(api_root: str, **settings: Any) -> SendGridNotifier:
    values: dict[str, Any] = {"name": "sg", "api_key": API_KEY, "sender": "Demo Clinic <reminders@clinic.example>",
                              "api_root": api_root, "timeout": 5}
    values.update(settings)
    return SendGridNotifier(SendGridSettings(**values))


def test_mail_send_request_is_what_sendgrid_expects(fake_api: FakeApi) -> None:
    fake_api.reply(202, "", X_Message_Id="Q1r2s3t4-u5v6")
    message = email_message()
    receipt = notifier(fake_api.url, reply_to="front-desk@clinic.example").send(message)

    [request] = fake_api.requests
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "from": {"name": "Demo Clinic", "email": "reminders@clinic.example"},
        "subject": "Your appointment on Monday, March 10",
        "personalizations": [{"to": [{"email": "ana.garcia@example.com"}]}],
        "content": [{"type": "text/plain", "value": message.body_text},
                    {"type": "text/html", "value": message.body_html}],
        "attachments": [{"content": base64.b64encode(ICS).decode(), "type": "text/calendar; method=REQUEST",
                         "filename": "appointment.ics", "disposition": "attachment"}],
        "headers": {"X-Clinicsync-Key": message.idempotency_key},
        "custom_args": {"reminder_id": "42", "clinicsync_key": message.idempotency_key},
        "reply_to": {"email": "front-desk@clinic.example"},
    }
    assert (receipt.provider, receipt.provider_id, receipt.status) == ("sendgrid", "Q1r2s3t4-u5v6", "accepted")


def test_dynamic_template_replaces_subject_and_content(fake_api: FakeApi) -> None:
    fake_api.reply(202, "", X_Message_Id="abc")
    message = email_message(template_id="reminder-es", template_variables={"first_name": "Ana", "time": "10:30"},
                            attachments=())
    notifier(fake_api.url, templates={"reminder-es": "d-0123456789abcdef"}, sandbox=True).send(message)
    body = fake_api.requests[0].json()
    assert body["template_id"] == "d-0123456789abcdef"
    assert body["personalizations"] == [{"to": [{"email": "ana.garcia@example.com"}],
                                         "dynamic_template_data": {"first_name": "Ana", "time": "10:30"}}]
    assert "content" not in body and "subject" not in body
    assert body["mail_settings"] == {"sandbox_mode": {"enable": True}}


def test_unmapped_template_id_is_used_as_given(fake_api: FakeApi) -> None:
    fake_api.reply(202, "", X_Message_Id="abc")
    notifier(fake_api.url).send(email_message(template_id="d-feedface", attachments=()))
    assert fake_api.requests[0].json()["template_id"] == "d-feedface"


def test_429_is_retryable_and_honours_retry_after(fake_api: FakeApi) -> None:
    fake_api.reply(429, {"errors": [{"message": "too many requests", "field": None}]}, Retry_After="7")
    with pytest.raises(RetryableError, match="HTTP 429") as caught:
        notifier(fake_api.url).send(email_message())
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(fake_api: FakeApi, status: int) -> None:
    fake_api.reply(status, {"errors": [{"message": "internal error"}]})
    with pytest.raises(RetryableError, match=f"HTTP {status}") as caught:
        notifier(fake_api.url).send(email_message())
    assert caught.value.retry_after is None


@pytest.mark.parametrize(("status", "error"), [(400, PermanentError), (401, AccountError), (403, AccountError),
                                               (413, PermanentError)])
def test_client_errors_are_classified_and_carry_no_address(fake_api: FakeApi, status: int,
                                                           error: type[Exception]) -> None:
    """400/413: this message; 401 (the key revoked), 403 (the key without mail.send, an unverified
    sender identity, a suspended account): the clinic's account, retried while in time."""
    fake_api.reply(status, {"errors": [{
        "message": "Invalid email address ana.garcia@example.com", "field": "personalizations.0.to.0.email"}]})
    with pytest.raises(error) as caught:
        notifier(fake_api.url).send(email_message())
    assert isinstance(caught.value, RetryableError) == (error is AccountError)
    text = str(caught.value)
    assert f"HTTP {status}" in text and "personalizations.0.to.0.email" in text
    assert "ana.garcia" not in text and "Hello" not in text


def test_a_refused_connection_is_retryable(closed_port_url: str) -> None:
    with pytest.raises(RetryableError, match="could not reach SendGrid"):
        notifier(closed_port_url).send(email_message())


def test_no_answer_after_the_request_is_unknown(fake_api: FakeApi) -> None:
    fake_api.drop()
    with pytest.raises(DeliveryUnknownError, match="may have been delivered"):
        notifier(fake_api.url).send(email_message())
    assert len(fake_api.requests) == 1  # it did arrive


def test_api_root_defaults_to_sendgrid() -> None:
    settings = SendGridSettings(name="sg", api_key=API_KEY, sender="reminders@clinic.example")
    assert settings.api_root == "https://api.sendgrid.com"
    assert SendGridNotifier(settings)._client.client.host == "https://api.sendgrid.com"
