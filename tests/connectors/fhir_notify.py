"""The FHIR server's side of a Subscription, for tests: it sends what HAPI and the Backport
IG servers send to a rest-hook endpoint, about the test FHIR server's (fhir_fake.py)
Appointments, through the real HTTP app.

- R4 rest-hook (criteria ``Appointment?…``): ``put`` (channel.payload set: the resource),
  ``delete``, ``ping`` (no payload: an empty POST);
- topic-based: ``bundle(kind, …)`` from the published examples in
  tests/fixtures/fhir_subscriptions (see SOURCE.md there for what is rewritten).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from tests.connectors.fhir_fake import FakeFhir

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fhir_subscriptions"
FHIR_JSON = "application/fhir+json; charset=UTF-8"  # what HAPI's client sends
EXAMPLES = {
    "handshake": "inferno_r4_handshake_bundle_example.json",
    "heartbeat": "inferno_r4_heartbeat_bundle_example.json",
    "empty": "inferno_r4_empty_notification_bundle_example.json",
    "id-only": "inferno_r4_id_only_notification_bundle_example.json",
    "full-resource": "inferno_r4_full_resource_notification_bundle_example.json",
    "candle-id-only": "candle_r4_Bundle-notification-id.json",
    "r4b-handshake": "candle_r4b_Bundle-notification-handshake.json",
    "r5-handshake": "candle_r5_Bundle-notification-handshake.json",
}


@cache
def _example(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8-sig")


def example(kind: str) -> dict[str, Any]:
    """A published example, as published."""
    loaded: dict[str, Any] = json.loads(_example(EXAMPLES[kind]))
    return loaded


class Notifier:
    """Sends notifications for ``fake``'s resources to ``client`` (the app) at ``path``."""

    def __init__(self, fake: FakeFhir, client: httpx.AsyncClient, path: str, secret: str) -> None:
        self.fake, self.client, self.path = fake, client, path
        self.headers = {"Authorization": f"Bearer {secret}"}  # channel.header, as HAPI splits it
        self.events = 0  # events-since-subscription-start

    # -- R4 rest-hook ------------------------------------------------------------------------
    async def put(self, appointment_id: str) -> httpx.Response:
        """HAPI with channel.payload: PUT {endpoint}/Appointment/{id} with the current resource."""
        resource = self.fake.get(f"Appointment/{appointment_id}")
        return await self.client.put(f"{self.path}/Appointment/{appointment_id}", content=json.dumps(resource),
                                     headers={**self.headers, "Content-Type": FHIR_JSON})

    async def delete(self, appointment_id: str) -> httpx.Response:
        return await self.client.delete(f"{self.path}/Appointment/{appointment_id}", headers=self.headers)

    async def ping(self) -> httpx.Response:
        """HAPI without channel.payload: an empty POST to the endpoint."""
        return await self.client.post(self.path, headers=self.headers)

    # -- topic-based ---------------------------------------------------------------------------
    def bundle(self, kind: str, *ids: str, deleted: bool = False, count: bool = True,
               events: int | None = None) -> dict[str, Any]:
        """The published example of ``kind`` about Appointments ``ids``: one event each
        (numbered on from the last unless ``count`` is False); ``events`` overrides the
        events-since-subscription-start it reports."""
        bundle = example(kind)
        status = bundle["entry"][0]["resource"]
        template = bundle["entry"][1] if len(bundle["entry"]) > 1 else None
        parameters = status.get("parameter", [])
        event_template = next((p for p in parameters if p["name"] == "notification-event"), None)
        numbers = []
        if count:
            for _ in ids or ([""] if event_template else []):
                self.events += 1
                numbers.append(self.events)
        reported = str(events if events is not None else self.events)
        for parameter in parameters:
            if parameter["name"] == "events-since-subscription-start":
                parameter["valueString"] = reported
        if "eventsSinceSubscriptionStart" in status:
            status["eventsSinceSubscriptionStart"] = reported
        if event_template is not None:
            parameters[:] = [p for p in parameters if p["name"] != "notification-event"]
            for index, number in enumerate(numbers):
                event = copy.deepcopy(event_template)
                for part in event["part"]:
                    if part["name"] == "event-number":
                        part["valueString"] = str(number)
                    if part["name"] == "focus" and index < len(ids):
                        part["valueReference"]["reference"] = f"{self.fake.base_url}/Appointment/{ids[index]}"
                parameters.append(event)
        bundle["entry"] = bundle["entry"][:1]
        if template is not None:
            for appointment_id in ids:
                entry = copy.deepcopy(template)
                entry["fullUrl"] = f"{self.fake.base_url}/Appointment/{appointment_id}"
                entry["request"] = ({"method": "DELETE", "url": f"Appointment/{appointment_id}"} if deleted
                                    else {"method": "PUT", "url": f"Appointment/{appointment_id}"})
                if "resource" in entry:
                    if deleted:
                        del entry["resource"]
                    else:
                        entry["resource"] = self.fake.get(f"Appointment/{appointment_id}")
                bundle["entry"].append(entry)
        return bundle

    async def send(self, bundle: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        """POST a notification Bundle, as HAPI's transaction client does."""
        return await self.client.post(self.path, content=json.dumps(bundle),
                                      headers={**self.headers, "Content-Type": FHIR_JSON, **(headers or {})})

    async def notify(self, kind: str, *ids: str, **options: Any) -> httpx.Response:
        return await self.send(self.bundle(kind, *ids, **options))
