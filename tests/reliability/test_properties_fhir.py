"""Bad input at scale for the FHIR connector (hypothesis, bounded): searchset pages that
mix the official example Appointments with broken ones, through a real sync run into a
store. No page crashes a run; each bad Appointment is quarantined with a reason that
never repeats its values, the good ones are stored, and a page that is no FHIR JSON
stops the run with a message, after the pages before it and before anything of its own.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from clinicsync.sync.config.settings import Settings, settings_model
from clinicsync.sync.ingest.engine import sync_connector
from clinicsync.sync.ingest.orphans import has_visits, retire_source
from clinicsync.sync.ingest.reports import new_run_id
from clinicsync.sync.store.db import make_engine, upgrade
from clinicsync.sync.store.store import COUNT_KEYS, Store
from tests.conftest import SHARED_FIXTURES
from tests.reliability.test_properties import MARKER, SCALE, no_values_logged, repeats_no_value

BASE = "https://ehr.example.org/fhir/r4"
DELETE = object()  # a mutation that removes the key
BOUNDED = settings(max_examples=int(60 * SCALE), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _official(name: str) -> dict[str, Any]:
    resource: dict[str, Any] = json.loads((SHARED_FIXTURES / "fhir" / f"{name}.json").read_text(encoding="utf-8"))
    return resource


# The official examples: two Appointments with their Patient, Practitioner and Location.
TEMPLATES = [_official("appointment-example"), _official("appointment-example2doctors")]
INCLUDED = [_official(n) for n in ("patient-example", "practitioner-example", "location-1")]

# -- broken values ---------------------------------------------------------------------------
GARBAGE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.just([]), st.just({}),
    st.text(max_size=12).map(lambda t: MARKER + t),
    st.lists(st.text(max_size=4).map(lambda t: MARKER + t), min_size=1, max_size=2),
    st.dictionaries(st.sampled_from(["reference", "coding", "text", "value", MARKER]),
                    st.text(max_size=6).map(lambda t: MARKER + t), max_size=2),
    st.sampled_from([MARKER * 3000, MARKER + "\u202e\U0001f600\x00\ud800", 2 ** 70, -(2 ** 70), 1e308]),
)
BAD_INSTANTS = st.sampled_from([
    "2031-13-01T10:00:00Z", "2031-02-30T10:00:00Z", "2031-06-01T24:61:00Z", "2031-06-01T10:00:00+25:00",
    "2031-06-01T10:00:00+05:99", "0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "yesterday", "", " ",
    "2031-06-01T10:00:00ZZ", "2031-06-01T10:00:00.123456789012Z", "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00", "T10:00", "2031-06-01T",
]).map(lambda v: v + MARKER if v.strip() and v[0] not in "0123456789" else v)
ODD_INSTANTS = st.sampled_from([  # may be read or refused, but never crash
    "2031-03-09T02:30:00", "2031-11-02T01:30:00", "2031-03-30T02:30:00", "2031-06-01", "2031-06",
    "2031", "2031-06-01T10:00:00.5+01:00", "2031-06-01T10:00:00-00:00",
])
REFERENCES = st.sampled_from([
    "Patient/", "/Patient/1", "Patient", "Patient/a/b", "#contained", "urn:uuid:" + MARKER,
    "http://elsewhere.example/Patient/1", BASE + "/Patient/missing", "Patient/missing",
    "patient/example", "Practitioner/missing/_history/9", "PractitionerRole/missing", "Patient/ex ample",
    "Patient/" + MARKER * 400, "Location/missing", "Group/7", "Patient/%2e%2e",
])
# What certainly makes an Appointment unusable (path, value): each must be quarantined.
FATAL = st.one_of(
    st.tuples(st.just(("start",)), st.one_of(GARBAGE, BAD_INSTANTS)),
    st.tuples(st.just(("start",)), st.just(None)).map(lambda t: (t[0], DELETE)),
    st.tuples(st.just(("status",)), st.text(min_size=1, max_size=8).map(lambda t: MARKER + t)),
    st.tuples(st.just(("id",)), st.one_of(st.just(DELETE), st.just(""), st.integers(), st.just([]))),
)
# Anything else: read or refused, never a crash.
ODD = st.one_of(
    st.tuples(st.sampled_from([
        ("end",), ("status",), ("minutesDuration",), ("meta",), ("meta", "versionId"), ("meta", "lastUpdated"),
        ("participant",), ("participant", 0), ("participant", 0, "actor"), ("participant", 1, "type"),
        ("participant", 0, "actor", "reference"), ("appointmentType",), ("appointmentType", "coding"),
        ("serviceType",), ("description",), ("extension",), ("_start",),
    ]), GARBAGE),
    st.tuples(st.sampled_from([("start",), ("end",), ("meta", "lastUpdated")]), ODD_INSTANTS),
    st.tuples(st.sampled_from([("participant", 0, "actor", "reference"), ("participant", 1, "actor", "reference"),
                               ("participant", 2, "actor", "reference")]), REFERENCES),
    st.tuples(st.just(("extension",)), st.just([{"url": "http://hl7.org/fhir/StructureDefinition/timezone",
                                                 "valueCode": "Europe/" + MARKER}])),
)


def _set(resource: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    """Put ``value`` at ``path``, creating what is missing; DELETE removes the key."""
    node: Any = resource
    for step in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(step, {})
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            return  # an earlier mutation replaced the container: nothing to do
    last = path[-1]
    if isinstance(node, dict):
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node) and value is not DELETE:
        node[last] = value


# -- what a page holds -------------------------------------------------------------------------
@dataclass
class Page:
    entries: list[Any] = field(default_factory=list)
    valid: set[str] = field(default_factory=set)
    fatal: set[str] = field(default_factory=set)
    odd: set[str] = field(default_factory=set)
    body: bytes | None = None  # not a Bundle at all: the run must stop here


@st.composite
def appointment_entry(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    """('valid' | 'fatal' | 'odd', id, entry) from an official example."""
    kind = draw(st.sampled_from(["valid", "valid", "fatal", "odd"]))
    resource = copy.deepcopy(draw(st.sampled_from(TEMPLATES)))
    rid = f"{kind[0]}{uuid.uuid4().hex[:10]}"
    resource["id"] = rid
    resource["meta"] = {"versionId": "1", "lastUpdated": "2026-01-10T09:00:00Z"}
    if kind != "valid":
        mutations = draw(st.lists(ODD, max_size=3))
        if kind == "fatal":
            mutations.append(draw(FATAL))
        for path, value in mutations:
            _set(resource, path, value)
    entry: dict[str, Any] = {"fullUrl": f"{BASE}/Appointment/{rid}", "resource": resource,
                             "search": {"mode": "match"}}
    return kind, rid, entry


JUNK_ENTRIES: st.SearchStrategy[Any] = st.sampled_from([
    {}, {"fullUrl": f"{BASE}/Appointment/gone"}, {"resource": None}, {"resource": "Appointment"},
    {"resource": [1, 2]}, "an entry", 7, None, [],
    {"resource": {"resourceType": "OperationOutcome",
                  "issue": [{"severity": "warning", "code": "processing", "diagnostics": MARKER}]},
     "search": {"mode": "outcome"}},
    {"resource": {"resourceType": "OperationOutcome", "issue": MARKER}, "search": {"mode": "outcome"}},
    {"resource": {"resourceType": "Observation", "id": "obs1", "status": "final"}, "search": {"mode": "include"}},
    {"resource": {"resourceType": "Patient", "id": "example", "name": MARKER}, "search": {"mode": "include"},
     "_note": "an included Patient with another's id is ignored by type-safe lookups"},
    {"resource": {"resourceType": "Patient", "id": 5}, "search": {"mode": "include"}},
    {"resource": {"resourceType": None, "id": "x"}},
    {"resource": {"resourceType": "Appointment", "id": "inc1", "start": MARKER}, "search": {"mode": "include"}},
    {"resource": {"resourceType": "Practitioner", "id": "missing", "name": [{"family": 7}]},
     "search": {"mode": "include"}},
    {"resource": {"resourceType": "Location", "id": "missing", "name": ["Room", 3]}, "search": {"mode": "include"}},
    {"resource": {"resourceType": "PractitionerRole", "id": "missing", "practitioner": MARKER},
     "search": {"mode": "include"}},
])
NOT_A_BUNDLE = st.sampled_from([
    b"", b"<html><body>502 Bad Gateway</body></html>", b'{"resourceType": "Bundle", "entry": [{"resou',
    b"[]", b"null", b'"Bundle"', b'{"entry": []}', b"\xff\xfe\x00garbage", b'{"resourceType": "OperationOutcome"}',
    b'{"resourceType": "Patient", "id": "x"}',
])


@st.composite
def pages(draw: st.DrawFn) -> list[Page]:
    result: list[Page] = []
    for _ in range(draw(st.integers(1, 3))):
        page = Page()
        for kind, rid, entry in draw(st.lists(appointment_entry(), max_size=6)):
            page.entries.append(entry)
            {"valid": page.valid, "fatal": page.fatal, "odd": page.odd}[kind].add(rid)
        junk = draw(st.lists(JUNK_ENTRIES, max_size=3))
        for item in junk:
            page.entries.insert(draw(st.integers(0, len(page.entries))), copy.deepcopy(item))
        result.append(page)
    if draw(st.booleans()) and draw(st.booleans()):
        result.insert(draw(st.integers(1, len(result))), Page(body=draw(NOT_A_BUNDLE)))
    return result


def _bundle(page: Page, next_url: str | None) -> bytes:
    if page.body is not None:
        return page.body
    links = [{"relation": "self", "url": f"{BASE}/Appointment"}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    entries = page.entries + [{"resource": r, "search": {"mode": "include"}} for r in INCLUDED]
    return json.dumps({"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}).encode()


# -- the run ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('props-fhir') / 'store.db'}")
    upgrade(engine)
    yield Store(engine)
    engine.dispose()


def _settings(name: str) -> Settings:
    data = {"clinic": {"timezone": "Australia/Melbourne", "default_region": "AU"}, "connectors": [
        {"name": name, "kind": "fhir", "mapping": "fhir_r4", "base_url": BASE, "page_size": 10}]}
    return settings_model().model_validate(data)


def _serve(served: list[Page]) -> respx.MockRouter:
    """A server answering the search, its next links, and 404 for any other read."""
    router = respx.mock(assert_all_called=False)
    urls = [f"{BASE}/Appointment"] + [f"{BASE}?_getpages=s1&_getpagesoffset={n}" for n in range(1, len(served))]
    for n, page in enumerate(served):
        next_url = urls[n + 1] if n + 1 < len(urls) else None
        route = router.get(url__startswith=urls[n]) if n == 0 else router.get(urls[n])
        route.mock(return_value=httpx.Response(200, content=_bundle(page, next_url),
                                               headers={"Content-Type": "application/fhir+json"}))
    router.route().mock(return_value=httpx.Response(404, json={
        "resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}))
    return router


def _rows(store: Store, sql: str, name: str) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(text(sql), {"c": name}))


def _example(rid: str, **changes: Any) -> dict[str, Any]:
    """An entry for an @example: the first official Appointment with ``changes``."""
    resource = {**copy.deepcopy(TEMPLATES[0]), "id": rid, **changes}
    return {"resource": {k: v for k, v in resource.items() if v is not DELETE}, "search": {"mode": "match"}}


@given(pages())
@example([Page(entries=[_example("v1", appointmentType={"text": "Check\ud800up"}),
                        _example("f1", start=DELETE, description="MRI\udfff" + MARKER)],
               valid={"v1"}, fatal={"f1"})])
@example([Page(entries=[{"resource": {"resourceType": "Appointment", "id": "e1"}, "search": "match"}],
               odd={"e1"})])
@BOUNDED
def test_any_searchset_is_synced_without_crashing(store: Store, served: list[Page]) -> None:
    """Each example syncs a new source into the one store, retired after it as an admin retires a
    source gone for good: otherwise a visit an example stored ahead (an odd start in 2031) makes
    the next example's first run refused as a likely rename (sync/ingest/orphans.py), which is right,
    and not this test's point (1 in a few runs, by the draw)."""
    name = f"f{uuid.uuid4().hex[:12]}"
    try:
        _sync_and_check(store, served, name)
    finally:
        with store.engine.connect() as connection:
            stored = has_visits(connection, name)
        if stored:  # a source that stored no visit can make no refusal (and cannot be retired)
            retire_source(store.engine, name, ())


