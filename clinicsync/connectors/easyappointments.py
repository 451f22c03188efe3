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
customer only by id: no name, phone or email. With ``api:`` set, the customer is read from
Easy!Appointments' REST API (``GET customers/{id}``) and handed to the mapping under
``customer``; without it, or when that read fails, the appointment is stored without the
patient's contact (with a data-quality note on a failure), so it is never lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from clinicsync.common.settings_base import SettingsModel
from clinicsync.connectors.base import SOURCE_ZONE_HELP, STORED_TIMES_HELP, ConnectorError, StoredTimes, source_zone
from clinicsync.connectors.booking_hooks import (
    BookingHookSettings,
    PushOnlyConnector,
    WebhookMalformed,
    WebhookRefused,
    fetch_json,
    secret_given,
    token_matches,
)

DEFAULT_HEADER = "X-Ea-Token"
SAVE, DELETE = "appointment_save", "appointment_delete"


class EaApiSettings(SettingsModel):
    """Easy!Appointments' REST API, to read the customer a webhook names only by id."""

    url: str = Field(pattern=r"^https?://\S+$", description="the API root, e.g. "
                     "https://booking.example.org/index.php/api/v1")
    api_key: SecretStr = Field(description="Settings → Integrations → API token (sent as a Bearer token); "
                                           "use ${EA_API_KEY} or api_key_file:")
    timeout_seconds: float = Field(10.0, gt=0, le=60)
    attempts: int = Field(3, ge=1, le=10, description="tries of a read that meets a passing fault")

    _secret_ok = field_validator("api_key")(secret_given)


class EasyAppointmentsSettings(BookingHookSettings):
    kind: Literal["easyappointments"] = "easyappointments"
    mapping: str = Field("easyappointments", description="the preset that reads the webhook's row (or your own)")
    token: SecretStr = Field(description="the webhook's Secret Token in Easy!Appointments (Settings → Webhooks); "
                                         "use ${EA_WEBHOOK_TOKEN} or token_file:")
    token_header: str = Field(DEFAULT_HEADER, pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$",
                              description="the webhook's Secret Header (an HTTP header name)")
    timezone: str | None = Field(None, description=SOURCE_ZONE_HELP)
    stored_times: StoredTimes = Field("local", description=STORED_TIMES_HELP)
    api: EaApiSettings | None = Field(None, description="optional: read each appointment's customer (name, "
                                      "phone, email, language) from the REST API; without it no contact")

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
    #: the longest backoff between tries (tests shorten it)
    max_wait: ClassVar[float] = 5.0

    def with_customer(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The body as the mapping reads it: with ``customer`` (the API's customer resource)
        when ``api:`` is set and the read succeeds; else as it came, with a note naming the
        failure (the appointment is stored all the same, and the next save retries)."""
        record = dict(data)
        payload = data.get("payload")
        customer_id = payload.get("id_users_customer") if isinstance(payload, Mapping) else None
        api = self.settings.api
        if api is None or customer_id is None or not str(customer_id).strip().isdigit():
            return record
        url = f"{api.url.rstrip('/')}/customers/{int(str(customer_id).strip())}"
        try:
            customer = fetch_json(self.name, "GET customers/{id}", url, timeout=api.timeout_seconds,
                                  attempts=api.attempts, max_wait=self.max_wait,
                                  headers={"Authorization": f"Bearer {api.api_key.get_secret_value()}"})
        except ConnectorError as exc:
            return record | {"_notes": [f"patient: the customer could not be read ({_cause(exc)}); "
                                        "no contact details until the next save"]}
        if customer is None:
            return record | {"_notes": ["patient: the customer was not found in the API (404)"]}
        return record | {"customer": customer}


def _cause(exc: ConnectorError) -> str:
    text = str(exc)
    return text.split(": ", 1)[1] if ": " in text else text
