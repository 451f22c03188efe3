"""What Twilio SMS and WhatsApp share: settings, the official client pointed at the configured
API root, and the classification of Twilio's answers by error code.

The Twilio client builds absolute URLs on fixed hosts (api.twilio.com); the only seam is
its ``http_client``, so ``ApiRootHttpClient`` rewrites each request's scheme and host to
``api_root`` (a test double or an egress proxy) and keeps the path.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3.exceptions
from pydantic import Field, model_validator
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from clinicsync.common.logs import scrub_text
from clinicsync.common.retry_after import retry_after
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
from clinicsync.notifiers.fields import ApiRoot, HttpUrl, PhoneNumber, Secret
from clinicsync.notifiers.http import is_retryable_status
from clinicsync.notifiers.phone import WHATSAPP_PREFIX

DEFAULT_API_ROOT = "https://api.twilio.com"

# Twilio error codes (https://www.twilio.com/docs/api/errors) and what they mean for us.
OPTED_OUT = {21610: "the recipient unsubscribed (replied STOP)"}
RETRYABLE = {20429: "too many requests", 20500: "Twilio internal error", 20503: "Twilio unavailable"}
# The account's, not the message's: every send fails alike until the settings or the account are fixed.
ACCOUNT = {
    20003: "authentication failed (check account_sid and auth_token)",
    20005: "the account is not active (suspended or closed)",
    20404: "not found (check account_sid and messaging_service_sid)",
    21606: "the 'From' number cannot send this message (check from_number)",
    21212: "the 'From' number is not a valid sender (check from_number)",
    21659: "the 'From' number is not a Twilio number, or a short code of another country (check from_number)",
    21705: "the messaging service is not valid (check messaging_service_sid)",
    63007: "the WhatsApp sender is not set up (check from_number)",
}
PERMANENT = {
    21211: "the 'To' number is not a valid phone number",
    21214: "the 'To' number cannot be reached",
    21217: "the number does not appear to be valid",
    21401: "not a valid phone number",
    21407: "this number type does not support SMS",
    21408: "sending to this region is not enabled on the account",
    21612: "Twilio cannot route to this number",
    21614: "the 'To' number is not a mobile number",
    21617: "the body is longer than 1600 characters",
    63016: "WhatsApp refuses free-form messages outside the 24-hour window: use an approved template",
    21602: "the message has no body",
    21656: "the template's variables (ContentVariables) are not valid",
    30007: "the carrier filtered the message (flagged as spam or not allowed)",
}
# Refusals of the message, not of the number (notifiers/base.py ``Refusal``): every number of the
# patient's would refuse it alike, so none of their other numbers is tried. A sender refused
# (21212, 21606, 21659) is the account's: retried once it is fixed, never spread over numbers.
ABOUT_THE_MESSAGE = frozenset({21602, 21617, 21656, 30007, 63016})


class TwilioSettings(NotifierSettings):
    """Keys of every Twilio notifier. Give ``from_number`` or ``messaging_service_sid``."""

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$", description="the account SID (AC…)")
    auth_token: Secret = Field(description="use ${TWILIO_AUTH_TOKEN} or auth_token_file:")
    from_number: PhoneNumber | None = Field(None, description="the sending number, E.164 (+14155550123)")
    messaging_service_sid: str | None = Field(None, pattern=r"^MG[0-9a-fA-F]{32}$",
                                              description="send through a messaging service (MG…) instead")
    status_callback: HttpUrl | None = Field(None, description="Twilio posts delivery status here")
    api_root: ApiRoot = Field(DEFAULT_API_ROOT, description="scheme and host requests go to")
    timeout: float = Field(30.0, gt=0, le=600, description="seconds per request")

    @model_validator(mode="after")
    def _one_sender(self) -> TwilioSettings:
        if (self.from_number is None) == (self.messaging_service_sid is None):
            raise ValueError("give exactly one of from_number or messaging_service_sid")
        return self


class ApiRootHttpClient(TwilioHttpClient):
    """The stock requests-based client, sending every request to ``api_root`` instead of
    Twilio's host, and remembering (per thread) the last Retry-After it was told."""

    def __init__(self, api_root: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.api_root = api_root
        self._last = threading.local()

    def rewrite(self, url: str) -> str:
        parts, root = urlsplit(url), urlsplit(self.api_root)
        return urlunsplit((root.scheme, root.netloc, root.path.rstrip("/") + parts.path, parts.query, ""))

    def request(self, method: str, url: str, params: dict[str, object] | None = None,
                data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, timeout: float | None = None,
                allow_redirects: bool = False) -> Response:
        self._last.retry_after = None
        response = super().request(method, self.rewrite(url), params=params, data=data, headers=headers,
                                   auth=auth, timeout=timeout, allow_redirects=allow_redirects)
        self._last.retry_after = retry_after((response.headers or {}).get("Retry-After"))
        return response

    def last_retry_after(self) -> float | None:
        return getattr(self._last, "retry_after", None)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


def classify(exc: TwilioRestException | TwilioServiceException, wait: float | None = None) -> NotifierError:
    """Twilio's answer as a classified error; the reason never repeats the number or the body."""
    code = int(exc.code) if exc.code else None
    status = int(exc.status)
    said = exc.msg if isinstance(exc, TwilioRestException) else exc.title
    known = {**OPTED_OUT, **RETRYABLE, **ACCOUNT, **PERMANENT}.get(code) if code else None
    reason = f"Twilio error {code} (HTTP {status}): {known or scrub_text(str(said))[:200]}"
    if code in OPTED_OUT:
        return OptedOutError(reason)
    if code in ACCOUNT or (code not in PERMANENT and status in (401, 403)):
        return AccountError(reason, retry_after=wait)
    if code in RETRYABLE or is_retryable_status(status):
        return RetryableError(reason, retry_after=wait)
    return PermanentError(reason, Refusal.MESSAGE if code in ABOUT_THE_MESSAGE else Refusal.ADDRESS)


def classify_transport(exc: requests.RequestException) -> NotifierError:
    """No answer from Twilio: safe to retry only if the request never reached it."""
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError | requests.exceptions.ProxyError):
        return RetryableError(f"could not connect to Twilio ({type(exc).__name__})")
    if isinstance(exc, requests.ConnectionError):
        inner = exc.args[0] if exc.args else None
        inner = getattr(inner, "reason", inner)  # MaxRetryError wraps the cause
        if isinstance(inner, urllib3.exceptions.ConnectTimeoutError):  # refused, DNS, connect timeout
            return RetryableError(f"could not connect to Twilio ({type(inner).__name__})")
    return DeliveryUnknownError(f"no answer from Twilio after the request was sent ({type(exc).__name__}); "
                                "the message may have been delivered")


