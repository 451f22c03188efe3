"""SMS through Twilio's Messages API with the official client (see twilio_base)."""

from __future__ import annotations

from typing import Any, Literal

from clinicsync.notifiers.base import Message, PermanentError, Refusal
from clinicsync.notifiers.phone import recipient_phone
from clinicsync.notifiers.twilio_base import TwilioNotifier, TwilioSettings


class TwilioSmsSettings(TwilioSettings):
    kind: Literal["twilio_sms"] = "twilio_sms"


class TwilioSmsNotifier(TwilioNotifier):
    kind = "twilio_sms"
    channels = frozenset({"sms"})
    settings_model = TwilioSmsSettings
    settings: TwilioSmsSettings

    def message_fields(self, message: Message) -> dict[str, Any]:
        to = recipient_phone(message.recipient)
        if not message.body_text.strip():
            raise PermanentError("the SMS body is empty", Refusal.MESSAGE)
        return {"to": to, "body": message.body_text, **self.sender()}
