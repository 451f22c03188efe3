"""The fhir connector against respx: paging, includes and reference reads, the
cursor and its overlap, crash resume, retries with Retry-After, errors, check()."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from clinicsync.connectors.base import Batch, FatalConnectorError, RetriableConnectorError
from clinicsync.connectors.fhir import FhirConnector
from clinicsync.connectors.fhir.client import FhirClient
from clinicsync.connectors.fhir.settings import FhirSettings
from tests.connectors.fhir_fake import appointment, location, patient, practitioner, with_meta

BASE = "https://ehr.example.org/fhir/r4"
DATE = "Sat, 10 Jan 2026 12:00:00 GMT"  # the server's clock in these tests
SERVER_NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def make(**overrides: Any) -> FhirConnector:
    return FhirConnector(FhirSettings.model_validate({"name": "ehr", "base_url": BASE, **overrides}))


def appt(aid: str, version: str = "1", updated: str = "2026-01-10T09:00:00Z", doctor: str = "d1",
         start: datetime | None = None, **kw: Any) -> dict[str, Any]:
    start = start or SERVER_NOW + timedelta(days=2)
    return with_meta(appointment(aid, start, "p1", doctor, "l1", **kw), version, updated)


def bundle(appointments: list[dict[str, Any]], includes: tuple[dict[str, Any], ...] = (),
           next_url: str | None = None) -> dict[str, Any]:
    entries = [{"resource": a, "search": {"mode": "match"}} for a in appointments]
    entries += [{"resource": r, "search": {"mode": "include"}} for r in includes]
    links = [{"relation": "self", "url": f"{BASE}/Appointment"}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}


def ok(body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.Response(200, json=body, headers={"Date": DATE, **headers})


def query(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(request.url)).query)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def run(connector: FhirConnector, cursor: dict[str, Any] | None = None) -> list[Batch]:
    return list(connector.fetch(cursor))


def join_read_ahead() -> None:
    """Wait for the connector's read-ahead threads, so request counts are final."""
    for thread in threading.enumerate():
        if thread.name.startswith("fhir-prefetch-"):
            thread.join(timeout=10)


INCLUDED = (with_meta(patient("p1")), with_meta(location("l1")))
WITH_DOCTOR = (*INCLUDED, with_meta(practitioner("d1")))


# -- paging and references ------------------------------------------------------------------
@respx.mock
def test_pages_follow_next_links_and_each_page_is_a_batch() -> None:
    page2, page3 = f"{BASE}?_getpages=s1&_getpagesoffset=2", f"{BASE}?_getpages=s1&_getpagesoffset=4"
    search = respx.get(f"{BASE}/Appointment").mock(return_value=ok(bundle([appt("a1"), appt("a2")], INCLUDED, page2)))
    respx.get(page2).mock(return_value=ok(bundle([appt("a3"), appt("a4", doctor="d2")], INCLUDED, page3)))
    respx.get(page3).mock(return_value=ok(bundle([appt("a5", doctor="d2")], INCLUDED)))
    d1 = respx.get(f"{BASE}/Practitioner/d1").mock(return_value=ok(with_meta(practitioner("d1"))))
    d2 = respx.get(f"{BASE}/Practitioner/d2").mock(return_value=ok(with_meta(practitioner("d2"))))
    connector = make(include=["patient", "location"], page_size=2)

    batches = run(connector)

    assert [[r.record_id for r in b.records] for b in batches] == [["a1", "a2"], ["a3", "a4"], ["a5"]]
    assert [b.source for b in batches] == ["Appointment page 1", "Appointment page 2", "Appointment page 3"]
    first = batches[0].records[0]
    assert first.position == "Appointment/a1/_history/1"
    assert first.data["_patient"]["id"] == "p1" and first.data["_location"]["name"] == "Room l1"
    assert first.data["_practitioner"]["id"] == "d1"
    assert d1.call_count == 1 and d2.call_count == 1  # once per run, not once per appointment
    # Mid-listing cursors keep the high-water mark and remember where to resume.
    assert batches[0].cursor is not None and batches[0].cursor["since"] is None
    assert batches[0].cursor["listing"]["next"] == page2
    assert batches[1].cursor is not None and batches[1].cursor["listing"]["next"] == page3
    # The last page moves the mark to when the listing began (the server's Date).
    assert batches[2].cursor == {"v": 1, "mode": "last-updated", "since": "2026-01-10T12:00:00Z",
                                 "seen": {}, "listing": None}
    params = query(search.calls[0].request)
    assert params["_count"] == ["2"]
    assert params["_include"] == ["Appointment:patient", "Appointment:location"]
    assert len(params["date"]) == 2 and "_lastUpdated" not in params  # the first run reads the window


