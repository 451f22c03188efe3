"""The dry-run notifier (embedded default): each message becomes a file in a folder —
.eml for email (with its attachments), .json for SMS and WhatsApp — named by its
idempotency key, so a resend overwrites rather than duplicates."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import Field, ValidationInfo, field_validator

from clinicsync.common.settings_base import resolve_path
from clinicsync.notifiers.base import CHANNELS, Message, Notifier, NotifierSettings, Receipt
from clinicsync.notifiers.fields import EmailAddress
from clinicsync.notifiers.phone import recipient_phone


class OutboxSettings(NotifierSettings):
    kind: Literal["outbox"] = "outbox"
    directory: Path = Field(Path(".clinicsync/outbox"), validate_default=True,
                            description="where message files are written")
    sender: EmailAddress = Field("clinic@example.org", description="From: of the .eml files")

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
            # the email package's MIME modules on the first email, not with the settings: reading a
            # file that names an outbox (every `status`) need not import them
            from clinicsync.notifiers.mime import build_email

            path = folder / f"{_safe_name(message.idempotency_key)}.eml"
            data = build_email(message, message.sender or self.settings.sender).as_bytes()
        else:
            recipient_phone(message.recipient)  # refuse what a real SMS/WhatsApp provider would
            path = folder / f"{_safe_name(message.idempotency_key)}.json"
            data = orjson.dumps(self._text(message), option=orjson.OPT_INDENT_2)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # atomic: a crash never leaves half a message
        return Receipt(provider=self.kind, provider_id=path.name, status="sent")

    @staticmethod
    def _text(message: Message) -> dict[str, Any]:
        text = {"channel": message.channel, "to": message.recipient, "body": message.body_text,
                "language": message.language, "key": message.idempotency_key,
                "template_id": message.template_id, "template_variables": message.template_variables,
                "metadata": message.metadata}
        return {**text, "from": message.sender} if message.sender else text  # a site's own number (groups of practices)