class TwilioNotifier(Notifier):
    """Sends one Twilio Message; subclasses say which fields make the message."""

    settings: TwilioSettings

    def __init__(self, settings: NotifierSettings, context: dict[str, Any] | None = None) -> None:
        super().__init__(settings, context)
        s = self.settings
        self._http = ApiRootHttpClient(s.api_root, s.timeout)
        self._client = Client(s.account_sid, s.auth_token.get_secret_value(), http_client=self._http)

    @abstractmethod
    def message_fields(self, message: Message) -> dict[str, Any]:
        """To, From/MessagingServiceSid and the content, as ``messages.create`` keywords."""

    def send(self, message: Message) -> Receipt:
        if message.channel not in self.channels:
            raise PermanentError(f"the {self.kind} notifier sends {'/'.join(sorted(self.channels))}, "
                                 f"not {message.channel}", Refusal.MESSAGE)
        fields = self.message_fields(message)
        if message.sender:  # the site's own number (groups of practices), within the messaging service's pool if any
            fields["from_"] = f"{WHATSAPP_PREFIX if message.channel == 'whatsapp' else ''}{message.sender}"
        if self.settings.status_callback:
            fields["status_callback"] = self.settings.status_callback
        try:
            created = self._client.messages.create(**fields)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise classify(exc, self._http.last_retry_after()) from None
        except requests.RequestException as exc:
            raise classify_transport(exc) from None
        return Receipt(provider=self.kind, provider_id=created.sid, status=str(created.status or "queued"))

    def sender(self, prefix: str = "") -> dict[str, Any]:
        if self.settings.messaging_service_sid:
            return {"messaging_service_sid": self.settings.messaging_service_sid}
        return {"from_": f"{prefix}{self.settings.from_number}"}

    def close(self) -> None:
        self._http.close()