@respx.mock
def test_first_run_window_and_extra_search_parameters() -> None:
    search = respx.get(f"{BASE}/Appointment").mock(return_value=ok(bundle([])))
    run(make(window={"back": "2d", "ahead": "30d"}, search={"status": "booked,cancelled", "actor": ["Location/1"]}))
    params = query(search.calls[0].request)
    low, high = sorted(params["date"])
    now = datetime.now(UTC)
    assert low.startswith("ge") and high.startswith("lt")
    assert abs(_instant(low[2:]) - (now - timedelta(days=2))) < timedelta(minutes=1)
    assert abs(_instant(high[2:]) - (now + timedelta(days=30))) < timedelta(minutes=1)
    assert params["status"] == ["booked,cancelled"] and params["actor"] == ["Location/1"]


@respx.mock
def test_next_run_reads_since_the_mark_minus_the_overlap_and_skips_stored_versions() -> None:
    respx.get(f"{BASE}/Appointment").mock(side_effect=[
        ok(bundle([appt("a1", updated="2026-01-10T11:59:30Z"), appt("a2", updated="2026-01-10T08:00:00Z")],
                  WITH_DOCTOR)),
        ok(bundle([appt("a1", updated="2026-01-10T11:59:30Z"),  # the boundary, re-read: same version
                   appt("a3", updated="2026-01-10T11:59:50Z"),  # committed late, stamped before the mark
                   appt("a4", version="2", updated="2026-01-10T12:03:00Z")],
                  WITH_DOCTOR), Date="Sat, 10 Jan 2026 12:05:00 GMT"),
    ])
    connector = make(overlap_seconds=60)
    first = run(connector)
    assert first[-1].cursor is not None
    assert first[-1].cursor["seen"] == {"a1": "1"}  # only what the next overlap will re-read

    second = run(connector, first[-1].cursor)

    request = respx.calls[-1].request
    assert query(request)["_lastUpdated"] == ["gt2026-01-10T11:59:00Z"] and "date" not in query(request)
    assert [r.record_id for r in second[0].records] == ["a3", "a4"]
    assert second[-1].cursor is not None and second[-1].cursor["since"] == "2026-01-10T12:05:00Z"


@respx.mock
def test_a_new_version_at_the_boundary_is_not_mistaken_for_a_duplicate() -> None:
    respx.get(f"{BASE}/Appointment").mock(return_value=ok(bundle(
        [appt("a1", version="2", updated="2026-01-10T11:59:30Z")], WITH_DOCTOR)))
    cursor = {"v": 1, "mode": "last-updated", "since": "2026-01-10T11:59:45Z", "seen": {"a1": "1"}, "listing": None}
    batches = run(make(), cursor)
    assert [r.position for r in batches[0].records] == ["Appointment/a1/_history/2"]


@respx.mock
def test_without_version_ids_the_content_hash_recognises_duplicates() -> None:
    plain = appt("a1", updated="2026-01-10T11:59:30Z")
    del plain["meta"]["versionId"]
    respx.get(f"{BASE}/Appointment").mock(return_value=ok(bundle([plain], WITH_DOCTOR)))
    connector = make()
    first = run(connector, {"v": 1, "mode": "last-updated", "since": "2026-01-10T11:00:00Z", "seen": {},
                            "listing": None})
    assert len(first[0].records) == 1 and first[0].records[0].position == "Appointment/a1"
    assert first[-1].cursor is not None and first[-1].cursor["seen"]["a1"].startswith("h:")
    assert run(connector, first[-1].cursor)[0].records == []


