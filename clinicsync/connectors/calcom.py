"""Connector kind ``calcom``: Cal.com's booking webhooks (payload version 2021-10-20), pushed
to ``POST /webhooks/calcom/{name}``.

Authenticity: ``X-Cal-Signature-256`` is the lowercase hex HMAC-SHA256 of the raw body with
the webhook's secret; it is checked before the body is parsed. Cal.com sends the literal
``no-secret-provided`` when the webhook has no secret: refused, as is any body signed with
another secret. The signature carries no timestamp, so a body is also refused when its
``createdAt`` (the time Cal.com sent it) is further than ``max_age_seconds`` from now, and a
body already applied is recognised by its digest (answered 2xx, never applied twice).

Reschedules: Cal.com gives the rescheduled booking a NEW ``uid`` and names the old one in
``rescheduleUid``. clinicsync keeps the first uid as the appointment's id and records the new
uid as an alias of it, so the patient sees one appointment moved (a ``rescheduled`` event),
not a cancellation and a new booking; a later cancel of the new uid reaches the same
appointment. The mapping reads the resolved id from ``appointment_id``, which this module
adds beside Cal.com's own keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from clinicsync.connectors.booking_hooks import (
    BookingHookSettings,
    PushOnlyConnector,
    WebhookMalformed,
    WebhookRefused,
    hex_signature_matches,
    secret_given,
)
from clinicsync.connectors.calcom_location import with_location

SIGNATURE_HEADER = "X-Cal-Signature-256"
NO_SECRET = "no-secret-provided"  # noqa: S105 - what Cal.com sends without a secret, not one
# The triggers that change an appointment; any other (MEETING_STARTED, FORM_SUBMITTED, …)
# is answered 2xx and ignored.
APPLIED = frozenset({"BOOKING_CREATED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED", "BOOKING_REQUESTED",
                     "BOOKING_REJECTED"})
ID_FIELD = "appointment_id"  # what this module adds: the appointment's id across reschedules
_MAX_UID = 255


class CalcomSettings(BookingHookSettings):
    kind: Literal["calcom"] = "calcom"
    mapping: str = Field("calcom", description="the preset that reads Cal.com's webhook JSON (or your own)")
    secret: SecretStr = Field(description="the webhook's Secret in Cal.com (/settings/developer/webhooks); "
                                          "use ${CALCOM_WEBHOOK_SECRET} or secret_file:")
    max_age_seconds: int = Field(300, ge=10, le=86_400, description="refuse a body whose createdAt is further "
                                 "than this from now (the signature has no timestamp: this bounds replays)")

    _secret_ok = field_validator("secret")(secret_given)


@dataclass(frozen=True)
class CalEvent:
    trigger: str
    created_at: datetime
    uid: str | None  # None for a trigger that is not applied
    reschedule_uid: str | None

    @property
    def applied(self) -> bool:
        return self.trigger in APPLIED


def verify(settings: CalcomSettings, body: bytes, header: str | None) -> None:
    """Raise WebhookRefused unless the body is signed with this connector's secret."""
    if not header or not header.strip():
        raise WebhookRefused(401, f"no {SIGNATURE_HEADER} header")
    if header.strip() == NO_SECRET:
        raise WebhookRefused(401, f"{SIGNATURE_HEADER} is {NO_SECRET!r}: set the webhook's Secret in Cal.com "
                                  "to the connector's secret")
    if not hex_signature_matches(settings.secret.get_secret_value(), body, header):
        raise WebhookRefused(403, f"{SIGNATURE_HEADER} does not match the body (another secret, or an altered body)")


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise WebhookMalformed(where, "missing or not a text")
    if len(value) > _MAX_UID:
        raise WebhookMalformed(where, f"longer than {_MAX_UID} characters")
    return value.strip()


def _instant(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise WebhookMalformed(where, "missing or not an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise WebhookMalformed(where, "not an ISO 8601 time (e.g. 2024-01-01T10:00:00.000Z)") from None
    if moment.tzinfo is None:
        raise WebhookMalformed(where, "has no offset (Cal.com sends UTC, e.g. …Z)")
    return moment.astimezone(UTC)


def read(data: Any, now: datetime, max_age: timedelta) -> CalEvent:
    """The webhook's trigger and ids, from a verified body; raises WebhookMalformed naming the
    field, or WebhookRefused(403) for a body outside the freshness window."""
    if not isinstance(data, dict):
        raise WebhookMalformed("(body)", "not a JSON object {triggerEvent, createdAt, payload}")
    trigger = _text(data, "triggerEvent", "triggerEvent")
    created_at = _instant(data.get("createdAt"), "createdAt")
    if abs(now - created_at) > max_age:
        raise WebhookRefused(403, f"stale: createdAt is more than {int(max_age.total_seconds())} s from now "
                                  "(a replay, or a clock off; see max_age_seconds)")
    if trigger not in APPLIED:
        return CalEvent(trigger, created_at, None, None)
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise WebhookMalformed("payload", "missing or not an object (is a custom payload template set? "
                                          "clinicsync reads Cal.com's default payload)")
    uid = _text(payload, "uid", "payload.uid")
    reschedule_uid = None
    if trigger == "BOOKING_RESCHEDULED":
        reschedule_uid = _text(payload, "rescheduleUid", "payload.rescheduleUid")
    return CalEvent(trigger, created_at, uid, reschedule_uid)


def record(data: Mapping[str, Any], appointment_id: str) -> dict[str, Any]:
    """What the mapping reads: Cal.com's body, with the appointment's id across reschedules
    and its location split into what it is (connectors/calcom_location.py)."""
    return {**with_location(data), ID_FIELD: appointment_id}


class CalcomConnector(PushOnlyConnector):
    kind = "calcom"
    settings_model = CalcomSettings
    settings: CalcomSettings
