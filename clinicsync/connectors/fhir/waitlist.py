"""The FHIR waiting list: ``Appointment?status=waitlist``, read whole every run.

A waitlist Appointment has no start (FHIR R4 gives ``requestedPeriod`` instead), so neither
the ``_lastUpdated`` cursor's first date window nor a date-window read would ever find it;
and an entry that leaves the list (booked, cancelled, deleted) must be noticed. So the list is
one search of its own, every page followed, each page a ``snapshot`` batch and the last one
``snapshot_end``: sync/waitlist/sources.py removes the waiting entries the listing lacks.
Records are shaped exactly as the appointment poll shapes them (``FhirConnector.record``:
``_patient``, ``_practitioner``, ``_location``, ``_timezone``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from clinicsync.connectors.base import Batch, FatalConnectorError, RawRecord, Rejected
from clinicsync.connectors.fhir.client import FhirClient
from clinicsync.connectors.fhir.references import ReferenceResolver
from clinicsync.connectors.fhir.settings import FhirSettings
from clinicsync.connectors.fhir.shape import items, obj


class FhirConnector(Protocol):
    """What the listing needs of connector.py's FhirConnector (no import back: no cycle)."""

    client: FhirClient
    settings: FhirSettings

    @property
    def name(self) -> str: ...

    def _configured_params(self) -> list[tuple[str, str]]: ...

    def record(self, appointment: dict[str, Any], resolver: ReferenceResolver) -> RawRecord: ...


def waitlist_params(connector: FhirConnector) -> list[tuple[str, str]]:
    """The search: status=waitlist, the connector's includes and page size, and its own
    ``search:`` parameters except ``status`` (which would contradict this one)."""
    settings = connector.settings
    params = [("status", "waitlist"), ("_count", str(settings.page_size))]
    params += [("_include", f"Appointment:{name}") for name in settings.include]
    return params + [(key, value) for key, value in connector._configured_params() if key != "status"]


def waitlist_batches(connector: FhirConnector) -> Iterator[Batch]:
    resolver = ReferenceResolver(connector.client)
    bundle, _ = connector.client.get_json("Appointment", waitlist_params(connector))
    followed: set[str] = set()
    page = 0
    while True:
        page += 1
        records, rejected = _page(connector, bundle, page, resolver)
        link = next((obj(entry).get("url") for entry in items(bundle.get("link"))
                     if obj(entry).get("relation") == "next"), None)
        source = f"waitlist page {page}"
        if not isinstance(link, str) or not link:
            yield Batch(records, None, rejected, snapshot=True, snapshot_end=True,
                        max_delete_share=connector.settings.max_delete_share,
                        min_delete_stop=connector.settings.min_delete_stop, source=source)
            return
        if link in followed:
            raise FatalConnectorError(f"connector {connector.name}: the server repeated a next link on waitlist "
                                      f"page {page}; nothing was removed from the waitlist")
        followed.add(link)
        yield Batch(records, None, rejected, snapshot=True, source=source)
        bundle, _ = connector.client.get_json(connector.client.url(link))


def _page(connector: FhirConnector, bundle: dict[str, Any], page: int,
          resolver: ReferenceResolver) -> tuple[list[RawRecord], list[Rejected]]:
    if bundle.get("resourceType") != "Bundle":
        raise FatalConnectorError(f"connector {connector.name}: the waitlist search answered a "
                                  f"{bundle.get('resourceType')}, not a Bundle")
    found: list[dict[str, Any]] = []
    for entry in items(bundle.get("entry")):
        resource = obj(obj(entry).get("resource"))
        kind = resource.get("resourceType")
        if kind == "Appointment" and obj(obj(entry).get("search")).get("mode") != "include":
            found.append(resource)
        elif isinstance(kind, str) and kind != "OperationOutcome":
            resolver.add(resource)
    records: list[RawRecord] = []
    rejected: list[Rejected] = []
    for index, appointment in enumerate(found):
        if not isinstance(appointment.get("id"), str) or not appointment["id"]:
            rejected.append(Rejected(f"waitlist page {page} entry {index}", "Appointment without an id"))
        elif appointment.get("status") == "waitlist":  # a server that ignores the status parameter
            records.append(connector.record(appointment, resolver))
    return records, rejected
