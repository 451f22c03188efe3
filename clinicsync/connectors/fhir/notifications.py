"""What a FHIR Subscription notification says, read from the JSON a server pushed.

Two families reach the rest-hook endpoint:

- an R4 rest-hook (criteria ``Appointment?…``): HAPI sends nothing (an empty POST) or the
  whole resource (``PUT {endpoint}/Appointment/{id}``, ``DELETE`` for a delete): see
  ``appointment_body``;
- a topic-based notification Bundle (the Subscriptions R5 Backport IG on R4, R4B and R5):
  Bundle type ``history`` (R5: ``subscription-notification``) whose first entry is the
  status, a ``Parameters`` (R4) or a ``SubscriptionStatus`` (R4B/R5), then, by payload
  content, nothing (empty), entries naming the changed resources (id-only) or carrying
  them (full-resource): see ``read_notification``;
- Medplum's rest-hook: a POST of the bare resource (``bare_appointment``), or for a delete
  a body of ``{}`` with the resource named in ``X-Medplum-Deleted-Resource``
  (``medplum_deleted``); packages/server/src/workers/subscription.ts, ``sendRestHook``.

Servers differ in details the IG leaves open (fhir-candle sends ``subscription`` as a
valueString, HAPI the event timestamp as a valueDate and no ``request`` on the status
entry), so only what the handling needs is required. A notification that cannot be read
raises ``NotificationError`` naming the element, never its content.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clinicsync.connectors.fhir.shape import items, obj

NOTIFICATION_TYPES = ("handshake", "heartbeat", "event-notification", "query-status", "query-event")
BUNDLE_TYPES = ("history", "subscription-notification")
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


class NotificationError(ValueError):
    """The body is no notification this endpoint can read; the message names the element."""


@dataclass(frozen=True)
class Change:
    """One Appointment a notification is about: carried (full-resource) or only named."""

    id: str
    resource: dict[str, Any] | None = None
    deleted: bool = False


@dataclass(frozen=True)
class Notification:
    type: str  # one of NOTIFICATION_TYPES
    subscription: str | None = None  # the Subscription's reference, as the server gave it
    status: str | None = None  # the Subscription's status: requested | active | error | off
    events_since_start: int | None = None
    event_numbers: tuple[int, ...] = ()
    changes: tuple[Change, ...] = ()
    other_resources: int = 0  # focus or entries of other resource types (ignored)
    content: str = "empty"  # empty | id-only | full-resource, as seen in the payload
    resources: list[dict[str, Any]] = field(default_factory=list)  # non-Appointment resources carried along


def resource_key(reference: Any) -> tuple[str, str] | None:
    """('Appointment', '12') from 'Appointment/12', an absolute URL or a versioned one
    ('…/Appointment/12/_history/3'); None for urn:uuid: and anything without a type/id."""
    if not isinstance(reference, str) or not reference or reference.startswith(("urn:", "#")):
        return None
    parts = reference.split("?", 1)[0].rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2 or not parts[-2][:1].isupper() or not parts[-1]:
        return None
    return parts[-2], parts[-1]


def appointment_body(body: Any, expected_id: str) -> dict[str, Any]:
    """The Appointment of an R4 rest-hook PUT, which must be the one its URL names."""
    resource = obj(body)
    if resource.get("resourceType") != "Appointment":
        raise NotificationError(f"the body is a {_kind(body)}, not an Appointment")
    if resource.get("id") != expected_id:
        raise NotificationError("the Appointment's id differs from the id in the URL")
    return resource


def medplum_deleted(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """Medplum's rest-hook delete: ``X-Medplum-Interaction: delete`` and the resource in
    ``X-Medplum-Deleted-Resource`` ("Appointment/12"); its body is only ``{}``. None when
    the request is no Medplum delete. A delete that names no resource is refused."""
    interaction = headers.get("X-Medplum-Interaction", "").strip().lower()
    named = headers.get("X-Medplum-Deleted-Resource")
    if interaction != "delete" and named is None:
        return None
    key = resource_key(named)
    if key is None:
        raise NotificationError("X-Medplum-Deleted-Resource names no resource (Type/id expected)")
    return key


def bare_appointment(body: Any) -> dict[str, Any] | None:
    """The Appointment a Medplum rest-hook POSTs as the whole body (Medplum sends the bare
    resource, not a notification Bundle); None when the body is something else."""
    resource = obj(body)
    if resource.get("resourceType") != "Appointment":
        return None
    rid = resource.get("id")
    if not isinstance(rid, str) or not FHIR_ID.fullmatch(rid):
        raise NotificationError("the Appointment has no id (FHIR id syntax expected)")
    return resource


def read_notification(body: Any) -> Notification:
    """The notification a topic-based Bundle carries (see the module docstring)."""
    bundle = obj(body)
    if bundle.get("resourceType") != "Bundle":
        raise NotificationError(f"the body is a {_kind(body)}, not a notification Bundle or an Appointment")
    if bundle.get("type") not in BUNDLE_TYPES:
        raise NotificationError(f"Bundle.type is {_word(bundle.get('type'))}, not history or "
                                "subscription-notification")
    entries = [obj(entry) for entry in items(bundle.get("entry"))]
    if not entries:
        raise NotificationError("Bundle.entry is empty: a notification starts with its status")
    status = obj(entries[0].get("resource"))
    kind = status.get("resourceType")
    if kind == "Parameters":
        header = _from_parameters(status)
    elif kind == "SubscriptionStatus":
        header = _from_subscription_status(status)
    else:
        raise NotificationError(f"Bundle.entry[0] is a {_kind(status)}, not Parameters or SubscriptionStatus")
    kind_of = header["type"]
    if kind_of not in NOTIFICATION_TYPES:
        raise NotificationError(f"the notification type is {_word(kind_of)}, not one of "
                                f"{', '.join(NOTIFICATION_TYPES)}")
    changes: dict[str, Change] = {}
    others = 0
    carried: list[dict[str, Any]] = []
    for entry in entries[1:]:
        resource = obj(entry.get("resource"))
        method = str(obj(entry.get("request")).get("method") or "").upper()
        rid = resource.get("id")
        key = resource_key(f"{resource.get('resourceType')}/{rid}") if isinstance(rid, str) else None
        key = key or resource_key(entry.get("fullUrl")) or resource_key(obj(entry.get("request")).get("url"))
        if key is None:
            continue
        if key[0] != "Appointment":
            others += 1
            if resource:
                carried.append(resource)
            continue
        deleted = method == "DELETE"
        changes[key[1]] = Change(key[1], resource if resource and not deleted else None, deleted)
    for focus in header["focus"]:
        key = resource_key(focus)
        if key is None:
            continue
        if key[0] != "Appointment":
            others += 1
        elif key[1] not in changes:
            changes[key[1]] = Change(key[1])
    found = tuple(changes.values())
    content = ("full-resource" if carried or any(c.resource is not None for c in found)
               else "id-only" if found or others else "empty")
    return Notification(type=kind_of, subscription=header["subscription"], status=header["status"],
                        events_since_start=header["events"], event_numbers=tuple(header["numbers"]),
                        changes=found, other_resources=others, content=content, resources=carried)


def _from_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """The R4 backport status (profile backport-subscription-status-r4), by parameter name."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for parameter in items(parameters.get("parameter")):
        parameter = obj(parameter)
        by_name.setdefault(str(parameter.get("name")), []).append(parameter)

    def first(name: str) -> dict[str, Any]:
        return by_name.get(name, [{}])[0]

    subscription = first("subscription")
    numbers: list[int] = []
    focus: list[Any] = []
    for event in by_name.get("notification-event", []):
        parts = {str(obj(p).get("name")): obj(p) for p in items(event.get("part"))}
        number = _count(_value(parts.get("event-number", {})), "notification-event.event-number")
        if number is not None:
            numbers.append(number)
        focus.append(obj(parts.get("focus", {}).get("valueReference")).get("reference"))
    return {"type": first("type").get("valueCode"), "status": first("status").get("valueCode"),
            "subscription": obj(subscription.get("valueReference")).get("reference")
            or subscription.get("valueString"),  # fhir-candle sends a valueString
            "events": _count(_value(first("events-since-subscription-start")), "events-since-subscription-start"),
            "numbers": numbers, "focus": focus}


