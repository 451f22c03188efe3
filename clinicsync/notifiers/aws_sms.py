"""SMS through AWS with the official SDK (boto3): AWS End User Messaging SMS
(``pinpoint-sms-voice-v2`` ``SendTextMessage`` from a long code, a configuration set for
delivery events, message type TRANSACTIONAL) or, for accounts that use it, plain SNS
``Publish`` to a phone number.

Credentials come from the standard AWS chain (environment, shared profile, instance or
IRSA role), never from settings text. botocore's own retries are turned off: a retry after
a read timeout could send the message twice, so every retry goes through the dispatcher,
which knows whether the provider may already have the message (``unknown``).

AWS keeps its own opt-out list (a patient who texts STOP to the long code is on it): the
notifier reads it before sending and turns AWS's "opted out" refusal into ``OptedOutError``,
so the dispatcher records the patient's opt-out like a Twilio 21610.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

import botocore.exceptions
from pydantic import Field, model_validator

from clinicsync.notifiers.base import (
    AccountError,
    DeliveryUnknownError,
    Message,
    Notifier,
    NotifierError,
    NotifierSettings,
    OptedOutError,
    PermanentError,
    Receipt,
    Refusal,
    RetryableError,
)
from clinicsync.notifiers.fields import ApiRoot
from clinicsync.notifiers.http import is_retryable_status
from clinicsync.notifiers.phone import recipient_phone

# Error codes (the ``__type`` / ``Code`` of AWS's answer) and what they mean for us.
THROTTLED = frozenset({"ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
                       "RequestLimitExceeded", "InternalServerException", "InternalError", "InternalFailure",
                       "ServiceUnavailable", "KMSThrottlingException"})
OPTED_OUT_REASONS = frozenset({"DESTINATION_PHONE_NUMBER_OPTED_OUT"})
# The account's, not the message's (notifiers/base.py ``AccountError``): every send fails alike
# until the credentials, the role, the sender or the quota are fixed.
ACCOUNT_HINTS = {
    "AccessDeniedException": "access denied: the role needs sms-voice:SendTextMessage (or sns:Publish)",
    "AuthorizationError": "access denied: the role needs sns:Publish",
    "UnrecognizedClientException": "the access key is not valid (check the credentials)",
    "InvalidClientTokenId": "the access key is not valid (check the credentials)",
    "ExpiredTokenException": "the credentials have expired",
    "ExpiredToken": "the credentials have expired",
    "InvalidSignatureException": "the secret key does not match (check the credentials)",
    "SignatureDoesNotMatch": "the secret key does not match (check the credentials)",
    "ResourceNotFoundException": "not found: check origination_identity and configuration_set",
    "ServiceQuotaExceededException": "the account's SMS spending or quota limit is reached",
}
PERMANENT_HINTS = {
    "ValidationException": "AWS refused the request",
    "InvalidParameter": "AWS refused the request",
}
# End User Messaging's reasons (the ``Reason`` of a ValidationException or ConflictException) that
# refuse the message or its sender, not the number (notifiers/base.py ``Refusal``): every number
# of the patient's would be refused alike, so none of their other numbers is tried.
ABOUT_THE_MESSAGE = frozenset({
    "MAXIMUM_SIZE_EXCEEDED",  # the body is longer than a message may be
    "INVALID_ARN", "SENDER_ID_NOT_REGISTERED", "SENDER_ID_NOT_SUPPORTED", "SENDER_ID_REQUIRES_REGISTRATION",
    "CHANNEL_NOT_ENABLED", "NUMBER_CAPABILITIES_MISMATCH", "MESSAGE_TYPE_MISMATCH",
    "NO_ORIGINATION_IDENTITIES_FOUND", "RESOURCE_NOT_ACTIVE",  # the origination identity cannot send this
})
# Reasons that say only "a field is wrong": the message's when no field named is the destination.
_SOME_FIELD = frozenset({"INVALID_PARAMETER", "FIELD_VALIDATION_FAILED", "MISSING_PARAMETER", "CANNOT_PARSE",
                         "INVALID_REQUEST"})
_DESTINATION_FIELDS = frozenset({"DestinationPhoneNumber", "PhoneNumber"})


class AwsSmsSettings(NotifierSettings):
    """Keys of the AWS SMS notifier. No credentials here: boto3 finds them itself."""

    kind: Literal["aws_sms"] = "aws_sms"
    api: Literal["end_user_messaging", "sns"] = Field(
        "end_user_messaging", description="AWS End User Messaging SMS (SendTextMessage) or SNS Publish")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$", description="e.g. us-east-1")
    origination_identity: str | None = Field(
        None, min_length=1, max_length=256,
        description="the long code (E.164), its phone number id/ARN, or a pool id/ARN to send from")
    configuration_set: str | None = Field(
        None, min_length=1, max_length=256, description="configuration set whose event destination reports delivery")
    opt_out_list: str | None = Field(
        "Default", description="the opt-out list read before sending (end_user_messaging); null skips the check")
    check_opt_out: bool = Field(True, description="ask AWS whether the number opted out before sending")
    max_price: str | None = Field(None, pattern=r"^\d+(\.\d{1,5})?$", description="max price per part, USD")
    inbound_topic_arns: list[str] = Field(
        default_factory=list,
        description="SNS topics whose notifications the server accepts (two-way replies, delivery events)")
    endpoint_url: ApiRoot | None = Field(None, description="another endpoint (a VPC endpoint or a test double)")
    timeout: float = Field(30.0, gt=0, le=600, description="seconds per request")

    @model_validator(mode="after")
    def _sns_sender(self) -> AwsSmsSettings:
        if self.api == "end_user_messaging" and not self.origination_identity:
            raise ValueError("origination_identity is required with api: end_user_messaging (the long code)")
        for arn in self.inbound_topic_arns:
            if not arn.startswith("arn:aws") or arn.count(":") != 5 or not arn.split(":")[2] == "sns":
                raise ValueError("inbound_topic_arns: each must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")
        return self


def classify(exc: botocore.exceptions.ClientError) -> NotifierError:
    """AWS's answer as a classified error; the reason never repeats the number or the body."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    reason_code = str(exc.response.get("Reason") or error.get("Reason") or "")
    detail = f"AWS {code or 'error'}" + (f" ({reason_code})" if reason_code else "") + f" (HTTP {status})"
    if reason_code in OPTED_OUT_REASONS or (code == "OptedOut"):
        return OptedOutError(f"{detail}: the recipient opted out (replied STOP)")
    if code in THROTTLED or is_retryable_status(status):
        return RetryableError(detail)
    if code in ACCOUNT_HINTS:
        return AccountError(f"{detail}: {ACCOUNT_HINTS[code]}")
    return PermanentError(f"{detail}: {PERMANENT_HINTS.get(code, 'the request was refused')}",
                          refusal(exc.response, code, reason_code))


