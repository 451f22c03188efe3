"""What a Cal.com booking's location says, split by what it is.

Cal.com writes one string into ``payload.location`` whatever the event type's location
kind (packages/app-store/locations.ts, ``getLocationValueForDB``): the booker's own phone
number ("Attendee Phone Number", type ``phone``), the booker's address
(``attendeeInPerson``), the organizer's address (``inPerson``) or phone (``userPhone``), a
meeting link (``link``) or a conferencing app's type (``integrations:daily``, whose URL is in
``metadata.videoCallUrl``). Which kind it is, and the booker's own input, are in
``responses.location.value`` as ``{"value": <type>, "optionValue": <input>}``.

Read as one string, a phone consultation loses the patient's number (it is in no phone
field) and the number lands in the doctor's calendar as the visit's place. So the connector
splits it here, and the preset maps each part where it belongs: the booker's phone to the
patient's contact, an address to the visit's place, a link to the join link, the
organizer's phone to the number to dial, and the kind to the visit mode.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

KEY = "calcom_location"  # the key the connector adds beside Cal.com's own
ATTENDEE_PHONE, ATTENDEE_ADDRESS, ORGANIZER_ADDRESS, ORGANIZER_PHONE, LINK = (
    "phone", "attendeeInPerson", "inPerson", "userPhone", "link")
_PHONE_LIKE = re.compile(r"\+?[\d\s().\-/]{7,24}")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _is_url(value: str | None) -> bool:
    return value is not None and _URL.fullmatch(value) is not None


def _answer(payload: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(type, the booker's input) from ``responses.location``; its value is an object in
    webhooks (``{"value": "phone", "optionValue": "+1…"}``), a bare type in older bookings."""
    responses = payload.get("responses")
    answer = responses.get("location") if isinstance(responses, Mapping) else None
    value = answer.get("value") if isinstance(answer, Mapping) else None
    if isinstance(value, Mapping):
        return _text(value.get("value")), _text(value.get("optionValue"))
    return _text(value), None


def split(payload: Mapping[str, Any]) -> dict[str, str | None]:
    """The parts of the booking's location: ``kind`` (Cal.com's type), ``mode`` (in_person |
    video | phone), ``place`` (an address for the visit), ``attendee_phone`` (the patient's
    number), ``dial_in`` (the organizer's number the patient calls) and ``join_url``."""
    kind, given = _answer(payload)
    location = _text(payload.get("location"))
    metadata = payload.get("metadata")
    video_url = _text(metadata.get("videoCallUrl")) if isinstance(metadata, Mapping) else None
    parts: dict[str, str | None] = {"kind": kind, "mode": None, "place": None, "attendee_phone": None,
                                    "dial_in": None, "join_url": None}
    if kind == ATTENDEE_PHONE:
        parts.update(mode="phone", attendee_phone=given or location)
    elif kind == ORGANIZER_PHONE:
        parts.update(mode="phone", dial_in=location)
    elif kind in (ATTENDEE_ADDRESS, ORGANIZER_ADDRESS):
        parts.update(mode="in_person", place=given if kind == ATTENDEE_ADDRESS and given else location)
    elif kind == LINK or (kind or location or "").startswith("integrations:") or _is_url(location):
        parts.update(mode="video", join_url=location if _is_url(location) else video_url)
    elif location and not _PHONE_LIKE.fullmatch(location) and "@" not in location:
        parts.update(place=location)  # a place typed as free text ("Room 3"): never a number or an email
    return parts


def with_location(data: Mapping[str, Any]) -> dict[str, Any]:
    """Cal.com's body with the location's parts beside it (the preset reads ``calcom_location.*``)."""
    payload = data.get("payload")
    return {**data, KEY: split(payload) if isinstance(payload, Mapping) else {}}
