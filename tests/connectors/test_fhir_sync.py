"""End to end: `clinicsync sync --once --json` against a loopback FHIR server with
SMART Backend Services auth, several pages, includes, a 429 mid-paging, changes
between runs, a deleted-then-cancelled appointment, and the official HL7 examples."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.store import Store
from tests.connectors.fhir_fake import FakeFhir, Seen, appointment, location, patient, pem, practitioner, rsa_key

ZERO = {"fetched": 0, "created": 0, "updated": 0, "rescheduled": 0, "cancelled": 0, "noshow": 0, "deleted": 0,
        "unchanged": 0, "quarantined": 0, "error": None, "skipped": None}


@pytest.fixture
def fake(fhir_server: FakeFhir) -> FakeFhir:
    return fhir_server


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "secrets" / "fhir-key.pem"
    path.parent.mkdir()
    path.write_text(pem(rsa_key()))
    return path


def fhir_connector(fake: FakeFhir, key_file: Path, extra: str = "") -> str:
    return f"""
        - name: ehr
          kind: fhir
          base_url: {fake.base_url}
          page_size: 4
          include: [patient, location]   # practitioners are read one by one, once each
          timezone: America/Chicago
          auth:
            kind: smart_backend
            client_id: clinicsync
            kid: test-key
            private_key_file: {key_file}
        {extra}"""


def open_cli(cli: Any, config: Path) -> Callable[..., tuple[int, str, str]]:
    """The CLI on a migrated store (PostgreSQL is never migrated implicitly)."""
    run: Callable[..., tuple[int, str, str]] = cli(config)
    run("db", "upgrade")
    return run


def sync(run: Callable[..., tuple[int, str, str]], expect: int = 0) -> dict[str, Any]:
    _, out, err = run("sync", "--once", "--json", expect=expect)
    return dict(json.loads(out)["connectors"]) | {"_stderr": err}


def counts(report: dict[str, Any], name: str = "ehr", **expected: Any) -> None:
    assert report[name] == {**ZERO, **expected}, report[name]


def seed(fake: FakeFhir) -> None:
    """Ten booked appointments (three pages of four), updated two hours ago."""
    earlier = fake.clock - timedelta(hours=2)
    for pid in ("p0", "p1", "p2"):
        fake.put(patient(pid), earlier)
    for did in ("d0", "d1"):
        fake.put(practitioner(did), earlier)
    fake.put(location("l0"), earlier)
    for i in range(10):
        fake.put(appointment(f"a{i}", fake.clock + timedelta(days=i + 1, hours=3), f"p{i % 3}", f"d{i % 2}", "l0"),
                 earlier)


def test_two_runs_then_changes_then_quiet(fake: FakeFhir, key_file: Path, write_settings: Any, cli: Any,
                                          retry_sleeps: list[float], store_url: str) -> None:
    seed(fake)
    fake.fail(lambda r: r.query.get("_getpagesoffset") == ["4"], 429, {"Retry-After": "7"})
    revoked: list[str] = []

    def revoke_once_before_the_last_page(seen: Seen) -> None:
        if seen.query.get("_getpagesoffset") == ["8"] and not revoked:
            revoked.append(seen.path)
            fake.revoke_tokens()

    fake.before(revoke_once_before_the_last_page)
    run = open_cli(cli, write_settings(connectors=fhir_connector(fake, key_file)))
    started = fake.clock

    # 1. The first run imports every appointment across the pages, survives the 429, and
    #    gets one fresh token when the server stops accepting the first one.
    first = sync(run)
    counts(first, fetched=10, created=10)
    assert retry_sleeps == [7]
    polled = [r for r in fake.seen("GET") if "_elements" not in r.query]  # the delete sweep's follow the poll
    pages = [r for r in polled if r.path == "/fhir" and r.status == 200]
    assert [r.query["_getpagesoffset"] for r in pages] == [["4"], ["8"]]
    assert [r.status for r in polled if r.query.get("_getpagesoffset") == ["8"]] == [401, 200]
    assert len(fake.seen("GET", "/fhir/Practitioner/d0")) == len(fake.seen("GET", "/fhir/Practitioner/d1")) == 1
    assert len(fake.assertions) == 2  # one token, reused, and one refresh after the 401
    header, claims = fake.assertions[0]
    assert header["alg"] == "RS384" and claims["aud"] == fake.token_url
    assert fake.seen("GET", "/fhir/.well-known/smart-configuration")  # the token URL was discovered
    _, out, _ = run("appointments", "list", "--all", "--json")
    listed = {row["external_id"]: row for row in json.loads(out)["items"]}
    assert sorted(listed) == [f"a{i}" for i in range(10)]
    assert listed["a1"]["timezone"] == "America/Chicago" and listed["a1"]["status"] == "booked"
    assert listed["a1"]["patient"]["phone"] == "+12125550100"  # the mobile number
    assert listed["a1"]["practitioner"]["email"] == "doctor-d1@clinic.example"
    assert listed["a1"]["location"] == "Room l0"
    store = Store(make_engine(store_url))
    cursor = store.load_cursor("ehr")
    store.close()
    assert cursor is not None and cursor["listing"] is None
    assert cursor["since"] == started.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert '"event": "fhir.retry"' in first["_stderr"] and '"event": "fhir.fetched"' in first["_stderr"]
    for secret in ("Familyp0", "patient-p0@example.org", "212 555 0100", "BEGIN", "Bearer "):
        assert secret not in first["_stderr"]  # the logs name ids and counts, never people or tokens

    # 2. Nothing changed: the next run asks only for what changed and finds nothing.
    fake.tick(minutes=10)
    counts(sync(run))
    last_search = fake.seen("GET", "/fhir/Appointment")[-1]
    expected_since = (started - timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert last_search.query["_lastUpdated"] == [f"gt{expected_since}"] and "date" not in last_search.query

    # 3. Between two runs: a reschedule, a cancellation, a hard delete, a new request without start.
    fake.tick(minutes=5)
    moved = fake.get("Appointment/a1")
    moved["start"], moved["end"] = "2030-01-07T15:00:00Z", "2030-01-07T15:30:00Z"
    fake.put(moved)
    cancelled = fake.get("Appointment/a2") | {"status": "cancelled"}
    fake.put(cancelled)
    fake.delete("Appointment/a3")
    fake.put(appointment("req1", None, "p0", "d0"))  # a proposed request: no start yet
    third = sync(run)
    counts(third, fetched=3, rescheduled=1, cancelled=1, quarantined=1)
    _, out, _ = run("quarantine", "list", "--all", "--json")
    [entry] = json.loads(out)["items"]
    assert (entry["record_id"], entry["field"], entry["position"]) == ("req1", "start", "Appointment/req1/_history/1")

    # 4. The deleted appointment comes back, cancelled (FHIR lets a deleted id be written again).
    fake.tick(minutes=5)
    restored = fake.put(appointment("a3", fake.clock + timedelta(days=4), "p0", "d1", "l0", status="cancelled"))
    assert restored["meta"]["versionId"] == "3"  # create, delete, re-create
    counts(sync(run), fetched=1, cancelled=1)

    # 5. And quiet again.
    fake.tick(minutes=5)
    counts(sync(run))
    _, out, _ = run("appointments", "list", "--all", "--json")
    statuses = {row["external_id"]: row["status"] for row in json.loads(out)["items"]}
    assert statuses["a2"] == statuses["a3"] == "cancelled" and statuses["a4"] == "booked"
    assert len(fake.assertions) == 6  # one token per run (and the refresh)


def test_a_failing_fhir_connector_does_not_stop_the_others(fake: FakeFhir, key_file: Path, write_settings: Any,
                                                            cli: Any, drop_dir: Path) -> None:
    seed(fake)
    (drop_dir / "today.csv").write_text(
        "appointment_id,start,duration_minutes,status,patient_id,doctor_id\n"
        "C1,2030-05-01T09:00-04:00,30,confirmed,P1,D1\n")
    connectors = fhir_connector(fake, key_file, "  search: {clinic: north}") + f"""
        - name: drop
          kind: csv
          mapping: csv_default
          drop_dir: {drop_dir}
          settle_seconds: 0
        """
    report = sync(open_cli(cli, write_settings(connectors=connectors)), expect=1)
    assert report["ehr"]["error"] == ('connector ehr: GET Appointment answered HTTP 400: error: Unknown search '
                                      'parameter "clinic" for resource type "Appointment"')
    assert report["drop"]["created"] == 1 and report["drop"]["error"] is None


def test_check_reports_the_servers_capabilities(fake: FakeFhir, key_file: Path, write_settings: Any,
                                                cli: Any) -> None:
    seed(fake)
    _, out, _ = open_cli(cli, write_settings(connectors=fhir_connector(fake, key_file)))("check")
    [row] = [line.rstrip() for line in out.splitlines() if line.startswith("connector ")]  # piped: plain columns
    assert row.endswith(
        "FHIR 4.0.1 (FakeFHIR 1); Appointment search: yes; _lastUpdated: yes; date: yes; search ok (10 in the "
        "window); resources deleted at the server are found by the delete sweep (every 6h)")
    assert fake.seen("GET", "/fhir/metadata") and len(fake.assertions) == 1  # check exercises the credentials


def moved_by_years(text: str, years: int) -> str:
    """``text`` with every ISO date's year moved by ``years`` (the examples have no 29 February)."""
    return re.sub(r'"(\d{4})-(\d\d-\d\d)', lambda m: f'"{int(m[1]) + years}-{m[2]}', text)


