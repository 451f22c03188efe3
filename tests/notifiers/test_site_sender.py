"""A site's own sender (issue 60): ``Message.sender`` replaces the notifier's configured one,
through each vendor's real client at its HTTP (or SMTP) boundary; without it, nothing changes
(the other tests of this folder)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

from clinicsync.notifiers.outbox import OutboxNotifier, OutboxSettings
from tests.faults import FaultyApi
from tests.notifiers import test_aws_sms, test_sendgrid, test_smtp, test_twilio
from tests.notifiers.aws_fake import EndUserMessaging, aws_credentials
from tests.notifiers.conftest import FakeApi, SmtpFactory, email_message, text_message
from tests.notifiers.test_aws_sms import eum

__all__ = ["aws_credentials", "eum"]  # fixtures
SOUTH_SMS = "+13125550199"
SOUTH_MAIL = "South Dental <hello@south.example>"


def test_twilio_sms_and_whatsapp_go_from_the_sites_number(fake_api: FakeApi) -> None:
    for _ in range(3):
        fake_api.reply(201, test_twilio.created())
    test_twilio.sms(fake_api.url).send(text_message(sender=SOUTH_SMS))
    service = test_twilio.sms(fake_api.url, from_number=None, messaging_service_sid=test_twilio.MESSAGING_SERVICE)
    service.send(text_message(sender=SOUTH_SMS))
    test_twilio.whatsapp(fake_api.url).send(text_message("whatsapp", sender=SOUTH_SMS))
    sms, pooled, whatsapp = (parse_qs(r.body.decode()) for r in fake_api.requests)
    assert sms["From"] == [SOUTH_SMS]
    # A messaging service keeps its features; the site's number, in its pool, is the one used.
    assert pooled["From"] == [SOUTH_SMS] and pooled["MessagingServiceSid"] == [test_twilio.MESSAGING_SERVICE]
    assert whatsapp["From"] == [f"whatsapp:{SOUTH_SMS}"]


def test_aws_end_user_messaging_goes_from_the_sites_number(eum: tuple[FaultyApi, EndUserMessaging]) -> None:
    api, service = eum
    test_aws_sms.notifier(api.url).send(text_message(sender=SOUTH_SMS))
    test_aws_sms.notifier(api.url).send(text_message())
    assert [r["OriginationIdentity"] for r in service.sent] == [SOUTH_SMS, test_aws_sms.LONG_CODE]


def test_smtp_sends_from_the_sites_address(smtp_server: SmtpFactory) -> None:
    controller, sink = smtp_server()
    mail = test_smtp.notifier(controller.port)
    mail.send(email_message(sender=SOUTH_MAIL))
    mail.close()
    [received] = sink.received
    assert received.mail_from == "hello@south.example"
    assert test_smtp.parse(received.content)["From"] == SOUTH_MAIL


def test_sendgrid_sends_from_the_sites_address(fake_api: FakeApi) -> None:
    fake_api.reply(202, "", X_Message_Id="Q1")
    test_sendgrid.notifier(fake_api.url).send(email_message(sender=SOUTH_MAIL))
    assert fake_api.requests[0].json()["from"] == {"name": "South Dental", "email": "hello@south.example"}


def test_outbox_files_say_the_sites_sender(tmp_path: Path) -> None:
    outbox = OutboxNotifier(OutboxSettings(name="outbox", directory=tmp_path, sender="Clinic <clinic@example.org>"))
    outbox.send(text_message(sender=SOUTH_SMS))
    outbox.send(email_message(sender=SOUTH_MAIL))
    assert json.loads(next((tmp_path / "sms").iterdir()).read_text())["from"] == SOUTH_SMS
    assert f"From: {SOUTH_MAIL}" in next((tmp_path / "email").iterdir()).read_text()