def _from_subscription_status(status: dict[str, Any]) -> dict[str, Any]:
    """R4B / R5 SubscriptionStatus: the same facts as elements."""
    numbers: list[int] = []
    focus: list[Any] = []
    for event in items(status.get("notificationEvent")):
        event = obj(event)
        number = _count(event.get("eventNumber"), "notificationEvent.eventNumber")
        if number is not None:
            numbers.append(number)
        focus.append(obj(event.get("focus")).get("reference"))
    return {"type": status.get("type"), "status": status.get("status"),
            "subscription": obj(status.get("subscription")).get("reference"),
            "events": _count(status.get("eventsSinceSubscriptionStart"), "eventsSinceSubscriptionStart"),
            "numbers": numbers, "focus": focus}


def _value(parameter: dict[str, Any]) -> Any:
    for key in ("valueString", "valueInteger", "valueUnsignedInt", "valuePositiveInt", "valueInteger64"):
        if key in parameter:
            return parameter[key]
    return None


def _count(value: Any, element: str) -> int | None:
    """An event counter: the IG writes it as a string ("3"), R5 as integer64 (a string in JSON)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise NotificationError(f"{element} is no number")
    try:
        number = int(value)
    except ValueError:
        raise NotificationError(f"{element} is no number") from None
    if number < 0:
        raise NotificationError(f"{element} is negative")
    return number


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        kind = value.get("resourceType")
        return _word(kind) if kind is not None else "JSON object without resourceType"
    return f"JSON {type(value).__name__}"


def _word(value: Any) -> str:
    """A code from the payload, quoted only if it looks like one (never free text)."""
    if isinstance(value, str) and value.replace("-", "").isalnum() and len(value) <= 40:
        return repr(value)
    return "missing" if value is None else "not a code"
