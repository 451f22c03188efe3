"""A FHIR server's lasting refusals are logged once while they stand, as six other conditions
are (sync/runs/standing.py). On main `fhir.reference.unavailable`
(a read scope not granted: every Practitioner read 403) and `fhir.sweep.id_search_refused` (a
server without `_id` search) were warnings once per process, so once per `sync --once`: 288 a
day under cron, for as long as the scope is missing. The connector cannot reach the store (the
layers): it notes each as a Condition, and sync/ingest/engine.py routes it through Standing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from clinicsync.connectors.fhir.connector import FhirConnector
from clinicsync.connectors.fhir.settings import FhirSettings
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest.engine import sync_once
from clinicsync.sync.store.store import Store
from tests.connectors.fhir_fake import FakeFhir, appointment, outcome, pem, rsa_key, with_meta
from tests.connectors.test_fhir import BASE, appt, make, ok
from tests.connectors.test_fhir_sync import fhir_connector, open_cli, seed


def doctors_unreadable(fake: FakeFhir, folder: Path, write_settings: Callable[..., Path], cli: Any) -> Settings:
    """The clinic's FHIR source, its client without the Practitioner read scope (every read 403)."""
    seed(fake)
    key_file = folder / "fhir-key.pem"
    key_file.write_text(pem(rsa_key()))
    path = write_settings(fhir_connector(fake, key_file))
    open_cli(cli, path)
    fake.fail(lambda seen: seen.method == "GET" and seen.path.startswith("/fhir/Practitioner/"), 403, times=1000)
    return load_settings(path)


def a_visit_changes(fake: FakeFhir, i: int) -> None:
    """The desk moves one visit: the next poll reads it and its doctor (read one by one)."""
    fake.tick(minutes=5)
    fake.put(appointment(f"a{i}", fake.clock + timedelta(days=i + 1, hours=4), f"p{i % 3}", f"d{i % 2}", "l0"))


def references_answered() -> None:
    """Inside respx.mock: every Patient, Practitioner and Location read answered."""
    respx.get(url__regex=rf"{BASE}/(Patient|Practitioner|Location)/.*").mock(
        side_effect=lambda request: ok(
            with_meta({"resourceType": request.url.path.split("/")[-2], "id": request.url.path.split("/")[-1]})
        )
    )


def test_a_refused_practitioner_read_is_one_warning_for_a_day_of_runs_and_resolved_once(
    fhir_server: FakeFhir, tmp_path: Path, write_settings: Callable[..., Path], cli: Any, store: Store
) -> None:
    fake = fhir_server
    settings = doctors_unreadable(fake, tmp_path, write_settings, cli)
    with capture_logs() as logs:
        for i in range(6):  # six cron runs, each with a changed visit whose doctor it cannot read
            a_visit_changes(fake, i)
            assert sync_once(settings, store, only=["ehr"]).connectors["ehr"].error is None
    refused = [line for line in logs if line["event"] == "fhir.reference.unavailable"]
    assert [line["log_level"] for line in refused] == ["warning"] + ["debug"] * 5  # main: six warnings
    first = refused[0]
    assert first["connector"] == "ehr" and first["resource_type"] == "Practitioner" and first["status"] == 403
    assert first["fix"] == "grant the Practitioner read scope (system/Practitioner.read or system/Practitioner.rs)"
    assert "since" in first
    with fake.lock:
        fake.faults.clear()  # the scope granted
    with capture_logs() as logs:
        a_visit_changes(fake, 7)
        sync_once(settings, store, only=["ehr"])
        a_visit_changes(fake, 8)
        sync_once(settings, store, only=["ehr"])
    resolved = [line for line in logs if line["event"] == "fhir.reference.unavailable.resolved"]
    assert [(line["connector"], line["part"]) for line in resolved] == [("ehr", "Practitioner")]
    assert [line for line in logs if line["event"] == "fhir.reference.unavailable"] == []


def test_a_run_that_reads_no_reference_of_the_type_neither_says_it_nor_ends_it(
    fhir_server: FakeFhir, tmp_path: Path, write_settings: Callable[..., Path], cli: Any, store: Store
) -> None:
    """A quiet poll (nothing changed, nothing read) is no news: no `resolved`, no new warning."""
    fake = fhir_server
    settings = doctors_unreadable(fake, tmp_path, write_settings, cli)
    with capture_logs() as logs:
        sync_once(settings, store, only=["ehr"])
        for _ in range(3):
            fake.tick(minutes=5)
            sync_once(settings, store, only=["ehr"])
        a_visit_changes(fake, 2)
        sync_once(settings, store, only=["ehr"])
    events = [(line["event"], line["log_level"]) for line in logs if line["event"].startswith("fhir.reference")]
    assert events == [("fhir.reference.unavailable", "warning"), ("fhir.reference.unavailable", "debug")]


