"""Waitlist entries from a FHIR R4 server faked at the HTTP boundary (respx), through the
real connector, client, mapping and store: the official request example with status
waitlist (tests/fixtures/waitlist/SOURCE.md) becomes a waitlist entry and never an
appointment; the next listing without it removes it; a bad one is quarantined by field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import time_machine
from sqlalchemy import select

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.service.pipeline import run_once
from clinicsync.sync.store.model import Appointment, Quarantine
from clinicsync.sync.store.model.waitlist import WAITLIST_ENTRIES
from clinicsync.sync.store.store import Store
from tests.connectors.fhir_fake import appointment, patient, with_meta

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "waitlist"
BASE = "https://ehr.example.org/fhir/r4"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def bundle(matches: list[dict[str, Any]], includes: list[dict[str, Any]]) -> dict[str, Any]:
    entries = [{"resource": r, "search": {"mode": "match"}} for r in matches]
    entries += [{"resource": r, "search": {"mode": "include"}} for r in includes]
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries,
            "link": [{"relation": "self", "url": f"{BASE}/Appointment"}]}


class FakeServer:
    """Answers the appointment poll and the waitlist search apart (by the status parameter)."""

    def __init__(self) -> None:
        self.waitlist: list[dict[str, Any]] = [fixture("fhir_r4_appointment_waitlist.json")]
        # The official example's phone is Australian ("(03) 5555 6473", no number in the clinic's
        # region US): with an email the patient can be reached, or the entry is refused (issue 58).
        reachable = fixture("fhir_r4_patient_example.json")
        reachable["telecom"].append({"system": "email", "value": "peter@example.org"})
        self.includes = [reachable, fixture("fhir_r4_location_1.json")]
        self.poll: list[dict[str, Any]] = []
        self.waitlist_searches: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.params.get("status") == "waitlist":
            self.waitlist_searches.append(request)
            return httpx.Response(200, json=bundle(self.waitlist, self.includes))
        return httpx.Response(200, json=bundle(self.poll, self.includes))


def rows(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(select(WAITLIST_ENTRIES))]


@pytest.fixture(autouse=True)
def in_2016() -> Any:
    """The official example asks for 2016-06-02 … 09: read it before then, or an entry whose
    periods are all over is refused (issue 58)."""
    with time_machine.travel(datetime(2016, 5, 1, 12, tzinfo=UTC), tick=True):
        yield


@pytest.fixture
def settings(write_settings: Any) -> Any:
    return load_settings(write_settings(f"""
        - name: ehr
          kind: fhir
          base_url: {BASE}
          timezone: America/Chicago
          delete_sweep: off
          waitlist: true
        """))


@respx.mock
def test_a_waitlist_appointment_becomes_an_entry_never_an_appointment(settings: Any, store: Store) -> None:
    server = FakeServer()
    booked = with_meta(appointment("b1", datetime(2031, 3, 4, 15, 0, tzinfo=UTC), "example", "d9"))
    waiting_in_poll = fixture("fhir_r4_appointment_waitlist.json")
    server.poll = [booked, waiting_in_poll]
    respx.get(f"{BASE}/Appointment").mock(side_effect=server)
    respx.get(url__startswith=f"{BASE}/").mock(return_value=httpx.Response(404))

    report = run_once(settings, store)

    assert report.extras["waitlist_sources"]["sources"]["ehr"]["created"] == 1, report.as_dict()
    search = server.waitlist_searches[0].url.params
    assert search.get_list("_include") == ["Appointment:patient", "Appointment:practitioner",
                                           "Appointment:location"]
    with store.engine.connect() as connection:
        appointments = [r.external_id for r in connection.execute(select(Appointment.__table__))]  # type: ignore[attr-defined]
    assert appointments == ["b1"]  # the waitlist Appointment in the poll was left out, not stored
    [entry] = rows(store)
    assert entry["connector"] == "ehr" and entry["external_id"] == "examplereq"
    assert entry["patient_ref"] == "example"
    assert entry["practitioner_ref"] is None  # the ATND participant names no one: any doctor
    assert entry["visit_type"] == "A previously unscheduled walk-in visit"
    assert entry["location_ref"] == "South Wing, second floor"
    assert entry["duration_minutes"] == 15
    assert entry["priority"] == 5  # FHIR 5 of 1 (highest) … 9: 10 - 5
    assert entry["status"] == "waiting"
    assert entry["timezone"] == "America/Chicago"
    # requestedPeriod 2016-06-02 … 2016-06-09 (dates, the end day whole), Chicago local days
    assert json.loads(entry["windows"]) == [{"start": "2016-06-02T05:00:00Z", "end": "2016-06-10T05:00:00Z"}]
    assert entry["waiting_since"].isoformat() == "2015-12-02T06:00:00+00:00"  # created, local midnight

    # Again, unchanged: nothing written
    before = rows(store)[0]["updated_at"]
    report = run_once(settings, store)
    assert report.extras["waitlist_sources"]["sources"]["ehr"]["unchanged"] == 1
    assert rows(store)[0]["updated_at"] == before

    # The server no longer lists it (booked, cancelled or deleted there): removed
    server.waitlist = []
    report = run_once(settings, store)
    assert report.extras["waitlist_sources"]["sources"]["ehr"]["removed"] == 1
    assert rows(store)[0]["status"] == "removed"


@respx.mock
def test_a_bad_waitlist_appointment_is_quarantined_by_field(settings: Any, store: Store) -> None:
    server = FakeServer()
    bad = fixture("fhir_r4_appointment_waitlist.json")
    bad["id"], bad["priority"] = "bad1", "soon"
    no_patient = {**fixture("fhir_r4_appointment_waitlist.json"), "id": "nobody", "participant": []}
    server.waitlist = [bad, no_patient, fixture("fhir_r4_appointment_waitlist.json")]
    respx.get(f"{BASE}/Appointment").mock(side_effect=server)
    respx.get(url__startswith=f"{BASE}/").mock(return_value=httpx.Response(404))

    report = run_once(settings, store)

    counts = report.extras["waitlist_sources"]["sources"]["ehr"]
    assert (counts["created"], counts["quarantined"]) == (1, 2)
    with store.engine.connect() as connection:
        items = {(r.record_id, r.field): r.reason for r in connection.execute(select(Quarantine.__table__))}  # type: ignore[attr-defined]
    assert set(items) == {("bad1", "priority"), ("nobody", "patient.external_id")}
    assert all(reason.startswith("waitlist entry: ") for reason in items.values())
    assert "soon" not in items[("bad1", "priority")]  # never the value


@respx.mock
def test_without_waitlist_setting_waitlist_appointments_are_left_out_and_no_search(write_settings: Any,
                                                                                  store: Store) -> None:
    settings = load_settings(write_settings(f"""
        - name: ehr
          kind: fhir
          base_url: {BASE}
          delete_sweep: off
        """))
    server = FakeServer()
    server.poll = [fixture("fhir_r4_appointment_waitlist.json")]
    respx.get(f"{BASE}/Appointment").mock(side_effect=server)
    respx.get(url__startswith=f"{BASE}/").mock(return_value=httpx.Response(404))
    report = run_once(settings, store)
    assert report.connectors["ehr"].counts.quarantined == 0
    assert server.waitlist_searches == [] and rows(store) == []
    assert report.extras["waitlist_sources"]["sources"] == {}


def test_patient_named_in_the_listing_is_stored_for_offers(write_settings: Any, store: Store) -> None:
    """The waiting patient may have no appointment: the listing's included Patient is stored."""
    with respx.mock:
        server = FakeServer()
        server.includes = [with_meta(patient("example")), fixture("fhir_r4_location_1.json")]
        respx.get(f"{BASE}/Appointment").mock(side_effect=server)
        respx.get(url__startswith=f"{BASE}/").mock(return_value=httpx.Response(404))
        settings = load_settings(write_settings(f"""
            - name: ehr
              kind: fhir
              base_url: {BASE}
              delete_sweep: off
              waitlist: true
            """))
        run_once(settings, store)
    from clinicsync.sync.store.model import Patient
    with store.engine.connect() as connection:
        [stored] = list(connection.execute(select(Patient.__table__)))  # type: ignore[attr-defined]
    assert stored.external_id == "example" and (stored.phone or stored.email)
