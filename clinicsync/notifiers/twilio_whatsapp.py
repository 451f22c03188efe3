"""WhatsApp through Twilio's Messages API with the official client (see twilio_base).

A business-initiated message (a reminder) must use an approved Content template: the
message's ``template_id`` (looked up in ``templates``, else taken as the Content SID) and
its variables go out as ``content_sid`` + ``content_variables``. Without a template the
body goes out free-form, which WhatsApp accepts only within 24 hours of the patient's
last message.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

from clinicsync.notifiers.base import Message, PermanentError, Refusal
from clinicsync.notifiers.phone import WHATSAPP_PREFIX, recipient_phone
from clinicsync.notifiers.twilio_base import TwilioNotifier, TwilioSettings


class TwilioWhatsAppSettings(TwilioSettings):
    kind: Literal["twilio_whatsapp"] = "twilio_whatsapp"
    templates: dict[str, str] = Field(
        default_factory=dict,
        description="message template ids to approved Content SIDs (HX…); unlisted ids are used as given")


class TwilioWhatsAppNotifier(TwilioNotifier):
    kind = "twilio_whatsapp"
    channels = frozenset({"whatsapp"})
    settings_model = TwilioWhatsAppSettings
    settings: TwilioWhatsAppSettings

    def message_fields(self, message: Message) -> dict[str, Any]:
        fields: dict[str, Any] = {"to": WHATSAPP_PREFIX + recipient_phone(message.recipient),
                                  **self.sender(WHATSAPP_PREFIX)}
        if message.template_id:
            fields["content_sid"] = self.settings.templates.get(message.template_id, message.template_id)
            if message.template_variables:
                fields["content_variables"] = json.dumps(message.template_variables, ensure_ascii=False,
                                                         sort_keys=True)
        elif message.body_text.strip():
            fields["body"] = message.body_text
        else:
            raise PermanentError("the WhatsApp message has neither a template nor a body", Refusal.MESSAGE)
        return fields