def test_a_refused_id_search_is_a_condition_of_the_sweep_not_a_warning_per_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The connector notes it (sync/ logs it once while it stands) and notes its end when the
    server answers the search; it writes no warning itself."""
    monkeypatch.setattr("clinicsync.connectors.fhir.connector.LOOKUP_CHUNK", 2)
    with respx.mock:
        search = respx.get(f"{BASE}/Appointment")
        search.mock(return_value=httpx.Response(400, json=outcome('Unknown search parameter "_id"')))
        respx.get(f"{BASE}/Appointment/a1").mock(return_value=ok(appt("a1")))
        references_answered()
        connector = make(cursor="date-window")
        try:
            with capture_logs() as logs:
                connector.records_by_id(["a1"])
        finally:
            connector.close()
    assert [line for line in logs if line["event"] == "fhir.sweep.id_search_refused"] == []  # main: a warning
    from clinicsync.connectors.base import Condition  # new here

    condition = connector.conditions[("fhir.sweep.id_search_refused", "sweep")]
    assert condition == Condition(
        "fhir.sweep.id_search_refused",
        "sweep",
        holds=True,
        state="HTTP 400",
        fields={"status": 400, "instead": "GET Appointment/{id} one by one"},
    )


def test_an_ignored_id_search_is_a_condition_of_the_sweep_ended_when_the_server_answers_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server that ignores `_id` (it answers Appointments not asked for) is a property of the
    server, as a refusal is: noted, not a warning at each delete sweep (on main a warning at each
    look-up, so at each cron run that sweeps); a look-up it answers as asked ends it."""
    from clinicsync.connectors.base import Condition

    monkeypatch.setattr("clinicsync.connectors.fhir.connector.LOOKUP_CHUNK", 2)

    def looked_up(ignore_id: bool) -> tuple[list[dict[str, Any]], dict[tuple[str, str], Condition]]:
        def answer(request: httpx.Request) -> httpx.Response:
            asked = request.url.params["_id"].split(",")
            ids = ["a1", "a9"] if ignore_id else [rid for rid in asked if rid == "a1"]
            return ok({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": appt(i)} for i in ids]})

        with respx.mock:
            respx.get(f"{BASE}/Appointment").mock(side_effect=answer)
            respx.get(f"{BASE}/Appointment/a1").mock(return_value=ok(appt("a1")))
            respx.get(f"{BASE}/Appointment/a2").mock(return_value=httpx.Response(404, json=outcome("gone")))
            references_answered()
            connector = make(cursor="date-window")
            try:
                with capture_logs() as logs:
                    assert [f["id"] for f in connector.records_by_id(["a1", "a2"]).found] == ["a1"]
            finally:
                connector.close()
        return logs, connector.conditions

    logs, conditions = looked_up(ignore_id=True)
    assert [line for line in logs if line["event"] == "fhir.sweep.id_search_ignored"] == []  # main: a warning
    assert conditions[("fhir.sweep.id_search_ignored", "sweep")] == Condition(
        "fhir.sweep.id_search_ignored",
        "sweep",
        holds=True,
        state="ignored",
        fields={"instead": "GET Appointment/{id} one by one"},
    )
    _, conditions = looked_up(ignore_id=False)
    assert conditions[("fhir.sweep.id_search_ignored", "sweep")].holds is False


def test_a_discovery_that_finds_nobody_is_one_warning_for_many_runs_and_resolved_once(
    retry_sleeps: list[float], store: Store, store_url: str
) -> None:
    """Fan-out with `discover:` when the search finds no actor (every practitioner retired, a
    wrong filter): each poll reads nothing. On main `fhir.fan_out.nobody` was a warning at every
    run (288 a day under cron); through sync/runs/standing.py it is one warning, debug while it lasts,
    and `fhir.fan_out.nobody.resolved` once an actor is found."""
    from clinicsync.sync.ingest.engine import sync_connector
    from tests.connectors.fhir_fake import location, patient, practitioner

    settings = Settings.model_validate(
        {"clinic": {"timezone": "America/Chicago"}, "store": {"url": store_url}, "connectors": []}
    )
    with FakeFhir(per_actor=True) as fake:
        fake.put({**practitioner("d1"), "active": False})  # retired: not found by active=true
        fake.put(patient("p1"))
        fake.put(location("l1"))
        fake.put(appointment("a1", fake.clock + timedelta(days=1), "p1", "d1", "l1"))
        connector = FhirConnector(
            FhirSettings.model_validate(
                {
                    "name": "oracle",
                    "base_url": fake.base_url,
                    "cursor": "date-window",
                    "include": ["patient", "location"],
                    "fan_out": {"by": "practitioner", "discover": "Practitioner?active=true"},
                }
            )
        )
        connector.close()
        with capture_logs() as logs:
            for i in range(4):
                fake.tick(minutes=5)
                assert sync_connector(settings, store, connector.settings, f"run{i}").error is None
        nobody = [line for line in logs if line["event"] == "fhir.fan_out.nobody"]
        assert [line["log_level"] for line in nobody] == ["warning"] + ["debug"] * 3  # main: four warnings
        assert nobody[0]["connector"] == "oracle" and nobody[0]["discover"] == "Practitioner?active=true"
        assert "since" in nobody[0]
        fake.put(practitioner("d1"))  # back at work
        with capture_logs() as logs:
            for i in range(2):
                fake.tick(minutes=5)
                assert sync_connector(settings, store, connector.settings, f"later{i}").error is None
    resolved = [line for line in logs if line["event"] == "fhir.fan_out.nobody.resolved"]
    assert [line["connector"] for line in resolved] == ["oracle"]
    assert [line for line in logs if line["event"] == "fhir.fan_out.nobody"] == []
