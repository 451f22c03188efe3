"""The FHIR connector's delete sweep (issue 29 obs 4): a server that hard-deletes an
Appointment (HAPI, Medplum, Epic) drops it from every search, so the `_lastUpdated` poll never
sees it go. `clinicsync sync --once` against the loopback FHIR server, on SQLite and
PostgreSQL: the due sweep lists the window's ids alone (`_elements=id`, paged, no includes)
and the vanished appointment is deleted — its notice planned, its reminders cancelled — while
the others stay; a refused or interrupted listing deletes nothing and is retried next poll."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import ValidationError
from sqlalchemy import select, update

from clinicsync.connectors.base import FatalConnectorError, RetriableConnectorError
from clinicsync.connectors.fhir.connector import FhirConnector
from clinicsync.connectors.fhir.settings import FhirSettings
from clinicsync.sync.db import make_engine
from clinicsync.sync.model.sweeps import DeleteSweep
from tests.connectors.fhir_fake import FakeFhir, outcome, pem, rsa_key
from tests.connectors.test_fhir import BASE, appt, bundle, make, ok, query
from tests.connectors.test_fhir_sync import fhir_connector, open_cli, seed, sync

SWEEPS = DeleteSweep.__table__  # type: ignore[attr-defined]
REMINDERS = """
notifiers:
  - {name: outbox, kind: outbox, directory: %s}
reminders:
  offsets: [1d]
  channels: [email]
  routes: {sms: outbox, email: outbox, whatsapp: outbox}
  agenda: {enabled: false}
