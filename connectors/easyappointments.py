"""Connector kind ``easyappointments``: Easy!Appointments' webhooks (v1.5.1 and later), pushed
to ``POST /webhooks/easyappointments/{name}``.

Authenticity: Easy!Appointments signs nothing. From v1.5.1 it sends the webhook's "secret
token" verbatim in a header whose name the admin chooses (default ``X-Ea-Token``); the
token is compared in constant time before the body is parsed. (v1.5.0 sends no token at
all and cannot be used.) Without a timestamp or body signature, a replay is harmless only
because applying the same row twice changes nothing, and ``update_datetime`` orders saves.

The body is ``{"action": ..., "payload": <the ea_appointments row>}``: ``appointment_save``
is a booking or a reschedule (the same ``id``), ``appointment_delete`` a cancellation (the
row is deleted at the source; clinicsync keeps the appointment, cancelled). Times are naive
in the provider's zone: set ``timezone:`` when it is not the clinic's. The row names the
customer only by id: no name, phone or email, so no reminder can reach the patient unless
a site mapping or another source supplies them (see docs/connectors/easyappointments.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from clinicsync.connectors.base import SOURCE_ZONE_HELP, source_zone
from clinicsync.connectors.booking_hooks import (
    BookingHookSettings,
    PushOnlyConnector,
    WebhookMalformed,
    WebhookRefused,
    secret_given,
    token_matches,
)

DEFAULT_HEADER = "X-Ea-Token"
SAVE, DELETE = "appointment_save", "appointment_delete"


class EasyAppointmentsSettings(BookingHookSettings):
    kind: Literal["easyappointments"] = "easyappointments"
    mapping: str = Field("easyappointments", description="the preset that reads the webhook's row (or your own)")
    token: SecretStr = Field(description="the webhook's Secret Token in Easy!Appointments (Settings → Webhooks); "
                                         "use ${EA_WEBHOOK_TOKEN} or token_file:")
    token_header: str = Field(DEFAULT_HEADER, pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$",
                              description="the webhook's Secret Header (an HTTP header name)")
    timezone: str | None = Field(None, description=SOURCE_ZONE_HELP)

    _secret_ok = field_validator("token")(secret_given)
    _zone_ok = field_validator("timezone")(source_zone)


@dataclass(frozen=True)
class EaEvent:
    action: str
    appointment_id: str | None  # None for an action that is not applied

    @property
    def applied(self) -> bool:
        return self.action in (SAVE, DELETE)


def verify(settings: EasyAppointmentsSettings, header: str | None) -> None:
    """Raise WebhookRefused unless the request carries the connector's token."""
    name = settings.token_header
    if header is None or not header.strip():
        raise WebhookRefused(401, f"no {name} header (set the webhook's Secret Header and Token; "
                                  "Easy!Appointments 1.5.0 sends none: upgrade to 1.5.1 or later)")
    if not token_matches(settings.token.get_secret_value(), header.strip()):
        raise WebhookRefused(403, f"{name} does not match the connector's token")


def read(data: Any) -> EaEvent:
    """The action and appointment id of a verified body; WebhookMalformed names the field."""
    if not isinstance(data, dict):
        raise WebhookMalformed("(body)", "not a JSON object {action, payload}")
    action = data.get("action")
    if not isinstance(action, str) or not action:
        raise WebhookMalformed("action", "missing or not a text (appointment_save, appointment_delete, …)")
    if action not in (SAVE, DELETE):
        return EaEvent(action, None)
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise WebhookMalformed("payload", "missing or not an object (the appointment's row)")
    if payload.get("is_unavailability") in (True, 1, "1"):
        return EaEvent("unavailability", None)  # a blocked slot, not a patient's appointment
    raw_id = payload.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, int | str) or not str(raw_id).strip().isdigit():
        raise WebhookMalformed("payload.id", "missing or not a whole number")
    return EaEvent(action, str(int(str(raw_id).strip())))


class EasyAppointmentsConnector(PushOnlyConnector):
    kind = "easyappointments"
    settings_model = EasyAppointmentsSettings
    settings: EasyAppointmentsSettings
