"""A permanent refusal about the message, not the number, goes to none of the patient's fallback
numbers (patient.fallback_phones): a body too long, a message the carrier filtered as spam,
a sender the provider refuses fail alike on every number, so sending on would spend a send per
number and spread the clinic's error. The next channel (email) takes the reminder instead; a
refusal of the number still hands it to the next number. Through the vendors' real clients,
faked at the HTTP boundary: Twilio's Messages API and AWS End User Messaging SMS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from clinicsync.sync.store.store import Store
from tests.faults import Answer, FaultyApi
from tests.notifiers.aws_fake import JSON, LONG_CODE, REGION, EndUserMessaging, aws_error, end_user_messaging_fake
from tests.notifiers.conftest import FakeApi
from tests.notifiers.test_aws_sms import aws_credentials
from tests.notifiers.test_twilio import created, twilio_error
from tests.sync.reminders.conftest import SettingsMaker
from tests.sync.reminders.fakes import read_log
from tests.sync.reminders.test_dispatch import BASE, EMAIL, PHONE, book, deliveries, reminders, run
from tests.sync.reminders.test_fallback_numbers import (
    FIRST,
    KEY,
    SECOND,
    sent_to,
    through_twilio,
    twilio,
    with_fallbacks,
)

__all__ = ["aws_credentials", "twilio"]  # fixtures


@pytest.mark.parametrize("code", [21617, 30007])
def test_twilio_refusing_the_message_tries_no_fallback_number(
        store: Store, reminder_settings: SettingsMaker, twilio: FakeApi, code: int, tmp_path: Path) -> None:
    """21617 (the body is longer than 1600 characters), 30007 (the carrier filtered it): the
    patient's two other numbers get nothing; the email goes out."""
    settings = through_twilio(reminder_settings, twilio)
    twilio.reply(400, twilio_error(code, "refused"))
    twilio.reply(201, created("SM" + "f" * 32))  # what a fallback number would have been answered
    book(store, settings, with_fallbacks(f"{FIRST} {SECOND}"))
    assert run(settings, store)["sent"] == 1
    assert sent_to(twilio) == [PHONE]
    row = reminders(store)[KEY]
    assert (row.status, row.channel, row.tried) == ("sent", "email", "sms")
    assert [(d.channel, d.outcome) for d in deliveries(store)] == [("sms", "permanent"), ("email", "sent")]
    assert [line["to"] for line in read_log(tmp_path / "mails.jsonl")] == [EMAIL]


def test_twilio_refusing_the_sender_tries_no_fallback_number(
        store: Store, reminder_settings: SettingsMaker, twilio: FakeApi) -> None:
    """21212 (the 'From' is no valid sender): the account's, retried once fixed, on the same number."""
    settings = through_twilio(reminder_settings, twilio)
    twilio.reply(400, twilio_error(21212, "The 'From' number is not a valid phone number"))
    book(store, settings, with_fallbacks(f"{FIRST} {SECOND}"))
    run(settings, store)
    assert sent_to(twilio) == [PHONE]
    row = reminders(store)[KEY]
    assert row.status == "pending" and "check from_number" in row.reason
    assert [d.outcome for d in deliveries(store)] == ["retryable"]


@dataclass
class Tried(EndUserMessaging):
    """The fake End User Messaging service, noting each number a text was asked for (taken or not)."""

    tried: list[str] = field(default_factory=list)

    def respond(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        destination = json.loads(body or b"{}").get("DestinationPhoneNumber")
        if destination:
            self.tried.append(destination)
        return super().respond(method, path, headers, body)


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[tuple[FaultyApi, Tried]]:
    service = Tried()
    api, _ = end_user_messaging_fake(service=service)
    api.start()
    yield api, service
    api.stop()


def through_aws(reminder_settings: SettingsMaker, api: FaultyApi) -> Any:
    """SMS through the real aws_sms notifier (boto3, its own classification), email scripted."""
    notifier = (f"  - {{name: aws, kind: aws_sms, region: {REGION}, origination_identity: \"{LONG_CODE}\", "
                f"endpoint_url: \"{api.url}\", timeout: 5}}\n")
    return reminder_settings(BASE.replace("sms: texts", "sms: aws"), extra_notifiers=notifier)


@pytest.mark.parametrize(("refusal", "texted"), [
    (aws_error("ValidationException", "too long", Reason="MAXIMUM_SIZE_EXCEEDED"), []),
    (aws_error("ValidationException", "sender", Reason="SENDER_ID_NOT_REGISTERED"), []),
    (aws_error("ValidationException", "bad", Reason="INVALID_PARAMETER",
               Fields=[{"Name": "DestinationPhoneNumber", "Message": "not a valid number"}]), [FIRST]),
])
def test_aws_refusing_the_message_tries_no_fallback_number_refusing_the_number_does(
        store: Store, reminder_settings: SettingsMaker, aws: tuple[FaultyApi, Tried],
        refusal: dict[str, Any], texted: list[str], tmp_path: Path) -> None:
    api, service = aws
    service.refuse[PHONE] = Answer(400, refusal, JSON)
    settings = through_aws(reminder_settings, api)
    book(store, settings, with_fallbacks(f"{FIRST} {SECOND}"))
    assert run(settings, store)["sent"] == 1
    assert [r["DestinationPhoneNumber"] for r in service.sent] == texted
    assert service.tried == [PHONE, *texted]
    row = reminders(store)[KEY]
    assert row.channel == ("sms" if texted else "email")
    assert bool(read_log(tmp_path / "mails.jsonl")) is not bool(texted)
