"""The Subscription resource `clinicsync fhir subscribe` creates on the FHIR server.

Without a topic it is a classic R4 rest-hook: ``criteria`` an Appointment search, and
``channel.payload`` set for full-resource (the server then PUTs each changed Appointment
to ``{endpoint}/Appointment/{id}``) or left out for empty (an empty POST to the endpoint).
With a topic it follows the Subscriptions R5 Backport IG (profile backport-subscription):
``criteria`` the topic's canonical URL, filters and payload content as extensions.

Run again, it changes the Subscription already there for the same endpoint instead of adding
one (a second would send every notification twice, and one left behind after a secret
rotation would be refused forever): it is found by ``Subscription?url=<endpoint>`` and
updated in place (``PUT``, status ``requested``), which reactivates one the server set
``error`` or ``off`` and gives it the current bearer. One the server deleted, or whose
``end`` passed and that it removed, is created again.

Either way ``channel.header`` carries ``Authorization: Bearer <secret>``: the server sends
it back with every notification, and the endpoint refuses a notification without it.
"""

from __future__ import annotations

from typing import Any

from clinicsync.connectors.fhir.client import FHIR_JSON, FhirClient
from clinicsync.connectors.fhir.settings import SubscriptionSettings
from clinicsync.connectors.fhir.shape import items, obj

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition"
REASON = "clinicsync: appointment changes for reminders and calendars"


def subscription_resource(settings: SubscriptionSettings, endpoint: str) -> dict[str, Any]:
    """The Subscription to POST (status requested: the server activates it, after a
    handshake where it does them)."""
    channel: dict[str, Any] = {
        "type": "rest-hook", "endpoint": endpoint,
        "header": [f"Authorization: Bearer {settings.secret.get_secret_value()}"]}
    resource: dict[str, Any] = {"resourceType": "Subscription", "status": "requested", "reason": REASON}
    if settings.topic is None:
        resource["criteria"] = settings.criteria
        if settings.payload == "full-resource":
            channel["payload"] = FHIR_JSON
        resource["channel"] = channel
        return resource
    resource["meta"] = {"profile": [f"{BACKPORT}/backport-subscription"]}
    resource["criteria"] = settings.topic
    if settings.filters:
        resource["_criteria"] = {"extension": [{"url": f"{BACKPORT}/backport-filter-criteria", "valueString": f}
                                               for f in settings.filters]}
    if settings.heartbeat_seconds:
        channel["extension"] = [{"url": f"{BACKPORT}/backport-heartbeat-period",
                                 "valueUnsignedInt": settings.heartbeat_seconds}]
    channel["payload"] = FHIR_JSON
    channel["_payload"] = {"extension": [{"url": f"{BACKPORT}/backport-payload-content",
                                          "valueCode": settings.payload}]}
    resource["channel"] = channel
    return resource


def existing_subscriptions(client: FhirClient, endpoint: str) -> list[dict[str, Any]]:
    """The server's Subscriptions that call ``endpoint`` (search ``url``, checked again
    here: a server that ignores the parameter answers them all)."""
    found, _ = client.get_json("Subscription", params=[("url", endpoint)])
    resources = [obj(entry).get("resource") for entry in items(found.get("entry"))]
    return [r for r in resources if isinstance(r, dict) and r.get("resourceType") == "Subscription"
            and isinstance(r.get("id"), str) and obj(r.get("channel")).get("endpoint") == endpoint]


def create_subscription(client: FhirClient, settings: SubscriptionSettings,
                        endpoint: str) -> tuple[dict[str, Any], str, list[str]]:
    """The Subscription for ``endpoint``, made current (see the module docstring): the
    server's answer (its id and status), ``"created"`` or ``"updated"``, and the ids of
    further Subscriptions calling the same endpoint (left alone: delete them on the server).
    Raises FhirStatusError naming the server's diagnostics (e.g. an unknown topic)."""
    resource = subscription_resource(settings, endpoint)
    existing = existing_subscriptions(client, endpoint)
    if not existing:
        response = client.send("POST", "Subscription", json=resource, headers={"Content-Type": FHIR_JSON},
                               retry=False, accept=(200, 201))
        return client.resource(response), "created", []
    first, *others = existing
    response = client.send("PUT", f"Subscription/{first['id']}", json={**resource, "id": first["id"]},
                           headers={"Content-Type": FHIR_JSON}, retry=False, accept=(200, 201))
    return client.resource(response), "updated", [str(o["id"]) for o in others]
