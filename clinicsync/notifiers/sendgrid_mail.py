"""Email through SendGrid's v3 Mail Send API with the official ``sendgrid`` client.

The API root is a setting (the client takes a host), so the same code path runs against
a test double or an egress proxy. The message's metadata (e.g. the reminder id) travels
as custom_args, and comes back in SendGrid's event webhook.
"""

from __future__ import annotations

import base64
import http.client
import json
from typing import Any, Literal
from urllib.error import URLError

from pydantic import Field
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Attachment,
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    From,
    Header,
    Mail,
    MailSettings,
    ReplyTo,
    SandBoxMode,
    To,
)

from clinicsync.common.logs import scrub_text
from clinicsync.common.retry_after import retry_after
from clinicsync.notifiers.base import (
    AccountError,
    DeliveryUnknownError,
    Message,
    Notifier,
    NotifierError,
    NotifierSettings,
    PermanentError,
    Receipt,
    RetryableError,
)
from clinicsync.notifiers.fields import ApiRoot, EmailAddress, Secret, split_address
from clinicsync.notifiers.http import is_retryable_status
from clinicsync.notifiers.mime import KEY_HEADER

DEFAULT_API_ROOT = "https://api.sendgrid.com"


class SendGridSettings(NotifierSettings):
    kind: Literal["sendgrid"] = "sendgrid"
    api_key: Secret = Field(description="use ${SENDGRID_API_KEY} or api_key_file:")
    sender: EmailAddress = Field(description="a verified sender, e.g. 'Demo Clinic <reminders@clinic.example>'")
    reply_to: EmailAddress | None = None
    api_root: ApiRoot = Field(DEFAULT_API_ROOT, description="https://api.eu.sendgrid.com for EU data residency")
    timeout: float = Field(30.0, gt=0, le=600, description="seconds per request")
    templates: dict[str, str] = Field(
        default_factory=dict,
        description="message template ids to SendGrid dynamic template ids (d-…); unlisted ids are used as given")
    sandbox: bool = Field(False, description="SendGrid validates each message and delivers nothing")


def _problem(exc: HTTPError) -> str:
    """SendGrid's own words about a refusal (field names and messages), with any address masked."""
    try:
        errors = json.loads(exc.body or b"{}").get("errors") or []
    except (ValueError, AttributeError):
        errors = []
    said = "; ".join(
        f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message"))
        for e in errors if isinstance(e, dict))
    return scrub_text(said)[:300]


def classify(exc: Exception) -> NotifierError:
    if isinstance(exc, HTTPError):
        status = int(exc.status_code)
        reason = f"SendGrid answered HTTP {status}"
        detail = _problem(exc)
        reason = f"{reason}: {detail}" if detail else reason
        if is_retryable_status(status):
            headers = exc.headers
            wait = retry_after(headers.get("Retry-After")) if headers is not None else None
            return RetryableError(reason, retry_after=wait)
        if status in (401, 403):  # the key (revoked, without mail.send), the sender identity, the account
            return AccountError(reason)
        return PermanentError(reason)
    if isinstance(exc, URLError):  # urllib wraps failures while connecting and sending the request
        return RetryableError(f"could not reach SendGrid ({type(exc.reason).__name__})")
    # The request was sent and the answer never came (timeout, dropped connection).
    return DeliveryUnknownError(f"no answer from SendGrid after the request was sent ({type(exc).__name__}); "
                                "the message may have been delivered")


class SendGridNotifier(Notifier):
    kind = "sendgrid"
    channels = frozenset({"email"})
    settings_model = SendGridSettings
    settings: SendGridSettings

    def __init__(self, settings: NotifierSettings, context: dict[str, Any] | None = None) -> None:
        super().__init__(settings, context)
        self._client = SendGridAPIClient(api_key=self.settings.api_key.get_secret_value(),
                                         host=self.settings.api_root)
        self._client.client.timeout = self.settings.timeout  # the client has no timeout by default

    def send(self, message: Message) -> Receipt:
        if message.channel != "email":
            raise PermanentError(f"the sendgrid notifier sends email, not {message.channel}")
        body = self.request_body(message)
        try:
            response = self._client.send(body)
        except (HTTPError, OSError, http.client.HTTPException) as exc:
            raise classify(exc) from None
        return Receipt(provider=self.kind, provider_id=response.headers.get("X-Message-Id"), status="accepted")

    def request_body(self, message: Message) -> dict[str, Any]:
        """The Mail Send JSON, built with the client's own helpers."""
        name, address = split_address(message.sender or self.settings.sender)  # a site's own From: address
        mail = Mail(from_email=From(address, name or None), to_emails=To(message.recipient))
        if message.template_id:
            mail.template_id = self.settings.templates.get(message.template_id, message.template_id)
            mail.dynamic_template_data = dict(message.template_variables)
        else:
            mail.subject = message.subject or ""
            mail.add_content(message.body_text, "text/plain")
            if message.body_html:
                mail.add_content(message.body_html, "text/html")
        if self.settings.reply_to:
            reply_name, reply_address = split_address(self.settings.reply_to)
            mail.reply_to = ReplyTo(reply_address, reply_name or None)
        for attachment in message.attachments:
            mail.add_attachment(Attachment(
                FileContent(base64.b64encode(attachment.data).decode("ascii")), FileName(attachment.filename),
                FileType(attachment.content_type), Disposition("attachment")))
        mail.header = Header(KEY_HEADER, message.idempotency_key)
        for key, value in sorted({**message.metadata, "clinicsync_key": message.idempotency_key}.items()):
            mail.add_custom_arg(CustomArg(key, str(value)))
        if self.settings.sandbox:
            mail.mail_settings = MailSettings(sandbox_mode=SandBoxMode(True))
        body: dict[str, Any] = mail.get()
        return body
