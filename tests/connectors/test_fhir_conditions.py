"""A FHIR server's lasting refusals are logged once while they stand (stop 53), as stop 52's
h/logrepeat did for six other conditions (sync/standing.py). On main `fhir.reference.unavailable`
(a read scope not granted: every Practitioner read 403) and `fhir.sweep.id_search_refused` (a
server without `_id` search) were warnings once per process, so once per `sync --once`: 288 a
day under cron, for as long as the scope is missing. The connector cannot reach the store (the
layers): it notes each as a Condition, and sync/engine.py routes it through Standing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from clinicsync.sync.engine import sync_once
from clinicsync.sync.settings import Settings, load_settings
from clinicsync.sync.store import Store
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
        respx.get(url__regex=rf"{BASE}/(Patient|Practitioner|Location)/.*").mock(
            side_effect=lambda request: ok(
                with_meta({"resourceType": request.url.path.split("/")[-2], "id": request.url.path.split("/")[-1]})
            )
        )
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
