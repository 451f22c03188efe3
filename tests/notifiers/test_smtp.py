"""The smtp notifier against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import email
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.policy import default
from typing import Any

import icalendar
import pytest
from aiosmtpd.smtp import SMTP as SMTPServer

from clinicsync.notifiers.base import AccountError, DeliveryUnknownError, PermanentError, RetryableError
from clinicsync.notifiers.mime import message_id
from clinicsync.notifiers.smtp import SmtpNotifier, SmtpSettings
from tests.notifiers.conftest import (
    ICS,
    SMTP_PASSWORD,
    SMTP_USER,
    LoopbackController,
    MailSink,
    SmtpFactory,
    Tls,
    email_message,
)

SENDER = "Demo Clinic <reminders@clinic.example>"


def notifier(port: int, **settings: Any) -> SmtpNotifier:
    values: dict[str, Any] = {"name": "mail", "host": "127.0.0.1", "port": port, "security": "none",
                              "sender": SENDER, "timeout": 5}
    values.update(settings)
    return SmtpNotifier(SmtpSettings(**values))


def parse(content: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(content, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def test_sends_alternative_parts_and_the_calendar_invitation(smtp_server: SmtpFactory) -> None:
    controller, sink = smtp_server()
    mail = notifier(controller.port, reply_to="front-desk@clinic.example")
    message = email_message()
    receipt = mail.send(message)
    mail.close()

    [got] = sink.received
    assert not got.tls and not got.session.authenticated  # security: none, as configured
    assert got.mail_from == "reminders@clinic.example"
    assert got.rcpt_tos == ["ana.garcia@example.com"]
    parsed = parse(got.content)
    assert parsed["From"] == SENDER
    assert parsed["To"] == "ana.garcia@example.com"
    assert parsed["Reply-To"] == "front-desk@clinic.example"
    assert parsed["Subject"] == "Your appointment on Monday, March 10"
    assert parsed["Message-ID"] == message_id(message.idempotency_key, SENDER) == receipt.provider_id
    assert parsed["Message-ID"].endswith("@clinic.example>")
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["X-Clinicsync-Key"] == message.idempotency_key
    assert parsed.get_content_type() == "multipart/mixed"

    alternative = next(p for p in parsed.iter_parts() if p.get_content_type() == "multipart/alternative")
    plain, html = alternative.iter_parts()
    # On the wire lines end in CRLF (RFC 5322).
    assert plain.get_content_type() == "text/plain" and lf(plain.get_content()) == message.body_text
    assert html.get_content_type() == "text/html" and lf(html.get_content()).strip() == message.body_html

    [invite] = list(parsed.iter_attachments())
    assert invite.get_content_type() == "text/calendar"
    assert invite.get_param("method") == "REQUEST"
    assert invite.get_filename() == "appointment.ics"
    assert invite.get_content() == ICS.decode()  # a text part decodes to str, CRLFs intact
    calendar = icalendar.Calendar.from_ical(invite.get_content())
    assert calendar["METHOD"] == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert (str(event["UID"]), int(event["SEQUENCE"])) == ("appt-42@clinicsync", 2)
    assert receipt.provider == "smtp" and receipt.status == "sent"


def test_message_id_is_the_same_on_every_attempt(smtp_server: SmtpFactory) -> None:
    controller, sink = smtp_server()
    mail = notifier(controller.port)
    first, second = mail.send(email_message()), mail.send(email_message())
    other = mail.send(email_message(idempotency_key="demo-csv:A-1001/patient/reminder/PT1H/v3"))
    mail.close()
    assert first.provider_id == second.provider_id != other.provider_id
    assert [parse(r.content)["Message-ID"] for r in sink.received] == [
        first.provider_id, second.provider_id, other.provider_id]


def test_reuses_one_connection_for_consecutive_messages(smtp_server: SmtpFactory) -> None:
    controller, sink = smtp_server()
    mail = notifier(controller.port)
    for n in range(3):
        mail.send(email_message(idempotency_key=f"k{n}"))
    mail.close()
    assert len(sink.received) == 3
    assert all(r.session is sink.received[0].session for r in sink.received)  # one connection


def test_plain_text_only_and_cancellation(smtp_server: SmtpFactory) -> None:
    controller, sink = smtp_server()
    mail = notifier(controller.port)
    cancel = ICS.replace(b"METHOD:REQUEST", b"METHOD:CANCEL")
    mail.send(email_message(body_html=None, attachments=(
        email_message().attachments[0].__class__("cancel.ics", "text/calendar; method=CANCEL", cancel),)))
    mail.close()
    parsed = parse(sink.received[0].content)
    body = parsed.get_body(preferencelist=("html", "plain"))
    assert body is not None and body.get_content_type() == "text/plain"
    [invite] = list(parsed.iter_attachments())
    assert invite.get_param("method") == "CANCEL"
    assert icalendar.Calendar.from_ical(invite.get_content())["METHOD"] == "CANCEL"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # implicit TLS: it is TLS
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_with_authentication(smtp_server: SmtpFactory, tls: Tls, security: str) -> None:
    controller, sink = smtp_server(security, tls)
    mail = notifier(controller.port, security=security, ca_file=tls.cert, username=SMTP_USER,
                    password=SMTP_PASSWORD)
    mail.send(email_message())
    mail.close()
    [got] = sink.received
    assert got.session.authenticated and got.tls


def test_wrong_password_is_the_accounts_fault_and_names_no_secret(smtp_server: SmtpFactory, tls: Tls) -> None:
    """A changed or expired password refuses every message alike: retried while in time, not
    failed for good (notifiers/base.py AccountError)."""
    controller, sink = smtp_server("starttls", tls)
    mail = notifier(controller.port, security="starttls", ca_file=tls.cert, username=SMTP_USER,
                    password="wrong-password")
    with pytest.raises(AccountError, match="authentication failed") as caught:
        mail.send(email_message())
    assert "wrong-password" not in str(caught.value)
    assert sink.received == []


def test_untrusted_certificate_is_not_accepted(smtp_server: SmtpFactory, tls: Tls) -> None:
    controller, sink = smtp_server("starttls", tls)
    mail = notifier(controller.port, security="starttls", username=SMTP_USER, password=SMTP_PASSWORD)
    with pytest.raises(RetryableError, match="SSLCertVerificationError"):
        mail.send(email_message())
    assert sink.received == []


def test_starttls_required_but_not_offered_sends_nothing(smtp_server: SmtpFactory) -> None:
    controller, sink = smtp_server("plain")
    mail = notifier(controller.port, security="starttls")
    with pytest.raises(PermanentError, match="does not offer STARTTLS"):
        mail.send(email_message())
    assert sink.received == []


@pytest.mark.parametrize(("reply", "error"), [
    ("550 5.1.1 <ana.garcia@example.com>: Recipient address rejected: User unknown", PermanentError),
    ("451 4.3.0 <ana.garcia@example.com>: Temporary lookup failure", RetryableError),
])
def test_recipient_refusals_are_classified_without_the_address(
        smtp_server: SmtpFactory, reply: str, error: type[Exception]) -> None:
    controller, sink = smtp_server()
    sink.refuse["ana.garcia@example.com"] = reply
    mail = notifier(controller.port)
    with pytest.raises(error) as caught:
        mail.send(email_message())
    assert type(caught.value) is error
    text = str(caught.value)
    assert "refused the recipient" in text and reply[:3] in text
    assert "ana.garcia" not in text and "Ana" not in text
    # The connection was dropped with the error; the next message still goes out.
    assert mail.send(email_message(recipient="bo@example.com")).status == "sent"
    mail.close()


def test_connection_refused_is_retryable(closed_port_url: str) -> None:
    port = int(closed_port_url.rsplit(":", 1)[1])
    with pytest.raises(RetryableError, match="could not talk to the SMTP server"):
        notifier(port).send(email_message())


def test_connection_lost_after_the_message_went_out_is_unknown(smtp_server: SmtpFactory) -> None:
    controller, sink = smtp_server()
    sink.drop_after_data = True
    with pytest.raises(DeliveryUnknownError, match="may have accepted it"):
        notifier(controller.port).send(email_message())


class HangUpAtData(SMTPServer):
    """Takes the envelope, then drops the connection when DATA is asked for, before its 354:
    the message's content never left the client."""

    async def smtp_DATA(self, arg: str) -> None:
        assert self.transport is not None
        self.transport.abort()