def refusal(response: Any, code: str, reason_code: str) -> Refusal:
    """What AWS's permanent refusal is about. End User Messaging says it in its reason and the
    fields it names; SNS ``Publish`` answers ``InvalidParameter`` both for a number it will not
    publish to ("PhoneNumber Reason: … is not valid to publish to") and for the message ("Message
    too long", an origination number): the number's only when its text names the phone number
    (read here, never repeated). Anything else is taken as the number's, as before."""
    if reason_code in ABOUT_THE_MESSAGE:
        return Refusal.MESSAGE
    if reason_code in _SOME_FIELD:
        named = {str(f.get("Name")) for f in response.get("Fields") or [] if isinstance(f, dict)}
        return Refusal.ADDRESS if not named or named & _DESTINATION_FIELDS else Refusal.MESSAGE
    if code in ("InvalidParameter", "InvalidParameterValue") and not reason_code:
        said = str(response.get("Error", {}).get("Message") or "").lower()
        return Refusal.ADDRESS if "phone" in said else Refusal.MESSAGE
    return Refusal.ADDRESS


def classify_transport(exc: botocore.exceptions.BotoCoreError) -> NotifierError:
    """No answer from AWS: safe to retry only if the request never reached it."""
    if isinstance(exc, botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectTimeoutError):
        return RetryableError(f"could not connect to AWS ({type(exc).__name__})")
    if isinstance(exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
        # found before any request is signed, so nothing went out
        return AccountError(f"no AWS credentials found ({type(exc).__name__}): set them in the environment, "
                            "a profile or the instance role")
    return DeliveryUnknownError(f"no answer from AWS after the request was sent ({type(exc).__name__}); "
                                "the message may have been delivered")


class AwsSmsNotifier(Notifier):
    kind = "aws_sms"
    channels = frozenset({"sms"})
    settings_model = AwsSmsSettings
    settings: AwsSmsSettings

    def __init__(self, settings: NotifierSettings, context: dict[str, Any] | None = None) -> None:
        super().__init__(settings, context)
        # Imported here, not at the top: the settings model and the SNS webhook import this
        # module, and `serve` or a settings load need not pay boto3's import.
        import boto3
        from botocore.config import Config

        s = self.settings
        config = Config(region_name=s.region, connect_timeout=min(s.timeout, 10), read_timeout=s.timeout,
                        retries={"total_max_attempts": 1, "mode": "standard"})
        service = "pinpoint-sms-voice-v2" if s.api == "end_user_messaging" else "sns"
        # boto3 clients are thread-safe; the session that builds them is not.
        with _SESSION_LOCK:
            self._client = boto3.session.Session().client(service, config=config, endpoint_url=s.endpoint_url)

    def send(self, message: Message) -> Receipt:
        if message.channel != "sms":
            raise PermanentError(f"the aws_sms notifier sends sms, not {message.channel}", Refusal.MESSAGE)
        to = recipient_phone(message.recipient)
        if not message.body_text.strip():
            raise PermanentError("the SMS body is empty", Refusal.MESSAGE)
        if self.settings.check_opt_out and self._opted_out(to):
            raise OptedOutError("the recipient is on the AWS opt-out list (replied STOP)")
        try:
            message_id = self._send_text(to, message) if self.settings.api == "end_user_messaging" \
                else self._publish(to, message)
        except botocore.exceptions.ClientError as exc:
            raise classify(exc) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise classify_transport(exc) from None
        return Receipt(provider=self.kind, provider_id=message_id, status="accepted")

    def _opted_out(self, to: str) -> bool:
        """Ask AWS's opt-out list. Nothing has been sent yet, so any fault here is safe to retry;
        a refusal (no permission) is a setup error worth stopping for."""
        try:
            return self._on_opt_out_list(to)
        except botocore.exceptions.ClientError as exc:
            error = classify(exc)
            if isinstance(error, AccountError):  # no permission: every message meets it, until it is granted
                raise AccountError(f"{error} while reading the opt-out list (grant the permission, or set "
                                   "check_opt_out: false)") from None
            if isinstance(error, PermanentError):
                raise PermanentError(f"{error} while reading the opt-out list", error.about) from None
            raise RetryableError(f"{error} while reading the opt-out list") from None
        except botocore.exceptions.BotoCoreError as exc:
            raise RetryableError(f"could not read the AWS opt-out list ({type(exc).__name__})") from None

    def _on_opt_out_list(self, to: str) -> bool:
        if self.settings.api == "sns":
            answer = self._client.check_if_phone_number_is_opted_out(phoneNumber=to)
            return bool(answer.get("isOptedOut"))
        if not self.settings.opt_out_list:
            return False
        try:
            answer = self._client.describe_opted_out_numbers(OptOutListName=self.settings.opt_out_list,
                                                             OptedOutNumbers=[to])
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException" \
                    and exc.response.get("ResourceType") == "opted-out-number":
                return False  # asked by number: AWS answers "not found" when it is not on the list
            raise
        return any(item.get("OptedOutNumber") == to for item in answer.get("OptedOutNumbers", []))

    def _send_text(self, to: str, message: Message) -> str:
        s = self.settings
        fields: dict[str, Any] = {"DestinationPhoneNumber": to,
                                  "OriginationIdentity": message.sender or s.origination_identity,
                                  "MessageBody": message.body_text, "MessageType": "TRANSACTIONAL"}
        if s.configuration_set:
            fields["ConfigurationSetName"] = s.configuration_set
        if s.max_price:
            fields["MaxPrice"] = s.max_price
        context = {k: v for k, v in message.metadata.items() if k.isidentifier() and len(v) <= 800}
        if context:  # comes back in the delivery events
            fields["Context"] = context
        return str(self._client.send_text_message(**fields)["MessageId"])

    def _publish(self, to: str, message: Message) -> str:
        attributes: dict[str, Any] = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        origination = message.sender or self.settings.origination_identity  # a site's own number (groups of practices)
        if origination:
            attributes["AWS.MM.SMS.OriginationNumber"] = {"DataType": "String", "StringValue": origination}
        answer = self._client.publish(PhoneNumber=to, Message=message.body_text, MessageAttributes=attributes)
        return str(answer["MessageId"])

    def close(self) -> None:
        self._client.close()


_SESSION_LOCK = threading.Lock()