"""


@pytest.fixture
def fake(fhir_server: FakeFhir) -> FakeFhir:
    return fhir_server


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "fhir-key.pem"
    path.write_text(pem(rsa_key()))
    return path


def six_hours_pass(store_url: str) -> None:
    """Move the last sweep back past the default schedule (every 6h)."""
    engine = make_engine(store_url)
    with engine.begin() as connection:
        swept = connection.execute(select(SWEEPS.c.swept_at).where(SWEEPS.c.connector == "ehr")).scalar_one()
        connection.execute(update(SWEEPS).where(SWEEPS.c.connector == "ehr")
                           .values(swept_at=swept - timedelta(hours=6, minutes=1)))
    engine.dispose()


def sweep_requests(fake: FakeFhir) -> list[dict[str, list[str]]]:
    return [r.query for r in fake.seen("GET") if "_elements" in r.query]


def statuses(run: Callable[..., tuple[int, str, str]]) -> dict[str, str]:
    _, out, _ = run("appointments", "list", "--all", "--json")
    return {a["external_id"]: a["status"] for a in json.loads(out)["items"]}


def messages_of(run: Callable[..., tuple[int, str, str]], ref: str) -> list[dict[str, Any]]:
    _, out, _ = run("reminders", "list", "--all", "--json")
    return [m for m in json.loads(out)["items"] if m["appointment"] == ref and m["recipient"] == "patient"]


def test_a_hard_deleted_appointment_is_deleted_at_the_next_due_sweep(
        fake: FakeFhir, key_file: Path, write_settings: Any, cli: Any, store_url: str, tmp_path: Path) -> None:
    seed(fake)  # ten appointments, three pages of four
    run = open_cli(cli, write_settings(fhir_connector(fake, key_file), REMINDERS % (tmp_path / "outbox")))
    first = sync(run)
    assert (first["ehr"]["created"], first["ehr"]["error"]) == (10, None)
    # The first run swept too (never swept: due): the window's ids alone, every page, no includes.
    listed = sweep_requests(fake)
    assert len(listed) == 3 and all(q["_elements"] == ["id"] for q in listed)
    assert [d[:2] for d in listed[0]["date"]] == ["ge", "lt"] and "_include" not in listed[0]
    assert "_lastUpdated" not in listed[0]

    ref = "ehr:a5"
    assert {m["status"] for m in messages_of(run, ref)} == {"pending"}  # its reminder waits
    fake.tick(minutes=10)
    fake.delete("Appointment/a5")  # DELETE Appointment/a5: gone from every search
    quiet = sync(run)  # the poll cannot see it, and the sweep is not due yet
    assert (quiet["ehr"]["fetched"], quiet["ehr"]["deleted"]) == (0, 0)
    assert len(sweep_requests(fake)) == 3
    assert statuses(run)["a5"] == "booked"

    six_hours_pass(store_url)
    swept = sync(run)
    assert (swept["ehr"]["deleted"], swept["ehr"]["created"], swept["ehr"]["error"]) == (1, 0, None)
    assert len(sweep_requests(fake)) == 6
    _, out, _ = run("appointments", "show", ref, "--json")
    assert "deleted" in out
    after = messages_of(run, ref)
    assert {m["status"] for m in after if m["kind"] == "reminder"} == {"cancelled"}
    assert [m["status"] for m in after if m["kind"] == "cancelled"] == ["pending"]  # the patient's notice
    remaining = statuses(run)
    assert "a5" not in remaining and len(remaining) == 9 and set(remaining.values()) == {"booked"}


def test_a_refused_or_interrupted_listing_deletes_nothing(
        fake: FakeFhir, key_file: Path, write_settings: Any, cli: Any, store_url: str,
        retry_sleeps: list[float]) -> None:
    seed(fake)
    run = open_cli(cli, write_settings(fhir_connector(fake, key_file)))
    assert sync(run)["ehr"]["created"] == 10
    fake.delete("Appointment/a2")
    fake.delete("Appointment/a7")

    # A server that refuses _elements: the run fails, naming it; nothing is deleted.
    fake.fail(lambda r: "_elements" in r.query and r.path == "/fhir/Appointment", 400)
    six_hours_pass(store_url)
    refused = sync(run, expect=1)["ehr"]
    assert refused["deleted"] == 0 and "_elements=id" in refused["error"] and "delete_sweep: off" in refused["error"]

    # Page 2 of the listing answers 500 past every retry: a partial listing is no deletion.
    fake.fail(lambda r: "_elements" in r.query and r.query.get("_getpagesoffset") == ["4"], 500, times=5)
    broken = sync(run, expect=1)["ehr"]  # due at once: a failed sweep keeps its old time
    assert broken["deleted"] == 0 and "gave up after 5 attempts" in broken["error"]
    assert len(retry_sleeps) == 4
    assert statuses(run)["a2"] == statuses(run)["a7"] == "booked"

    # The server answers again: the next poll sweeps, the two deletions go, the others stay.
    healed = sync(run)["ehr"]
    assert (healed["deleted"], healed["error"]) == (2, None)
    assert set(statuses(run)) == {f"a{i}" for i in range(10)} - {"a2", "a7"}


def test_delete_sweep_setting(fake: FakeFhir) -> None:
    base = {"name": "ehr", "kind": "fhir", "base_url": fake.base_url}
    default = FhirSettings.model_validate(base)
    assert default.delete_sweep is not None and default.delete_sweep.interval == "6h"
    assert FhirSettings.model_validate({**base, "delete_sweep": "every 30m"}).delete_sweep.interval == "30m"  # type: ignore[union-attr]
    off = FhirSettings.model_validate({**base, "delete_sweep": "off"})
    assert off.delete_sweep is None and FhirConnector(off).sweep_schedule() is None
    with pytest.raises(ValidationError, match="delete_sweep"):
        FhirSettings.model_validate({**base, "delete_sweep": "every other day"})
    with pytest.raises(ValidationError, match="max_delete_share"):
        FhirSettings.model_validate({**base, "max_delete_share": 2})
    custom = FhirConnector(default)
    custom.id_columns = ("identifier",)  # a mapping that reads the id from elsewhere: ids alone cannot name it
    with pytest.raises(FatalConnectorError, match="delete_sweep: off"):
        custom.list_ids()
    custom.close()


# -- the listing itself, at the HTTP boundary (respx) ----------------------------------------------
def swept(pages: list[dict[str, Any]], **settings: Any) -> tuple[list[str], list[httpx.Request]]:
    """list_ids over ``pages`` (the first answers the search, the others its next links)."""
    with respx.mock:
        first = respx.get(f"{BASE}/Appointment").mock(return_value=ok(pages[0]))
        rest = respx.get(url__startswith=f"{BASE}?page=").mock(side_effect=[ok(p) for p in pages[1:]])
        connector = make(**settings)
        connector.id_columns = ("id",)
        try:
            listing = connector.list_ids()
        finally:
            connector.close()
        return [r["id"] for r in listing.records], [c.request for c in (*first.calls, *rest.calls)]


def test_the_listing_asks_for_ids_only_and_reads_whatever_the_server_sends() -> None:
    # A server that ignores _elements sends whole resources: only their ids are read.
    page1 = bundle([appt("a1"), appt("a2")], next_url=f"{BASE}?page=2")
    ids, requests = swept([page1, bundle([appt("a3")]) | {"total": 3}],
                          search={"status": "booked", "_elements": "status,start"})
    assert ids == ["a1", "a2", "a3"]
    asked = query(requests[0])
    assert asked["_elements"] == ["id"] and "_include" not in asked and asked["status"] == ["booked"]
    assert [d[:2] for d in asked["date"]] == ["ge", "lt"]
    # An entry the server could not render still names its Appointment by fullUrl: not taken for deleted.
    broken = bundle([appt("a1")]) | {"total": 2}
    broken["entry"].append({"fullUrl": f"{BASE}/Appointment/a9"})
    assert swept([broken])[0] == ["a1", "a9"]


@pytest.mark.parametrize("page2", [
    bundle([]) | {"total": 3},  # a page came back short: fewer ids than the server counted
    {"resourceType": "Bundle", "type": "searchset", "total": 2,
     "entry": [{"resource": outcome("search expired"), "search": {"mode": "outcome"}}]},
    outcome("not a Bundle"),
], ids=["short of total", "error outcome", "not a bundle"])
def test_an_incomplete_listing_raises(page2: dict[str, Any]) -> None:
    page1 = bundle([appt("a1"), appt("a2")], next_url=f"{BASE}?page=2") | {"total": 3}
    with pytest.raises((RetriableConnectorError, FatalConnectorError), match="nothing was deleted"):
        swept([page1, page2])
