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
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.model.sweeps import DeleteSweep
from tests.connectors.fhir_fake import FakeFhir, Seen, outcome, pem, practitioner, rsa_key, with_meta
from tests.connectors.test_fhir import BASE, INCLUDED, appt, bundle, make, ok, query
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

    # A listing the server refuses for another reason than the parameter (here: not allowed):
    # the run fails, naming it; nothing is deleted. (A refused _elements is worked around:
    # test_a_strict_server_that_refuses_elements_is_swept_by_the_plain_search.)
    fake.fail(lambda r: "_elements" in r.query and r.path == "/fhir/Appointment", 403)
    six_hours_pass(store_url)
    refused = sync(run, expect=1)["ehr"]
    assert refused["deleted"] == 0 and "_elements=id" in refused["error"] and "HTTP 403" in refused["error"]

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


def test_a_strict_server_that_refuses_elements_is_swept_by_the_plain_search(
        fake: FakeFhir, key_file: Path, write_settings: Any, cli: Any, store_url: str, tmp_path: Path) -> None:
    """HAPI's strict handling (and other vendors') answers `_elements` with 400 "Unknown search
    parameter": every run of the source failed on it (issue 57 obs 6). Now the sweep lists the
    window with the plain search (whole resources, paged), the run succeeds, a deleted
    appointment is still found, and the next sweep goes straight to the plain search, said once."""
    fake.params.discard("_elements")
    seed(fake)
    run = open_cli(cli, write_settings(fhir_connector(fake, key_file), REMINDERS % (tmp_path / "outbox")))
    first = sync(run)
    assert (first["ehr"]["created"], first["ehr"]["error"]) == (10, None)
    refused = [r for r in fake.seen("GET", "/fhir/Appointment") if "_elements" in r.query]
    assert len(refused) == 1 and refused[0].status == 400  # asked once, then the plain search
    assert first["_stderr"].count("fhir.sweep.elements_refused") == 1

    fake.tick(minutes=10)
    fake.delete("Appointment/a5")
    six_hours_pass(store_url)
    before = len(fake.seen("GET"))
    swept = sync(run)
    assert (swept["ehr"]["deleted"], swept["ehr"]["error"]) == (1, None)
    asked = fake.seen("GET")[before:]
    assert not [r for r in asked if "_elements" in r.query]  # remembered: no refused request first
    plain = [r for r in asked if r.path == "/fhir/Appointment" and "date" in r.query and "_lastUpdated" not in r.query]
    assert plain and "_include" not in plain[0].query  # the window's listing, whole resources, paged
    assert "fhir.sweep.elements_refused" not in swept["_stderr"]  # said once, not at every run
    assert "a5" not in statuses(run) and len(statuses(run)) == 9
    after = messages_of(run, "ehr:a5")
    assert [m["status"] for m in after if m["kind"] == "cancelled"] == ["pending"]  # the patient's notice


# -- before deleting: what the listing lacks is looked up by _id ----------------------------------
# A date-window read and the sweep's listing both cover window.back..window.ahead: an appointment the
# EHR moved past window.ahead leaves both, like a deleted one. Deleted, its patient was told it was
# cancelled, its reminders dropped, and it was "booked anew" when the window reached its new day.
DATE_WINDOW = "  cursor: date-window\n" + " " * 10 + "window: {back: 1d, ahead: 30d}"


def lookups(fake: FakeFhir) -> list[Seen]:
    """The sweep's look-ups: `GET Appointment?_id=…`."""
    return [r for r in fake.seen("GET", "/fhir/Appointment") if "_id" in r.query]