# -- resuming after a crash -----------------------------------------------------------------
@respx.mock
def test_a_crash_mid_listing_resumes_at_the_stored_next_link() -> None:
    page2 = f"{BASE}?_getpages=s1&_getpagesoffset=1"
    search = respx.get(f"{BASE}/Appointment").mock(return_value=ok(bundle([appt("a1")], INCLUDED, page2)))
    second_page = respx.get(page2).mock(return_value=ok(bundle([appt("a2")], INCLUDED)))
    respx.get(f"{BASE}/Practitioner/d1").mock(return_value=ok(practitioner("d1")))
    connector = make()
    listing = connector.fetch(None)
    stored = next(listing).cursor  # page 1 stored, then the process died
    listing.close()
    join_read_ahead()
    assert second_page.call_count == 1  # page 2 was read ahead while page 1 was stored, then dropped

    resumed = run(connector, stored)

    assert search.call_count == 1 and second_page.call_count == 2  # resumed at the link, not a new search
    assert [r.record_id for r in resumed[0].records] == ["a2"]
    assert resumed[-1].cursor is not None and resumed[-1].cursor["since"] == "2026-01-10T12:00:00Z"


@respx.mock
def test_a_forgotten_search_starts_the_listing_over_without_moving_the_mark() -> None:
    page2 = f"{BASE}?_getpages=gone&_getpagesoffset=1"
    respx.get(page2).mock(return_value=httpx.Response(410, json={"resourceType": "OperationOutcome", "issue": []}))
    search = respx.get(f"{BASE}/Appointment").mock(return_value=ok(bundle([appt("a1")], INCLUDED)))
    respx.get(f"{BASE}/Practitioner/d1").mock(return_value=ok(practitioner("d1")))
    cursor = {"v": 1, "mode": "last-updated", "since": "2026-01-09T00:00:00Z", "seen": {},
              "listing": {"next": page2, "started": "2026-01-10T11:00:00Z", "pages": 1, "boundary": {}}}

    batches = run(make(overlap_seconds=0), cursor)

    assert query(search.calls[0].request)["_lastUpdated"] == ["gt2026-01-09T00:00:00Z"]
    assert [r.record_id for r in batches[0].records] == ["a1"]


@pytest.mark.parametrize("link", [
    "https://evil.example/fhir/r4?page=2",  # another host
    "http://ehr.example.org/fhir/r4?page=2",  # our host without TLS
    "https://ehr.example.org/fhir/r4-other/Appointment?page=2",  # beside our base, not under it
])
@respx.mock
def test_a_next_link_outside_base_url_is_refused(link: str) -> None:
    respx.get(f"{BASE}/Appointment").mock(return_value=ok(bundle([], next_url=link)))
    elsewhere = respx.get(link.split("?")[0]).mock(return_value=ok(bundle([])))
    with pytest.raises(FatalConnectorError, match="outside base_url"):
        run(make())
    assert elsewhere.call_count == 0


def test_links_and_paths_under_base_url_are_followed() -> None:
    client = FhirClient("t", BASE)
    assert client.url(f"{BASE}?_getpages=x") == f"{BASE}?_getpages=x"
    assert client.url(f"{BASE}/Appointment?page=2") == f"{BASE}/Appointment?page=2"
    assert client.url("Patient/7") == f"{BASE}/Patient/7"


@respx.mock
def test_a_cursor_of_the_other_mode_starts_afresh() -> None:
    search = respx.get(f"{BASE}/Appointment").mock(return_value=ok(bundle([])))
    old = {"v": 1, "mode": "last-updated", "since": "2026-01-09T00:00:00Z", "seen": {}, "listing": None}
    batches = run(make(cursor="date-window"), old)
    assert "_lastUpdated" not in query(search.calls[0].request)
    assert batches[-1].cursor is not None and batches[-1].cursor["mode"] == "date-window"


