"""The notifier contract: send one Message, return a Receipt or raise a classified error.

A notifier never sees an appointment, only a message. Each kind lives in its own module,
registered through the ``clinicsync.notifiers`` entry-point group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field

from clinicsync.common.deadline import SocketScope
from clinicsync.common.settings_base import SettingsModel

CHANNELS = ("email", "sms", "whatsapp")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar; method=REQUEST"
    data: bytes


@dataclass(frozen=True)
class Message:
    channel: str  # email | sms | whatsapp
    recipient: str  # an email address, or an E.164 phone number
    body_text: str
    idempotency_key: str  # stable per reminder: providers that accept one use it; files are named by it
    subject: str | None = None
    body_html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    language: str = "en"
    # Provider-side template (WhatsApp Content SID, SendGrid dynamic template) and its variables.
    template_id: str | None = None
    template_variables: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)  # e.g. {"reminder_id": "42"}
    # Who the message is from when not the notifier's configured sender: a site's own number
    # (E.164, SMS and WhatsApp) or From: (email) in a group of practices. None: the
    # notifier's own (from_number, messaging service, origination identity, sender).
    sender: str | None = None


@dataclass(frozen=True)
class Receipt:
    provider: str  # the notifier's kind
    provider_id: str | None  # the provider's message id (Twilio SID, SendGrid X-Message-Id, file name)
    status: str = "sent"  # sent | queued | accepted
    detail: str | None = None


class NotifierError(Exception):
    """Base of the classified errors. Messages never carry the recipient or the body."""


class RetryableError(NotifierError):
    """A passing fault (429, 5xx, timeout): retry with backoff, then fail."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AccountError(RetryableError):
    """The provider refuses the clinic's account, not this message: credentials revoked or
    expired, a key without the permission, the account suspended or out of quota, the sender
    not set up. Every send through the notifier fails alike until someone fixes it, so the
    message is not given up: it waits and is retried while it is still in time (a key fixed at
    10:00 still sends the 9:00 reminders), and `status`, the status page and the
    ``ClinicsyncNotifierFailing`` alert show the outage meanwhile. As a permanent refusal each
    message failed for good, one by one, with nothing but the front desk's list to show it."""


class Refusal(StrEnum):
    """What a permanent refusal is about: it decides whether the patient's other numbers
    (``fallback_phones``) are worth a try. Set where the notifier classifies the provider's
    answer, from the provider's own error codes."""

    ADDRESS = "address"  # this number: invalid, unreachable, a landline, not routable: another may take it
    # The message or its sender: too long, filtered as spam, a sender or template the provider
    # refuses. Every number would refuse it alike: sending it on spends a send per number and
    # spreads the clinic's error, so the next channel (email) takes it instead.
    MESSAGE = "message"


class PermanentError(NotifierError):
    """This message will never go to this address (invalid number, rejected): fall back.
    ``about``: what the refusal is about; a refusal not known to be about the message is taken
    as the address's, so the patient's other numbers are tried."""

    def __init__(self, message: str, about: Refusal = Refusal.ADDRESS) -> None:
        super().__init__(message)
        self.about = about


class OptedOutError(PermanentError):
    """The recipient unsubscribed on this channel: record it and send nothing more there."""


class DeliveryUnknownError(NotifierError):
    """The request went out and no answer came back (the connection dropped or timed out
    after the message was handed over): it may have been delivered. Record ``unknown``;
    retrying could send it twice. (Added after the first contract; code that predates it
    sees a NotifierError.)"""


class NotifierSettings(SettingsModel):
    """Keys every notifier has; each kind subclasses this with ``kind: Literal[...]``."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    kind: str
    rate_per_second: float = Field(10.0, gt=0, description="messages per second at most")
    send_deadline: float = Field(
        60.0, gt=0, le=3600,
        description="seconds one send may take in all (connecting, and the whole exchange after it), however the "
                    "peer trickles its answer; past it the send ends as a dropped connection would: retried if "
                    "nothing was handed over yet, `unknown` if the message may have gone (docs/notifiers.md)")


class Notifier(ABC):
    kind: ClassVar[str]
    channels: ClassVar[frozenset[str]]
    settings_model: ClassVar[type[NotifierSettings]]
    claims_reused_sockets: ClassVar[bool] = False
    """True when ``send`` claims each kept-alive connection it takes up again
    (common/deadline.py ``claim``): a send past its deadline then shuts only its own sockets.
    False (clients with a pool of their own, as requests'): also the idle ones (a neighbour
    reusing one may be cut with it, and is classified as a dropped connection)."""

    def __init__(self, settings: NotifierSettings, context: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self.context = context or {}

    def deliver(self, message: Message) -> Receipt:
        """``send`` under the notifier's overall deadline (``send_deadline``): the
        sockets it opens are shut when the deadline passes, so a peer that trickles its answer
        ends the send as a dropped connection would, classified by ``send`` as usual (retryable
        before the message was handed over, unknown after). The reason then names the deadline.
        Sends may overlap in several threads: a deadline shuts only the sockets its own send uses."""
        scope: SocketScope | None = getattr(self, "_deadline_scope", None)
        if scope is None:
            scope = self._deadline_scope = SocketScope(claims_reuse=self.claims_reused_sockets)
        seconds = self.settings.send_deadline
        with scope.within(seconds) as deadline:
            try:
                return self.send(message)
            except NotifierError as exc:
                if not deadline.passed():  # (a connect's timeout is cut to the time left: it may fire first)
                    raise
                reason = f"{exc} (past the send deadline of {seconds:g} s: notifiers[{self.name}].send_deadline)"
                late = (type(exc)(reason, retry_after=exc.retry_after) if isinstance(exc, RetryableError)
                        else type(exc)(reason, about=exc.about) if isinstance(exc, PermanentError)
                        else type(exc)(reason))
                raise late from None

    @property
    def name(self) -> str:
        return self.settings.name

    @abstractmethod
    def send(self, message: Message) -> Receipt:
        """Deliver one message, or raise RetryableError / PermanentError / OptedOutError."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has none."""
