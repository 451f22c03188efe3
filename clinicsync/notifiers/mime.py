"""One email as MIME, for every notifier that hands a whole message over (SMTP, the outbox).

multipart/alternative (plain text + HTML) inside multipart/mixed when there are
attachments; a calendar attachment keeps its ``method=REQUEST|CANCEL`` parameter,
which mail clients need to show it as an invitation or a cancellation.
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.policy import default
from email.utils import formatdate

from clinicsync.notifiers.base import Attachment, Message, PermanentError
from clinicsync.notifiers.fields import split_address

KEY_HEADER = "X-Clinicsync-Key"
# RFC 6531/6532: an address with non-ASCII characters is written as UTF-8 in the header
# (an encoded-word inside an address is invalid, RFC 2047 section 5) and sent with SMTPUTF8;
# smtplib asks for SMTPUTF8 itself when an envelope address needs it. ASCII-only mail keeps
# the 7-bit policy, so it still reaches servers without SMTPUTF8.
UTF8_HEADERS = default.clone(utf8=True)


def _international(*addresses: str | None) -> bool:
    return any(address and not address.isascii() for address in addresses)


def message_id(idempotency_key: str, sender: str) -> str:
    """A Message-ID that is the same on every attempt for one reminder, so a retried send
    that did reach the server is recognizable as the same message."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    domain = split_address(sender)[1].rpartition("@")[2] or "clinicsync.invalid"
    return f"<{digest}.clinicsync@{domain}>"


def content_type_parts(content_type: str) -> tuple[str, str, dict[str, str]]:
    """'text/calendar; method=REQUEST' -> ('text', 'calendar', {'method': 'REQUEST'})."""
    head, *rest = (part.strip() for part in content_type.split(";"))
    maintype, _, subtype = head.partition("/")
    params = {}
    for item in rest:
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return maintype.strip().lower() or "application", subtype.strip().lower() or "octet-stream", params


def _attach(email: EmailMessage, attachment: Attachment) -> None:
    maintype, subtype, params = content_type_parts(attachment.content_type)
    email.add_attachment(attachment.data, maintype=maintype, subtype=subtype,
                         filename=attachment.filename, params=params)


def build_email(message: Message, sender: str, reply_to: str | None = None) -> EmailMessage:
    """The message as MIME, or PermanentError when it cannot be one (e.g. a line break in a header)."""
    try:
        return _build(message, sender, reply_to)
    except (ValueError, TypeError) as exc:  # the email package's words name no value
        raise PermanentError(f"the email cannot be built: {exc}") from None


def _build(message: Message, sender: str, reply_to: str | None) -> EmailMessage:
    email = EmailMessage(policy=UTF8_HEADERS if _international(
        split_address(sender)[1], message.recipient, split_address(reply_to)[1] if reply_to else None) else default)
    email["From"] = sender
    email["To"] = message.recipient
    if reply_to:
        email["Reply-To"] = reply_to
    email["Subject"] = message.subject or ""
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = message_id(message.idempotency_key, sender)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    email["Content-Language"] = message.language
    email[KEY_HEADER] = message.idempotency_key
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    for attachment in message.attachments:
        _attach(email, attachment)
    return email