def move(fake: FakeFhir, key: str, days: int, **changes: Any) -> str:
    """The EHR moves ``key`` to ``days`` from now (and changes ``changes``); its new start."""
    resource = fake.get(key) | changes
    start = (fake.clock + timedelta(days=days)).replace(minute=0, second=0)
    resource["start"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    resource["end"] = (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fake.put(resource)
    return str(resource["start"])


def shown(run: Callable[..., tuple[int, str, str]], ref: str) -> dict[str, Any]:
    return dict(json.loads(run("appointments", "show", ref, "--json")[1]))


def test_an_appointment_moved_past_the_window_is_moved_not_deleted(
        fake: FakeFhir, key_file: Path, write_settings: Any, cli: Any, store_url: str, tmp_path: Path) -> None:
    seed(fake)  # ten appointments, 1 to 10 days ahead
    run = open_cli(cli, write_settings(fhir_connector(fake, key_file, DATE_WINDOW), REMINDERS % (tmp_path / "outbox")))
    first = sync(run)["ehr"]  # the baseline, swept at once: nothing to delete, so nothing is looked up
    assert (first["created"], first["deleted"], first["error"]) == (10, 0, None)
    assert lookups(fake) == []

    ref = "ehr:a5"
    fake.tick(minutes=10)
    new_start = move(fake, "Appointment/a5", days=45)  # past window.ahead (30d): gone from the read and the listing
    six_hours_pass(store_url)
    swept = sync(run)["ehr"]
    assert (swept["rescheduled"], swept["deleted"], swept["error"]) == (1, 0, None), swept
    [lookup] = lookups(fake)  # one search by _id, with the poll's includes, without the window
    assert lookup.query["_id"] == ["a5"] and "date" not in lookup.query
    assert lookup.query["_include"] == ["Appointment:patient", "Appointment:location"]
    assert not fake.seen("GET", "/fhir/Appointment/a5")  # no read one by one
    appointment = shown(run, ref)
    assert (appointment["start"], appointment["status"]) == (new_start, "booked")
    assert appointment["patient"]["phone"] == "+12125550100"  # mapped as the poll maps it (the included Patient)
    notices = {m["kind"]: m["status"] for m in messages_of(run, ref) if m["kind"] != "reminder"}
    assert notices == {"rescheduled": "pending"}  # the patient is told of the new day, not of a cancellation
    reminders = [m for m in messages_of(run, ref) if m["kind"] == "reminder"]
    assert any(m["status"] == "pending" for m in reminders), reminders

    # It lies past the listing's end now: the next sweep has nothing to delete and looks nothing up.
    six_hours_pass(store_url)
    again = sync(run)["ehr"]
    assert (again["rescheduled"], again["deleted"], again["error"]) == (0, 0, None)
    assert len(lookups(fake)) == 1 and shown(run, ref)["status"] == "booked"


def test_only_the_truly_gone_are_deleted_and_a_cancelled_one_is_cancelled(
        fake: FakeFhir, key_file: Path, write_settings: Any, cli: Any, store_url: str, tmp_path: Path) -> None:
    seed(fake)
    run = open_cli(cli, write_settings(fhir_connector(fake, key_file, DATE_WINDOW), REMINDERS % (tmp_path / "outbox")))
    assert sync(run)["ehr"]["created"] == 10
    fake.tick(minutes=10)
    fake.delete("Appointment/a2")  # hard-deleted: the look-up does not return it
    move(fake, "Appointment/a7", days=50, status="cancelled")  # moved past the window, then cancelled there
    move(fake, "Appointment/a8", days=60)
    six_hours_pass(store_url)
    swept = sync(run)["ehr"]
    assert (swept["deleted"], swept["cancelled"], swept["rescheduled"], swept["error"]) == (1, 1, 1, None), swept
    [lookup] = lookups(fake)
    assert lookup.query["_id"] == ["a2,a7,a8"]  # one search for the three the listing lacked
    assert "deleted" in run("appointments", "show", "ehr:a2", "--json")[1]
    assert shown(run, "ehr:a7")["status"] == "cancelled" and shown(run, "ehr:a8")["status"] == "booked"
    for ref in ("ehr:a2", "ehr:a7"):
        assert [m["status"] for m in messages_of(run, ref) if m["kind"] == "cancelled"] == ["pending"], ref
    assert {m["kind"] for m in messages_of(run, "ehr:a8")} - {"reminder"} == {"rescheduled"}
    assert set(statuses(run)) == {f"a{i}" for i in range(10)} - {"a2"}


def test_a_failed_look_up_deletes_nothing_and_the_next_poll_sweeps_again(
        fake: FakeFhir, key_file: Path, write_settings: Any, cli: Any, store_url: str,
        retry_sleeps: list[float]) -> None:
    seed(fake)
    run = open_cli(cli, write_settings(fhir_connector(fake, key_file, DATE_WINDOW)))
    assert sync(run)["ehr"]["created"] == 10
    fake.tick(minutes=10)
    fake.delete("Appointment/a3")
    move(fake, "Appointment/a4", days=45)
    fake.fail(lambda r: "_id" in r.query, 503, times=5)  # the look-up fails past every retry
    six_hours_pass(store_url)
    failed = sync(run, expect=1)["ehr"]
    assert (failed["deleted"], failed["rescheduled"]) == (0, 0)
    assert "gave up after 5 attempts" in failed["error"] and "nothing was deleted" in failed["error"]
    assert len(lookups(fake)) == 5 and len(retry_sleeps) == 4
    assert statuses(run)["a3"] == statuses(run)["a4"] == "booked"  # neither deleted nor moved yet

    healed = sync(run)["ehr"]  # due at once: a failed sweep keeps its old time
    assert (healed["deleted"], healed["rescheduled"], healed["error"]) == (1, 1, None), healed
    assert "a3" not in statuses(run) and statuses(run)["a4"] == "booked"


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


# -- the look-up itself, at the HTTP boundary (respx) -----------------------------------------------
def by_id(held: set[str], ignore_id: bool = False) -> Callable[[httpx.Request], httpx.Response]:
    """An `_id` search answered as a server does: the Appointments asked for that it holds, with
    the included Patient and Location (or, ignoring `_id`, every one it holds)."""
    def answer(request: httpx.Request) -> httpx.Response:
        asked = query(request)["_id"][0].split(",")
        ids = sorted(held) if ignore_id else [rid for rid in asked if rid in held]
        return ok(bundle([appt(rid) for rid in ids], INCLUDED if ids else ()))
    return answer


def test_the_look_up_is_one_id_search_per_50_shaped_as_the_poll_shapes_records() -> None:
    asked = [f"a{i}" for i in range(120)]
    held = {f"a{i}" for i in range(0, 120, 3)}
    with respx.mock:
        search = respx.get(f"{BASE}/Appointment").mock(side_effect=by_id(held))
        doctor = respx.get(f"{BASE}/Practitioner/d1").mock(return_value=ok(with_meta(practitioner("d1"))))
        connector = make(cursor="date-window", include=["patient", "location"], timezone="America/Chicago",
                         search={"clinic": "north"})
        try:
            lookup = connector.records_by_id(asked)
        finally:
            connector.close()
    sent = [query(call.request) for call in search.calls]
    assert [len(q["_id"][0].split(",")) for q in sent] == [50, 50, 20] and [q["_count"] for q in sent] == [
        ["50"], ["50"], ["20"]]
    assert all(q["_include"] == ["Appointment:patient", "Appointment:location"] and q["clinic"] == ["north"]
               and "date" not in q and "_elements" not in q for q in sent)
    assert sorted(f["id"] for f in lookup.found) == sorted(held) and lookup.rejected == []
    assert sorted(r.record_id or "" for r in lookup.records) == sorted(held)
    record = lookup.records[0]  # as the poll's: participants resolved, the connector's zone, the version
    assert record.data["_patient"]["id"] == "p1" and record.data["_location"]["name"] == "Room l1"
    assert record.data["_practitioner"]["id"] == "d1" and record.data["_timezone"] == "America/Chicago"
    assert record.position == f"Appointment/{record.record_id}/_history/1"
    assert doctor.call_count == 1  # read once for the whole look-up, as in a poll


@pytest.mark.parametrize("refusal", ["refused", "ignores _id"])
def test_a_server_that_refuses_or_ignores_the_id_search_is_read_one_by_one(
        refusal: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("clinicsync.connectors.fhir.connector.LOOKUP_CHUNK", 2)
    held = {"a1": appt("a1"), "a4": appt("a4", status="waitlist")}  # a2 404, a3 410: gone
    with respx.mock:
        search = respx.get(f"{BASE}/Appointment")
        if refusal == "refused":
            search.mock(return_value=httpx.Response(400, json=outcome('Unknown search parameter "_id"')))
        else:  # it answers every Appointment it holds, some not asked for
            search.mock(side_effect=by_id({"a1", "a9"}, ignore_id=True))
        for rid in ("a1", "a2", "a3", "a4"):
            status = 200 if rid in held else 404 if rid == "a2" else 410
            respx.get(f"{BASE}/Appointment/{rid}").mock(
                return_value=ok(held[rid]) if status == 200 else httpx.Response(status, json=outcome("gone")))
        respx.get(url__regex=rf"{BASE}/(Patient|Practitioner|Location)/.*").mock(
            side_effect=lambda request: ok(with_meta({"resourceType": request.url.path.split("/")[-2],
                                                      "id": request.url.path.split("/")[-1]})))
        connector = make(cursor="date-window")
        try:
            lookup = connector.records_by_id(["a1", "a2", "a3", "a4"])
        finally:
            connector.close()
    assert search.call_count == 1  # refused (or ignored) once: the next chunk is read one by one at once
    assert [f["id"] for f in lookup.found] == ["a1", "a4"]  # the waitlist entry is held, not a record
    assert [r.record_id for r in lookup.records] == ["a1"] and lookup.records[0].data["_patient"]["id"] == "p1"
