"""Fan-out polling against a loopback server that, like Oracle Health, refuses an
Appointment search without a date and a practitioner, location or patient: three
practitioners, listed or discovered, one date-window search each, shared appointments
imported once, bounded concurrency, and a crash mid-round that resumes where it stopped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from clinicsync.connectors.fhir import FhirConnector
from clinicsync.connectors.fhir.settings import FhirSettings
from clinicsync.mappings.engine import load_mapping
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.engine import map_batch
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.store import Store
from tests.connectors.fhir_fake import FakeFhir, appointment, location, patient, practitioner

A = Appointment.__table__.c  # type: ignore[attr-defined]
DOCTORS = ("d1", "d2", "d3")


@pytest.fixture
def oracle_like(retry_sleeps: list[float]) -> Iterator[FakeFhir]:
    with FakeFhir(per_actor=True) as server:
        for did in DOCTORS:
            server.put(practitioner(did))
        server.put({**practitioner("d9"), "active": False})  # retired: not discovered with active=true
        server.put(patient("p1"))
        server.put(location("l1"))
        for n in range(9):  # three per doctor; page_size 2 gives two pages each
            server.put(appointment(f"a{n}", server.clock + timedelta(days=n + 1), "p1", DOCTORS[n % 3], "l1"))
        shared = appointment("shared", server.clock + timedelta(days=20), "p1", "d1", "l1")
        shared["participant"].append({"actor": {"reference": "Practitioner/d2"}, "status": "accepted"})
        server.put(shared)  # two doctors: found under both
        yield server


def make(server: FakeFhir, **fan_out: Any) -> FhirConnector:
    return FhirConnector(FhirSettings.model_validate({
        "name": "oracle", "base_url": server.base_url, "cursor": "date-window", "page_size": 2,
        "include": ["patient", "location"], "fan_out": {"by": "practitioner", **fan_out}}))


def searched(server: FakeFhir, sweep: bool = False) -> list[str]:
    """The actors the poll searched (``sweep``: those the delete sweep listed ids for)."""
    return [r.query["practitioner"][0] for r in server.seen("GET", "/fhir/Appointment")
            if ("_elements" in r.query) == sweep]


def test_the_server_refuses_a_search_without_an_actor(oracle_like: FakeFhir) -> None:
    plain = FhirConnector(FhirSettings.model_validate({"name": "oracle", "base_url": oracle_like.base_url,
                                                       "cursor": "date-window", "retry": {"attempts": 1}}))
    with pytest.raises(Exception, match="one of patient, practitioner or location are required"):
        list(plain.fetch(None))


@pytest.mark.parametrize("actors", [{"ids": list(DOCTORS)}, {"discover": "Practitioner?active=true"}],
                         ids=["listed", "discovered"])
def test_fan_out_reads_every_actor_once_and_each_appointment_once(oracle_like: FakeFhir,
                                                                  actors: dict[str, Any]) -> None:
    connector = make(oracle_like, **actors)
    batches = list(connector.fetch(None))
    ids = [r.record_id for b in batches for r in b.records]
    assert sorted(ids) == sorted([f"a{n}" for n in range(9)] + ["shared"])  # "shared" once, not twice
    assert sorted(set(searched(oracle_like))) == list(DOCTORS)  # d9 is retired
    for request in oracle_like.seen("GET", "/fhir/Appointment"):  # each carries the date window
        assert [v[:2] for v in request.query["date"]] == ["ge", "lt"]  # the pair Oracle documents
    assert batches[-1].cursor == {"v": 1, "mode": "fan-out", "done": [], "current": None, "next": None,
                                  "pages": 0}  # the round is complete: the next run starts a new one
    mapping = load_mapping("fhir_r4", "America/Chicago", "US")
    mapped, quarantined = map_batch(mapping, batches[0])
    assert quarantined == [] and all(m.appointment.practitioner for m in mapped)


@pytest.mark.parametrize("concurrency", [1, 2, 3])
def test_first_pages_are_read_ahead_up_to_the_bound(oracle_like: FakeFhir, concurrency: int) -> None:
    batches = make(oracle_like, ids=list(DOCTORS), concurrency=concurrency).fetch(None)
    next(batches)  # the first actor's first page, handed over to be stored
    deadline = time.monotonic() + 5
    while len(searched(oracle_like)) < concurrency and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # anything beyond the bound would have arrived by now
    assert sorted(searched(oracle_like)) == list(DOCTORS[:concurrency])  # in flight at once: any order
    batches.close()


def test_a_crash_mid_round_resumes_with_the_unfinished_actor(oracle_like: FakeFhir, store: Store,
                                                             store_url: str) -> None:
    settings = Settings.model_validate({"clinic": {"timezone": "America/Chicago"}, "store": {"url": store_url},
                                        "connectors": []})
    connector = make(oracle_like, ids=list(DOCTORS), concurrency=1)
    mapping = load_mapping("fhir_r4", "America/Chicago", "US")
    batches = connector.fetch(None)
    for _ in range(3):  # d1's two pages and d2's first page are stored, then the process dies
        batch = next(batches)
        mapped, quarantined = map_batch(mapping, batch)
        store.apply_batch("oracle", "run1", mapped, quarantined, batch.cursor)
    batches.close()
    stored = store.load_cursor("oracle")
    assert stored is not None and stored["done"] == ["d1"] and stored["current"] == "d2" and stored["next"]
    before = len(searched(oracle_like))

    from clinicsync.sync.ingest.engine import sync_connector
    report = sync_connector(settings, store, connector.settings, "run2")
    assert report.error is None
    after = searched(oracle_like)[before:]
    assert "d1" not in after and after.count("d2") == 0 and after.count("d3") == 1  # d2 resumed at its next link
    assert searched(oracle_like, sweep=True) == list(DOCTORS)  # the delete sweep lists every actor's ids
    with store.engine.connect() as connection:
        stored_ids = sorted(connection.execute(select(A.external_id)).scalars())
    assert stored_ids == sorted([f"a{n}" for n in range(9)] + ["shared"])
    assert store.load_cursor("oracle")["done"] == []  # type: ignore[index]


@pytest.mark.parametrize(("fan_out", "cursor", "message"), [
    ({"by": "practitioner"}, "date-window", "give the actors as `ids:` or as a `discover:` search"),
    ({"by": "practitioner", "ids": ["1"], "discover": "Practitioner"}, "date-window", "one of the two"),
    ({"by": "practitioner", "ids": ["1"]}, "last-updated", "fan_out needs cursor: date-window"),
    ({"by": "location", "discover": "Appointment"}, "date-window", "no resource type to fan out over"),
    ({"by": "doctor", "ids": ["1"]}, "date-window", "Input should be 'practitioner', 'location' or 'patient'"),
])
def test_bad_fan_out_settings_name_the_key(fan_out: dict[str, Any], cursor: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FhirSettings.model_validate({"name": "x", "base_url": "https://ehr.example.org/fhir", "cursor": cursor,
                                     "fan_out": fan_out})
