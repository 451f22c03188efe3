"""The dry-run notifier (embedded default): each message becomes a file in a folder —
.eml for email (with its attachments), .json for SMS and WhatsApp — named by its
idempotency key, so a resend overwrites rather than duplicates."""

from __future__ import annotations

import os
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import Field, ValidationInfo, field_validator

from notifiers.base import CHANNELS, Message, Notifier, NotifierSettings, Receipt
from sync.settings_base import resolve_path


class OutboxSettings(NotifierSettings):
    kind: Literal["outbox"] = "outbox"
    directory: Path = Field(Path(".clinicsync/outbox"), description="where message files are written")
    sender: str = Field("clinic@example.org", description="From: of the .eml files")

    @field_validator("directory")
    @classmethod
    def _relative(cls, value: Path, info: ValidationInfo) -> Path:
        return resolve_path(value, info)


def _safe_name(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[:200]


class OutboxNotifier(Notifier):
    kind = "outbox"
    channels = frozenset(CHANNELS)
    settings_model = OutboxSettings
    settings: OutboxSettings

    def send(self, message: Message) -> Receipt:
        folder = self.settings.directory / message.channel
        folder.mkdir(parents=True, exist_ok=True)
        if message.channel == "email":
            path = folder / f"{_safe_name(message.idempotency_key)}.eml"
            data = self._email(message).as_bytes()
        else:
            path = folder / f"{_safe_name(message.idempotency_key)}.json"
            data = orjson.dumps(self._text(message), option=orjson.OPT_INDENT_2)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # atomic: a crash never leaves half a message
        return Receipt(provider=self.kind, provider_id=path.name, status="sent")

    def _email(self, message: Message) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.settings.sender
        email["To"] = message.recipient
        email["Subject"] = message.subject or ""
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = make_msgid(idstring=_safe_name(message.idempotency_key)[:60])
        email["X-Clinicsync-Key"] = message.idempotency_key
        email.set_content(message.body_text)
        if message.body_html:
            email.add_alternative(message.body_html, subtype="html")
        for attachment in message.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            subtype = subtype.partition(";")[0]
            email.add_attachment(attachment.data, maintype=maintype, subtype=subtype.strip(),
                                 filename=attachment.filename)
        return email

    @staticmethod
    def _text(message: Message) -> dict[str, Any]:
        return {"channel": message.channel, "to": message.recipient, "body": message.body_text,
                "language": message.language, "key": message.idempotency_key,
                "template_id": message.template_id, "template_variables": message.template_variables,
                "metadata": message.metadata}