def test_official_examples_through_the_server(fake: FakeFhir, key_file: Path, write_settings: Any, cli: Any,
                                              shared_fixtures: Path) -> None:
    folder = shared_fixtures / "fhir"
    # The examples' visits (December 2013) moved by whole years into this year: a visit that
    # ended longer ago than store.patient_data_days (365) has its patient's data forgotten in
    # the pass that imports it, and this test reads the patient as the examples give it.
    years = date.today().year - 2013
    for name in ("patient-example", "practitioner-example", "location-1", "appointment-example",
                 "appointment-example2doctors", "appointment-example-request"):
        text = (folder / f"{name}.json").read_text(encoding="utf-8")
        fake.put(json.loads(moved_by_years(text, years) if name.startswith("appointment") else text),
                 fake.clock - timedelta(days=1))
    config = write_settings(connectors=fhir_connector(fake, key_file, "  window: {back: 6000d, ahead: 400d}"),
                            timezone="Australia/Melbourne")
    config.write_text(config.read_text().replace("default_region: US", "default_region: AU"))
    run = open_cli(cli, config)

    counts(sync(run), fetched=2, created=2)  # the request has no start, so the date window leaves it out
    fake.tick(minutes=5)
    fake.put(json.loads((folder / "appointment-example-request.json").read_text(encoding="utf-8")))
    counts(sync(run), fetched=1, quarantined=1)
    _, out, _ = run("appointments", "list", "--all", "--json")
    rows = {row["external_id"]: row for row in json.loads(out)["items"]}
    assert rows["example"]["patient"]["name"] == "Peter James Chalmers"
    assert rows["example"]["patient"]["phone"] == "+61334105613"
    assert rows["example"]["practitioner"]["name"] == "Dr Adam Careful"
    assert rows["example"]["location"] == "South Wing, second floor"
    assert rows["example"]["type"] == "General Discussion"  # serviceType first (issue 18), then appointmentType
    assert rows["2docs"]["start"] == f"{2013 + years}-12-09T09:00:00Z"
    _, out, _ = run("quarantine", "list", "--all", "--json")
    assert [(q["record_id"], q["field"]) for q in json.loads(out)["items"]] == [("examplereq", "start")]
