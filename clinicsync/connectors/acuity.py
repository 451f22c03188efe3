"""Connector kind ``acuity``: Acuity Scheduling's webhooks (API v1), pushed to
``POST /webhooks/acuity/{name}``.

Authenticity: ``X-Acuity-Signature`` is the base64 HMAC-SHA256 of the raw form body, keyed
with the account's API key (the main admin's for static webhooks); it is checked before
the body is parsed. The body names only the action and the appointment's id
(``action=scheduled&id=54321&calendarID=…&appointmentTypeID=…``), so the appointment is
then read with ``GET /api/v1/appointments/{id}`` (basic auth: user id and API key), retried
on passing faults. A reschedule keeps the same id; the fetched appointment has the new time.

The signature has no timestamp and the same body is legitimately sent again (two
reschedules of one appointment), so replays are not refused: each webhook re-reads the
appointment's current state, and applying the same state twice changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qs

import httpx
from pydantic import Field, SecretStr, field_validator

from clinicsync.connectors.booking_hooks import (
    BookingHookSettings,
    PushOnlyConnector,
    WebhookMalformed,
    WebhookRefused,
    base64_signature_matches,
    fetch_json,
    secret_given,
)

SIGNATURE_HEADER = "X-Acuity-Signature"
API = "https://acuityscheduling.com/api/v1"
# Static webhooks' action values; `changed` fires with (and duplicates) the other three.
APPLIED = frozenset({"scheduled", "rescheduled", "canceled", "changed"})
_MAX_FIELDS = 16


class AcuitySettings(BookingHookSettings):
    kind: Literal["acuity"] = "acuity"
    mapping: str = Field("acuity", description="the preset that reads Acuity's appointment JSON (or your own)")
    user_id: str = Field(pattern=r"^[0-9]{1,20}$", description="the Acuity user id (Integrations → API)")
    api_key: SecretStr = Field(description="the main admin's API key: signs the webhooks and reads the "
                                           "appointments; use ${ACUITY_API_KEY} or api_key_file:")
    base_url: str = Field(API, pattern=r"^https?://\S+$", description="Acuity's API (change only for a proxy)")
    timeout_seconds: float = Field(10.0, gt=0, le=60, description="per request to Acuity's API")
    attempts: int = Field(3, ge=1, le=10, description="tries of a read that meets a passing fault (5xx, 429, "
                                                       "timeout)")

    _secret_ok = field_validator("api_key")(secret_given)


@dataclass(frozen=True)
class AcuityEvent:
    action: str
    appointment_id: str | None  # None for an action that is not applied (order.completed)

    @property
    def applied(self) -> bool:
        return self.action in APPLIED


def verify(settings: AcuitySettings, body: bytes, header: str | None) -> None:
    """Raise WebhookRefused unless the body is signed with the connector's API key."""
    if not header or not header.strip():
        raise WebhookRefused(401, f"no {SIGNATURE_HEADER} header")
    if not base64_signature_matches(settings.api_key.get_secret_value(), body, header):
        raise WebhookRefused(403, f"{SIGNATURE_HEADER} does not match the body (another API key, or an altered "
                                  "body)")


def read(body: bytes) -> AcuityEvent:
    """The action and appointment id of a verified form body; WebhookMalformed names the field."""
    try:
        text = body.decode("ascii")
        form = parse_qs(text, keep_blank_values=True, strict_parsing=True, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise WebhookMalformed("(body)", "not a form (application/x-www-form-urlencoded: action=…&id=…)") from None
    action = (form.get("action") or [""])[0]
    if not action:
        raise WebhookMalformed("action", "missing (scheduled, rescheduled, canceled or changed)")
    if action not in APPLIED:
        return AcuityEvent(action, None)
    appointment_id = (form.get("id") or [""])[0]
    if not appointment_id.isdigit() or len(appointment_id) > 20:
        raise WebhookMalformed("id", "missing or not a whole number")
    return AcuityEvent(action, appointment_id)


def record(event: AcuityEvent, appointment: Mapping[str, Any]) -> dict[str, Any]:
    """What the mapping reads: the webhook's action beside the appointment as Acuity gave it,
    and its location split (``location_parts``)."""
    return {"action": event.action, "id": event.appointment_id, "appointment": dict(appointment),
            "location_parts": location_parts(appointment.get("location"))}


_LABELLED_LINK = re.compile(r"(?:[A-Za-z ]{1,20}:\s*)?(https?://\S+)\s*", re.IGNORECASE)


def location_parts(location: Any) -> dict[str, str | None]:
    """Acuity's ``location`` is free text: an address, or for an online appointment its link,
    often labelled ("URL: https://app.acuityscheduling.com/…&action=meet…", a real capture;
    tests/fixtures/acuity/SOURCE.md). A link is the visit's join link, never its place."""
    text = location.strip() if isinstance(location, str) else ""
    linked = _LABELLED_LINK.fullmatch(text)
    if linked:
        return {"join_url": linked.group(1), "place": None}
    return {"join_url": None, "place": text or None}


class AcuityConnector(PushOnlyConnector):
    kind = "acuity"
    settings_model = AcuitySettings
    settings: AcuitySettings
    #: the longest backoff between tries (tests shorten it)
    max_wait: ClassVar[float] = 5.0

    def appointment(self, appointment_id: str) -> dict[str, Any] | None:
        """The appointment as Acuity's API gives it; None if it does not exist (404). Raises
        RetriableConnectorError after the tries, FatalConnectorError on refused credentials."""
        url = f"{self.settings.base_url.rstrip('/')}/appointments/{appointment_id}"
        auth = httpx.BasicAuth(self.settings.user_id, self.settings.api_key.get_secret_value())
        return fetch_json(self.name, "GET appointments/{id}", url, auth=auth, timeout=self.settings.timeout_seconds,
                          attempts=self.settings.attempts, max_wait=self.max_wait)