@respx.mock
def test_date_window_mode_reads_the_window_every_run_and_yields_everything() -> None:
    search = respx.get(f"{BASE}/Appointment").mock(return_value=ok(bundle([appt("a1")], INCLUDED)))
    respx.get(f"{BASE}/Practitioner/d1").mock(return_value=ok(practitioner("d1")))
    connector = make(cursor="date-window")
    first = run(connector)
    second = run(connector, first[-1].cursor)
    assert len(second[0].records) == 1
    for call in search.calls:
        assert len(query(call.request)["date"]) == 2 and "_lastUpdated" not in query(call.request)


@respx.mock
def test_entries_are_sorted_into_matches_includes_and_rejects() -> None:
    role = {"resourceType": "PractitionerRole", "id": "r1", "practitioner": {"reference": "Practitioner/d9"}}
    with_role = appt("a2")
    with_role["participant"][1]["actor"]["reference"] = "PractitionerRole/r1"
    no_id = appt("x")
    del no_id["id"]
    page = bundle([appt("a1"), with_role, no_id], (*INCLUDED, practitioner("d1"), role, practitioner("d9")))
    page["entry"].append({"resource": {"resourceType": "OperationOutcome", "issue": [{"severity": "warning"}]},
                          "search": {"mode": "outcome"}})
    respx.get(f"{BASE}/Appointment").mock(return_value=ok(page))
    [batch] = run(make())
    assert [r.record_id for r in batch.records] == ["a1", "a2"]
    assert batch.records[1].data["_practitioner"]["id"] == "d9"  # through the PractitionerRole
    assert [(r.position, r.reason) for r in batch.rejected] == [("Appointment page 1 entry 2",
                                                                 "Appointment without an id")]


@respx.mock
def test_timezone_setting_travels_with_each_record() -> None:
    respx.get(f"{BASE}/Appointment").mock(return_value=ok(bundle([appt("a1")], WITH_DOCTOR)))
    [batch] = run(make(timezone="America/Chicago"))
    assert batch.records[0].data["_timezone"] == "America/Chicago"


# -- retries --------------------------------------------------------------------------------
@respx.mock
def test_429_honours_retry_after_and_503_backs_off(retry_sleeps: list[float]) -> None:
    respx.get(f"{BASE}/Appointment").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(503),
        httpx.ReadTimeout("slow"),
        ok(bundle([])),
    ])
    batches = run(make(retry={"attempts": 5, "max_wait_seconds": 30}))
    assert len(batches) == 1
    assert retry_sleeps[0] == 7 and len(retry_sleeps) == 3
    assert all(0 <= wait <= 30 for wait in retry_sleeps[1:])


@respx.mock
def test_retry_after_as_a_date_and_the_cap(retry_sleeps: list[float]) -> None:
    later = (datetime.now(UTC) + timedelta(hours=2)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    respx.get(f"{BASE}/Appointment").mock(side_effect=[
        httpx.Response(503, headers={"Retry-After": later}), ok(bundle([]))])
    run(make(retry={"max_wait_seconds": 45}))
    assert retry_sleeps == [45]


@respx.mock
def test_passing_faults_that_outlast_the_retries_are_retriable(retry_sleeps: list[float]) -> None:
    route = respx.get(f"{BASE}/Appointment").mock(return_value=httpx.Response(502))
    with pytest.raises(RetriableConnectorError, match=r"GET Appointment answered HTTP 502 \(gave up after 3 attempts"):
        run(make(retry={"attempts": 3}))
    assert route.call_count == 3 and len(retry_sleeps) == 2


@respx.mock
def test_a_failure_mid_paging_keeps_the_stored_pages(retry_sleeps: list[float]) -> None:
    page2 = f"{BASE}?_getpages=s1&_getpagesoffset=1"
    respx.get(f"{BASE}/Appointment").mock(return_value=ok(bundle([appt("a1")], WITH_DOCTOR,
                                                                 page2)))
    respx.get(page2).mock(side_effect=httpx.ConnectError("refused"))
    stored: list[Batch] = []
    fetch: Iterator[Batch] = make(retry={"attempts": 2}).fetch(None)
    with pytest.raises(RetriableConnectorError, match="ConnectError"):
        for batch in fetch:
            stored.append(batch)
    assert len(stored) == 1 and stored[0].cursor is not None
    assert stored[0].cursor["listing"]["next"] == page2 and stored[0].cursor["since"] is None


# -- errors ---------------------------------------------------------------------------------
@respx.mock
def test_a_4xx_names_the_operation_outcome_diagnostics(retry_sleeps: list[float]) -> None:
    respx.get(f"{BASE}/Appointment").mock(return_value=httpx.Response(400, json={
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "processing",
                   "diagnostics": "Unknown search parameter \"clinic\" for resource type \"Appointment\""}]}))
    with pytest.raises(FatalConnectorError) as caught:
        run(make(search={"clinic": "x"}))
    assert str(caught.value) == ('connector ehr: GET Appointment answered HTTP 400: error: Unknown search '
                                 'parameter "clinic" for resource type "Appointment"')
    assert retry_sleeps == []  # a refusal is not retried


