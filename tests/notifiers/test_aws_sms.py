"""The AWS SMS notifier through the real boto3 client: End User Messaging SMS against a
loopback fake of its protocol, SNS Publish against moto's server; AWS's opt-out list read
before sending, its answers classified, and no credentials in the settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from clinicsync.notifiers.aws_sms import AwsSmsNotifier, AwsSmsSettings
from clinicsync.notifiers.base import AccountError, Message, OptedOutError, PermanentError, Refusal, RetryableError
from tests.faults import Answer, FaultPlan, FaultRates, FaultyApi
from tests.notifiers.aws_fake import (
    JSON,
    LONG_CODE,
    REGION,
    EndUserMessaging,
    aws_credentials,
    aws_error,
    end_user_messaging_fake,
    moto_sns,
    sns_sms_messages,
)
from tests.notifiers.conftest import refusing_port

__all__ = ["aws_credentials", "moto_sns"]  # fixtures
PATIENT = "+12125550123"


@pytest.fixture
def eum(aws_credentials: None) -> Iterator[tuple[FaultyApi, EndUserMessaging]]:
    api, service = end_user_messaging_fake()
    api.start()
    yield api, service
    api.stop()


def notifier(endpoint: str, **keys: object) -> AwsSmsNotifier:
    settings = AwsSmsSettings.model_validate({"name": "aws", "region": REGION, "origination_identity": LONG_CODE,
                                              "configuration_set": "clinic-events", "endpoint_url": endpoint,
                                              "timeout": 2, **keys})
    return AwsSmsNotifier(settings)


def sms(to: str = PATIENT, body: str = "Reminder: Dr. Hart tomorrow 9:00. Reply C to confirm.") -> Message:
    return Message("sms", to, body, "a1:patient:day:v1", metadata={"reminder_id": "42"})


def test_end_user_messaging_sends_a_transactional_text_from_the_long_code(
        eum: tuple[FaultyApi, EndUserMessaging]) -> None:
    api, service = eum
    receipt = notifier(api.url).send(sms())
    assert receipt.provider == "aws_sms" and receipt.provider_id
    [request] = service.sent
    assert request["DestinationPhoneNumber"] == PATIENT and request["OriginationIdentity"] == LONG_CODE
    assert request["MessageType"] == "TRANSACTIONAL" and request["ConfigurationSetName"] == "clinic-events"
    assert request["Context"] == {"reminder_id": "42"}
    assert request["MessageBody"].startswith("Reminder: Dr. Hart")


def test_a_number_on_the_aws_opt_out_list_is_never_sent_to(eum: tuple[FaultyApi, EndUserMessaging]) -> None:
    api, service = eum
    service.opted_out.add(PATIENT)
    with pytest.raises(OptedOutError, match="opt-out list"):
        notifier(api.url).send(sms())
    assert service.sent == []


def test_aws_refusing_an_opted_out_number_is_an_opt_out(eum: tuple[FaultyApi, EndUserMessaging]) -> None:
    """Opted out between the check and the send (or the check turned off): AWS refuses, we record it."""
    api, service = eum
    service.opted_out.add(PATIENT)
    with pytest.raises(OptedOutError, match="DESTINATION_PHONE_NUMBER_OPTED_OUT"):
        notifier(api.url, check_opt_out=False).send(sms())


@pytest.mark.parametrize(("answer", "error", "says"), [
    (Answer(400, aws_error("ThrottlingException", "Rate exceeded"), JSON), RetryableError, "ThrottlingException"),
    (Answer(500, aws_error("InternalServerException", "oops"), JSON), RetryableError, "HTTP 500"),
    (Answer(400, aws_error("ValidationException", "bad", Reason="INVALID_IDENTITY_FOR_DESTINATION_COUNTRY"), JSON),
     PermanentError, "INVALID_IDENTITY_FOR_DESTINATION_COUNTRY"),
    (Answer(400, aws_error("AccessDeniedException", "no"), JSON), AccountError, "sms-voice:SendTextMessage"),
    (Answer(400, aws_error("ServiceQuotaExceededException", "limit"), JSON), AccountError, "spending"),
    (Answer(400, aws_error("UnrecognizedClientException", "bad key"), JSON), AccountError, "not valid"),
    (Answer(400, aws_error("ExpiredTokenException", "expired"), JSON), AccountError, "expired"),
])
def test_aws_answers_are_classified(eum: tuple[FaultyApi, EndUserMessaging], answer: Answer,
                                    error: type[Exception], says: str) -> None:
    api, service = eum
    service.refuse[PATIENT] = answer
    with pytest.raises(error, match=says) as raised:
        notifier(api.url).send(sms())
    assert PATIENT not in str(raised.value) and "Dr. Hart" not in str(raised.value)


@pytest.mark.parametrize(("refusal", "about"), [
    (aws_error("ValidationException", "too long", Reason="MAXIMUM_SIZE_EXCEEDED"), Refusal.MESSAGE),
    (aws_error("ValidationException", "sender", Reason="SENDER_ID_NOT_REGISTERED"), Refusal.MESSAGE),
    (aws_error("ConflictException", "no SMS", Reason="NUMBER_CAPABILITIES_MISMATCH", ResourceType="phone-number",
               ResourceId="x"), Refusal.MESSAGE),
    (aws_error("ValidationException", "bad", Reason="INVALID_PARAMETER",
               Fields=[{"Name": "MessageBody", "Message": "bad"}]), Refusal.MESSAGE),
    (aws_error("ValidationException", "bad", Reason="INVALID_PARAMETER",
               Fields=[{"Name": "DestinationPhoneNumber", "Message": "bad"}]), Refusal.ADDRESS),
    (aws_error("ValidationException", "country", Reason="INVALID_IDENTITY_FOR_DESTINATION_COUNTRY"), Refusal.ADDRESS),
    (aws_error("ConflictException", "sandbox", Reason="DESTINATION_PHONE_NUMBER_NOT_VERIFIED",
               ResourceType="verified-destination-number", ResourceId="x"), Refusal.ADDRESS),
])
def test_end_user_messaging_says_whether_a_refusal_is_about_the_number_or_the_message(
        eum: tuple[FaultyApi, EndUserMessaging], refusal: dict[str, object], about: Refusal) -> None:
    api, service = eum
    service.refuse[PATIENT] = Answer(400, refusal, JSON)
    with pytest.raises(PermanentError) as raised:
        notifier(api.url).send(sms())
    assert type(raised.value) is PermanentError and raised.value.about is about


def test_sns_refusing_a_message_too_long_is_about_the_message(moto_sns: str) -> None:
    """SNS says InvalidParameter for a number it will not publish to and for a message too long:
    the text tells them apart."""
    before = len(sns_sms_messages())
    with pytest.raises(PermanentError, match="InvalidParameter") as raised:
        notifier(moto_sns, api="sns").send(sms(body="Reminder " * 200))
    assert raised.value.about is Refusal.MESSAGE and len(sns_sms_messages()) == before


def test_a_fault_while_reading_the_opt_out_list_is_retried_never_unknown(aws_credentials: None) -> None:
    """Nothing was sent yet, so even a timeout there is safe to retry."""
    api, service = end_user_messaging_fake(FaultPlan(FaultRates(timeout=1.0), limit=1))
    api.start()
    try:
        with pytest.raises(RetryableError, match="opt-out list"):
            notifier(api.url, timeout=0.5).send(sms())
        notifier(api.url).send(sms())  # the fault is spent
        assert len(service.sent) == 1
    finally:
        api.stop()


def test_a_provider_that_is_down_is_retryable(aws_credentials: None) -> None:
    api, _ = end_user_messaging_fake()
    port = api.server.server_address[1]
    api.server.server_close()
    with refusing_port(port), pytest.raises(RetryableError):
        notifier(f"http://127.0.0.1:{port}", check_opt_out=False).send(sms())


def test_sns_publish_to_a_phone_number(moto_sns: str) -> None:
    before = len(sns_sms_messages())
    receipt = notifier(moto_sns, api="sns").send(sms())
    assert receipt.provider_id
    assert sns_sms_messages()[before:] == [(PATIENT, sms().body_text)]


def test_sns_reads_its_opt_out_list_first(moto_sns: str) -> None:
    before = len(sns_sms_messages())
    with pytest.raises(OptedOutError):
        notifier(moto_sns, api="sns").send(sms(to="+12125550199"))  # moto: numbers ending in 99 opted out
    assert len(sns_sms_messages()) == before


@pytest.mark.parametrize(("keys", "says"), [
    ({"origination_identity": None}, "origination_identity is required"),
    ({"region": "Virginia"}, "region"),
    ({"inbound_topic_arns": ["arn:aws:sqs:us-east-1:123456789012:q"]}, "SNS topic ARN"),
    ({"aws_secret_access_key": "x"}, "aws_secret_access_key"),  # credentials never in settings
])
def test_settings_errors_name_the_key(keys: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        AwsSmsSettings.model_validate({"name": "aws", "region": REGION, "origination_identity": LONG_CODE, **keys})
