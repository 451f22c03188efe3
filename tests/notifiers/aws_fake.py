"""AWS at the HTTP boundary, for the real boto3 client.

- SNS (``Publish`` to a phone number, the opt-out check): moto in server mode on loopback.
- AWS End User Messaging SMS (``pinpoint-sms-voice-v2``), which moto does not implement: a
  loopback fake of its awsJson1_0 protocol (``X-Amz-Target: PinpointSMSVoiceV2.<Operation>``,
  errors as ``{"__type": ..., "Reason": ...}``), built from the service model and the API
  reference, on the seeded fault server of tests/faults.py so throttling, 5xx, resets and
  timeouts meet the real client.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.core import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer
from moto.sns.models import sns_backends

from tests.faults import Answer, FaultPlan, FaultRates, FaultyApi
from tests.server.test_serve import free_port

REGION = "us-east-1"
LONG_CODE = "+12125550100"
JSON = {"Content-Type": "application/x-amz-json-1.0"}


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials through the standard chain (the environment), never through settings."""
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def moto_sns(aws_credentials: None) -> Iterator[str]:
    """moto's server on a loopback port, answering: yields its URL. Its first SNS request loads
    moto's backend (~0.9 s wall at load 7, against 10 ms warm), which a loaded machine stretched
    past the notifier's 2 s timeout (a ReadTimeoutError on the opt-out list); that
    request is made here, with a long timeout, so that the tests time only the notifier's."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        boto3.client("sns", endpoint_url=url, region_name=REGION,
                     config=Config(read_timeout=120, retries={"max_attempts": 1})) \
            .check_if_phone_number_is_opted_out(phoneNumber=LONG_CODE)
        yield url
    finally:
        server.stop()


def sns_sms_messages() -> list[tuple[str, str]]:
    """(phone, text) of every SMS moto's SNS took, in order."""
    return list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())


def aws_error(kind: str, message: str, **members: Any) -> dict[str, Any]:
    return {"__type": kind, "message": message, **members}


@dataclass
class EndUserMessaging:
    """What the fake End User Messaging service holds: its opt-out list, the texts it took."""

    opted_out: set[str] = field(default_factory=set)
    sent: list[dict[str, Any]] = field(default_factory=list)
    refuse: dict[str, Answer] = field(default_factory=dict)  # destination -> a scripted refusal

    def respond(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        operation = str(headers.get("X-Amz-Target", "")).removeprefix("PinpointSMSVoiceV2.")
        request = json.loads(body or b"{}")
        if operation == "DescribeOptedOutNumbers":
            numbers = [n for n in request.get("OptedOutNumbers", []) if n in self.opted_out]
            return Answer(200, {"OptOutListArn": f"arn:aws:sms-voice:{REGION}:{DEFAULT_ACCOUNT_ID}:opt-out-list/x",
                                "OptOutListName": request["OptOutListName"],
                                "OptedOutNumbers": [{"OptedOutNumber": n, "OptedOutTimestamp": 1.7e9,
                                                     "EndUserOptedOut": True} for n in numbers]}, JSON)
        if operation == "SendTextMessage":
            destination = request["DestinationPhoneNumber"]
            if destination in self.refuse:
                return self.refuse[destination]
            if destination in self.opted_out:
                refusal = aws_error("ConflictException", "opted out", Reason="DESTINATION_PHONE_NUMBER_OPTED_OUT",
                                    ResourceType="opted-out-number", ResourceId=destination)
                return Answer(400, refusal, JSON)
            self.sent.append(request)
            return Answer(200, {"MessageId": str(uuid.uuid4())}, JSON)
        return Answer(400, aws_error("UnknownOperationException", operation), JSON)


def end_user_messaging_key(body: bytes) -> str:
    """Requests are keyed by destination; opt-out look-ups by their own key, so they never count as sends."""
    request = json.loads(body or b"{}")
    if "DestinationPhoneNumber" in request:
        return str(request["DestinationPhoneNumber"])
    return "opt-out-check:" + ",".join(request.get("OptedOutNumbers", []))


def end_user_messaging_fake(plan: FaultPlan | None = None,
                            service: EndUserMessaging | None = None) -> tuple[FaultyApi, EndUserMessaging]:
    service = service or EndUserMessaging()
    return FaultyApi(plan or FaultPlan(FaultRates()), service.respond, key_of=end_user_messaging_key, fault_answers={
        "throttle": lambda wait: Answer(400, aws_error("ThrottlingException", "Rate exceeded"), JSON),
        "error": lambda _: Answer(500, aws_error("InternalServerException", "internal error"), JSON),
        "unavailable": lambda _: Answer(503, aws_error("ServiceUnavailable", "unavailable"), JSON),
    }), service