@respx.mock
def test_a_403_without_an_outcome_suggests_the_scope() -> None:
    respx.get(f"{BASE}/Appointment").mock(return_value=httpx.Response(403, text="forbidden"))
    with pytest.raises(FatalConnectorError, match=r"HTTP 403: the client is not allowed.*scopes"):
        run(make())


@respx.mock
def test_a_redirect_is_not_followed_and_hints_at_base_url() -> None:
    respx.get(f"{BASE}/Appointment").mock(return_value=httpx.Response(
        301, headers={"Location": "https://ehr.example.org/fhir/r4/Appointment"}))
    with pytest.raises(FatalConnectorError, match=r"HTTP 301: the server redirects elsewhere \(check base_url"):
        run(make())


@respx.mock
def test_an_answer_that_is_not_fhir_json_is_named() -> None:
    respx.get(f"{BASE}/Appointment").mock(return_value=httpx.Response(
        200, text="<html>login</html>", headers={"Content-Type": "text/html"}))
    with pytest.raises(FatalConnectorError, match=r"did not answer FHIR JSON \(text/html\)"):
        run(make())


@respx.mock
def test_a_reference_read_that_fails_otherwise_stops_the_connector() -> None:
    respx.get(f"{BASE}/Appointment").mock(return_value=ok(bundle([appt("a1")], INCLUDED)))
    respx.get(f"{BASE}/Practitioner/d1").mock(return_value=httpx.Response(400))
    with pytest.raises(FatalConnectorError, match="GET Practitioner/d1 answered HTTP 400"):
        run(make())


# -- check ----------------------------------------------------------------------------------
def capability(params: list[str]) -> dict[str, Any]:
    return {"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1", "software": {"name": "EHR"},
            "rest": [{"mode": "server", "resource": [{
                "type": "Appointment", "interaction": [{"code": "search-type"}],
                "searchParam": [{"name": p} for p in params]}]}]}


@respx.mock
def test_check_reports_search_and_last_updated_support() -> None:
    respx.get(f"{BASE}/metadata").mock(return_value=ok(capability(["_lastUpdated", "date", "patient"])))
    probe = respx.get(f"{BASE}/Appointment").mock(return_value=ok(bundle([]) | {"total": 12}))
    result = make().check()
    assert result.ok, result.detail
    assert result.detail == ("FHIR 4.0.1 (EHR); Appointment search: yes; _lastUpdated: yes; date: yes; "
                             "search ok (12 in the window); resources deleted at the server are found by the "
                             "delete sweep (every 6h)")
    assert query(probe.calls[0].request)["_count"] == ["1"]


@respx.mock
def test_check_says_to_use_the_date_window_when_last_updated_is_missing() -> None:
    respx.get(f"{BASE}/metadata").mock(return_value=ok(capability(["date", "patient"])))
    respx.get(f"{BASE}/Appointment").mock(return_value=ok(bundle([])))
    result = make().check()
    assert not result.ok and "_lastUpdated: no" in result.detail and "cursor: date-window" in result.detail
    assert make(cursor="date-window").check().ok


@respx.mock
def test_check_reports_an_unreachable_server(retry_sleeps: list[float]) -> None:
    respx.get(f"{BASE}/metadata").mock(side_effect=httpx.ConnectError("refused"))
    result = make(retry={"attempts": 1}).check()
    assert not result.ok and "GET metadata failed (ConnectError)" in result.detail