def test_connection_lost_before_the_content_was_sent_is_retryable() -> None:
    sink = MailSink()
    controller = LoopbackController(sink)
    controller.factory = lambda: HangUpAtData(sink)  # type: ignore[method-assign]
    controller.start()
    try:
        with pytest.raises(RetryableError, match="could not talk to the SMTP server"):
            notifier(controller.port).send(email_message())
    finally:
        controller.stop()
    assert sink.received == []


def test_a_server_that_closed_an_idle_connection_is_reconnected(smtp_server: SmtpFactory) -> None:
    controller, sink = smtp_server()
    mail = notifier(controller.port)
    mail.send(email_message(idempotency_key="one"))
    controller.hang_up_all(sink)  # as a server does with idle clients
    mail.send(email_message(idempotency_key="two"))
    mail.close()
    assert len(sink.received) == 2
    assert sink.received[0].session is not sink.received[1].session


def test_refuses_other_channels() -> None:
    with pytest.raises(PermanentError, match="sends email, not sms"):
        notifier(25).send(email_message(channel="sms"))


def test_concurrent_senders_each_hold_their_own_connection(smtp_server: SmtpFactory) -> None:
    controller, sink = smtp_server()
    mail = notifier(controller.port, max_idle_connections=4)
    keys = [f"reminder-{n}" for n in range(20)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        receipts = list(pool.map(lambda key: mail.send(email_message(idempotency_key=key)), keys))
    mail.close()
    assert sorted(parse(r.content)["X-Clinicsync-Key"] for r in sink.received) == sorted(keys)
    assert len({r.provider_id for r in receipts}) == 20
    assert len({id(r.session) for r in sink.received}) <= 4  # never more connections than senders


def test_a_header_with_a_line_break_is_refused_before_connecting(smtp_server: SmtpFactory) -> None:
    controller, sink = smtp_server()
    with pytest.raises(PermanentError, match="cannot be built"):
        notifier(controller.port).send(email_message(subject="Reminder\r\nBcc: everyone@example.com"))
    assert sink.received == []