def _sync_and_check(store: Store, served: list[Page], name: str) -> None:
    config = _settings(name)
    with _serve(served), no_values_logged("reference"):  # a reference names a resource, by design
        report = sync_connector(config, store, config.connectors[0], new_run_id())
    broken = next((n for n, page in enumerate(served) if page.body is not None), None)
    read = served if broken is None else served[:broken]
    valid = set().union(*(p.valid for p in read))
    fatal = set().union(*(p.fatal for p in read))
    odd = set().union(*(p.odd for p in read))
    unread = set().union(*(p.valid | p.fatal | p.odd for p in served[len(read):]))

    if broken is None:
        assert report.error is None, report.error
    else:  # a clean connector error that names no content, not a crash
        assert report.error and not report.error.startswith("internal error"), report.error
        assert MARKER not in report.error
    counts = report.counts.as_dict()
    event(f"broken page: {broken is not None}; stored: {bool(valid)}; quarantined: {counts['quarantined'] > 0}")
    assert counts["fetched"] == sum(counts[k] for k in COUNT_KEYS if k != "fetched")
    stored = {r[0] for r in _rows(store, "SELECT external_id FROM appointment WHERE connector = :c", name)}
    quarantine = _rows(store, "SELECT record_id, reason, position, seen_count FROM quarantine WHERE connector = :c",
                       name)
    assert valid <= stored  # every good appointment is stored
    assert not stored & fatal and not stored & unread  # nothing of a page after a broken one
    assert stored <= valid | odd
    # Every sighting is recorded; unnamed records that say the same (two empty entries) share an item.
    assert sum(q[3] for q in quarantine) == counts["quarantined"]
    # A Bundle entry that holds no resource is reported by its position (issue 18), beside the
    # appointments; each bad appointment is seen exactly once: by its id, or by what it says.
    sightings = sum(q[3] for q in quarantine if not (q[1].startswith("Bundle entry") and q[0] is None))
    assert sightings == len(fatal | (odd - stored)), (quarantine, fatal, odd - stored)
    assert {r[0] for r in quarantine if r[0]} <= fatal | odd
    for _, reason, _, _ in quarantine:
        assert reason and repeats_no_value(reason), reason
        assert not reason.startswith("unexpected"), reason
    cursor = [json.loads(r[0]) for r in _rows(store, "SELECT cursor FROM connectorstate WHERE connector = :c", name)]
    if broken == 0:
        assert not cursor
    elif broken is not None:  # resumes at the broken page, never past it
        assert cursor[0]["listing"]["next"].endswith(f"_getpagesoffset={broken}")

