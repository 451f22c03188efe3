"""The generated mapping code (codegen.py, pathcode.py) against the interpreted engine, the
reference: every shipped mapping on generated CSV rows, the JSON and HL7 fixtures and
hypothesis-mutated records must give the same appointment (every field, notes included)
or the same error, message and all."""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinicsync.connectors.hl7v2.parse import decode, parse_message, split_messages
from clinicsync.mappings import codegen, codememo
from clinicsync.mappings.engine import CompiledMapping, load_mapping
from clinicsync.mappings.pathcode import PATH_NAMESPACE, Constants, path_source
from clinicsync.mappings.paths import compile_path, compile_values
from clinicsync.mappings.preset_files import PRESETS_DIR
from clinicsync.mappings.preset_schema import MappingPreset
from clinicsync.mappings.record_kind import mapping_record
from clinicsync.sync.cli.demo import generate_rows

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# Waitlist mappings (record: waitlist) are compiled by mappings/waitlist.py, not this engine.
SHIPPED = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml") if mapping_record(p.stem) == "appointment")
MAPPINGS = {name: load_mapping(name, "America/New_York", "US") for name in SHIPPED}


def outcome(apply: Any, record: Any) -> tuple[Any, ...]:
    """What a mapping gives: the appointment (its repr shows every field, zones included), or
    the error's type, message, field and reason."""
    try:
        appointment = apply(record)
    except Exception as exc:  # every kind: the generated code must fail as the reference does
        return ("error", type(exc).__name__, str(exc), getattr(exc, "field", None), getattr(exc, "reason", None))
    return ("ok", repr(appointment), appointment)


def assert_same(mapping: CompiledMapping, record: Any) -> None:
    reference = outcome(mapping.apply_interpreted, record)  # a mapping never changes its record
    generated = outcome(mapping.apply, record)
    assert generated == reference, f"{mapping.preset.name} on {record!r}"


def _appointments(document: Any, found: list[dict[str, Any]], resources: dict[str, dict[str, Any]]) -> None:
    if isinstance(document, dict):
        kind = document.get("resourceType")
        if isinstance(kind, str) and isinstance(document.get("id"), str):
            resources[f"{kind}/{document['id']}"] = document
        if kind == "Appointment":
            found.append(document)
        for value in document.values():
            _appointments(value, found, resources)
    elif isinstance(document, list):
        for value in document:
            _appointments(value, found, resources)


def json_records() -> list[dict[str, Any]]:
    """Every JSON fixture as it is, and every Appointment in them enriched the way the FHIR
    connector does (the participants found in any fixture under _patient, _practitioner and
    _location; a _timezone setting on every other one)."""
    documents = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(FIXTURES.rglob("*.json"))]
    found: list[dict[str, Any]] = []
    resources: dict[str, dict[str, Any]] = {}
    for document in documents:
        _appointments(document, found, resources)
    records: list[dict[str, Any]] = [d for d in documents if isinstance(d, dict)]
    keys = {"Patient": "_patient", "Practitioner": "_practitioner", "Location": "_location"}
    pools = {key: [r for name, r in sorted(resources.items()) if name.startswith(f"{kind}/")]
             for kind, key in keys.items()}
    for number, appointment in enumerate(found):
        record = dict(appointment)
        for participant in appointment.get("participant", []):
            reference = "/".join(str((participant.get("actor") or {}).get("reference", "")).split("/")[-2:])
            key = keys.get(reference.split("/")[0])
            if key and reference in resources:
                record[key] = resources[reference]
        records.append(dict(record))
        for key, pool in pools.items():  # and with participants from elsewhere, as a richer case
            if key not in record and pool:
                record[key] = pool[number % len(pool)]
        if number % 2:
            record["_timezone"] = "Europe/Madrid"
        records.append(record)
    return records


def hl7_records() -> list[dict[str, Any]]:
    records = []
    for path in sorted(FIXTURES.rglob("*.hl7")):
        for message in split_messages(decode(path.read_bytes(), "auto")):
            try:
                records.append(dict(parse_message(message).record))
            except ValueError:
                continue
    return records


def csv_records() -> list[dict[str, str]]:
    rows = generate_rows(date(2026, 3, 2), days=21)  # across the spring-forward change, bad rows included
    for mode in ("", "zoom", "carrier pigeon"):  # telehealth columns: a mode, a link, a number, or some
        for link in ("", "https://meet.example.org/j/1", "http://meet.example.org/j/1"):
            for number in ("", "+13125550199", "555-12"):
                rows.append({**rows[0], "visit_mode": mode, "join_url": link, "dial_in": number})
    for path in sorted(FIXTURES.rglob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows.extend(dict(row) for row in csv.DictReader(handle))
    return rows


RECORDS = {"csv": csv_records(), "json": json_records(), "hl7": hl7_records()}


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_generated_code_maps_every_record_as_the_interpreted_engine(name: str, kind: str) -> None:
    mapping = MAPPINGS[name]
    assert RECORDS[kind]
    for record in RECORDS[kind]:
        assert_same(mapping, record)
    for record in RECORDS[kind]:  # again, now from the memos
        assert_same(mapping, record)


def test_memos_that_start_over_give_the_same_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codegen, "MEMO_LIMIT", 3)
    monkeypatch.setattr(codememo, "MEMO_LIMIT", 3)
    monkeypatch.setattr(codegen, "DATETIME_MEMO_LIMIT", 2)
    monkeypatch.setattr(codememo, "GROUP_TEXT_LIMIT", 500)
    for name, kind in (("csv_default", "csv"), ("fhir_r4", "json")):
        mapping = load_mapping(name, "America/New_York", "US")
        for record in RECORDS[kind][:300] * 2:
            assert_same(mapping, record)


# Durations as a CSV gives them (text) and as JSON or a custom connector might (numbers, a boolean):
# repeated (kept by codememo.span_of), out of timedelta's range, past the date-time range, or no duration.
DURATIONS = ["30", "30", "15", " 45 ", "0", "-5", "30", "99999999999", "1000000000", "1e400", "45 min", "n/a",
             30, 30, 15, True, 2.5, 10**20, -(10**9), 0, 30]


@pytest.mark.parametrize("limit", [3, 65_536])
def test_durations_kept_by_their_memo_map_as_the_interpreted_engine(monkeypatch: pytest.MonkeyPatch,
                                                                    limit: int) -> None:
    """The generated code takes ``timedelta(minutes=…)`` of an int duration from ``_spans``
    (issue 32): the same end, the same errors (out of range, end not after start, not a
    duration), warm, cold and with the memo starting over."""
    monkeypatch.setattr(codegen, "MEMO_LIMIT", limit)
    monkeypatch.setattr(codememo, "MEMO_LIMIT", limit)
    mapping = load_mapping("csv_default", "America/New_York", "US")
    spans = mapping._generated.__globals__["_spans"]  # type: ignore[attr-defined]
    spans.clear()
    for record in RECORDS["csv"][:40]:
        for duration in DURATIONS * 2:
            assert_same(mapping, {**record, "end": "", "duration_minutes": duration})
    assert spans and all(type(key) is int for key in spans) and len(spans) <= max(limit, 3)
    assert all(value == timedelta(minutes=key) for key, value in spans.items())


# Values that each break a rule somewhere: blanks, dates that are not, phones that are not,
# words no status map knows, control characters, zones, links, numbers out of range.
TRICKY = st.sampled_from([
    "", " ", "\t", "n/a", "None", "2027-02-30 09:00", "31/12/2027 9am", "next tuesday-ish", "2026-03-08 02:30",
    "2026-11-01 01:30", "9999-12-31T23:59-12:00", "0001-01-01T00:00+01:00", "2026-07-01T09:00Z", "555-12",
    "(212) 555", "+12125550123", "whatsapp:+12125550123", "perhaps", " CANCELLED ", "no-show", "Booked", "x",
    "Ana Ruiz +1 212 555 0123", "Mars/Base", "America/Chicago", "-5", "1e400", "nan", "0", "45 min",
    "video", "zoom", "tel:+12125550123", "https://meet.example.org/j/1", "javascript:alert(1)", "es", "Spanish",
    "151", "a@b.example", "not-an-email", "sms", "yes", "maybe", "confirmed", "\x00A1\x07", "line\rbreak",
    "\ud800", "x" * 300, "20260701093000", "20260701093000+0200", "09:00", "2026-07-01",
])


class Text(str):
    """A str subclass (as HL7 values are): read as text, yet not cleaned or remembered."""


VALUES = st.one_of(TRICKY, TRICKY.map(Text), st.text(max_size=12), st.none(), st.integers(-10**20, 10**20),
                   st.booleans(), st.floats(allow_nan=True), st.lists(TRICKY, max_size=3),
                   st.dictionaries(TRICKY, TRICKY, max_size=2))


def _leaves(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document a value can be put (keys and list positions)."""
    places = [at] if at else []
    if isinstance(value, dict):
        for key, child in value.items():
            places.extend(_leaves(child, (*at, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            places.extend(_leaves(child, (*at, index)))
    return places


def _copy(value: Any) -> Any:
    """A copy of the dicts and lists (leaves shared: HL7 values do not deep-copy)."""
    if isinstance(value, dict):
        return {key: _copy(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_copy(child) for child in value]
    return value


def _put(document: Any, at: tuple[Any, ...], value: Any) -> None:
    for step in at[:-1]:
        document = document[step]
    document[at[-1]] = value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_rows_map_alike(data: st.DataObject) -> None:
    row = dict(data.draw(st.sampled_from(RECORDS["csv"])))
    for column in data.draw(st.lists(st.sampled_from([*sorted(row), "visit_mode", "join_url", "dial_in"]),
                                     max_size=4)):
        row[column] = data.draw(st.one_of(TRICKY, st.text(max_size=20)))
    for name in ("csv_default", "openemr"):
        assert_same(MAPPINGS[name], row)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_documents_map_alike(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["json", "hl7"]))
    record = _copy(data.draw(st.sampled_from(RECORDS[kind])))
    places = _leaves(record)
    for _ in range(data.draw(st.integers(1, 4))):
        if places:
            at = data.draw(st.sampled_from(places))
            try:
                _put(record, at, data.draw(VALUES))
            except (KeyError, IndexError, TypeError):  # an earlier change removed the place
                continue
    for name in SHIPPED:
        assert_same(MAPPINGS[name], record)


# Features no shipped mapping uses: column names, constants, defaults, a value map, booleans,
# an answer, a required field with its fix, a fallback.
SITE = {
    "name": "site", "datetime_formats": ["%d.%m.%Y %H:%M"], "status_map": {"open": "booked", "gone": "cancelled"},
    "fields": {
        "external_id": {"column": ["sched.Id", "id"], "required": True},
        "start": {"column": "sched.Start Date"},
        "duration_minutes": {"from": "len", "default": 20},
        "status": {"from": ["state", "alt.state"], "map": {"O": "open", "G": "gone", "Z": None}, "quote": True},
        "timezone": {"from": "tz", "default": "Europe/Berlin"},
        "type": {"value": "Checkup"},
        "answer": {"from": "answer"},
        "patient.external_id": {"from": "pid", "required": True, "fix": "export the patient id column"},
        "patient.allow_sms": {"from": "sms_ok"},
        "patient.allow_email": {"from": "mail_ok", "type": "boolean"},
        "patient.language": {"from": ["lang[0]", "lang"], "quote": True},
        "practitioner.email": {"from": "doc_mail"},
        "patient.phone": {"from": ["phone", "alt_phone"]},
        "visit_mode": {"from": "mode", "quote": True},
        "location": {"from": "room", "on_invalid": "drop", "type": "integer",
                     "fallback": {"from": "room_name", "map": {"A": "Annex"}, "type": "string"}},
    },
}
SITE_ROW = {"sched.Id": "S1", "sched.Start Date": "01.07.2026 09:00", "len": "", "state": "O", "tz": "",
            "answer": "yes", "pid": "P1", "sms_ok": "no", "mail_ok": "1", "lang": ["pt-BR"], "doc_mail": "D@Clinic.ORG",
            "room": "12", "room_name": "A", "phone": "555-12", "alt_phone": "+12125550123", "mode": "\x07acme"}


@settings(max_examples=300, deadline=None)
@given(changes=st.dictionaries(st.sampled_from([*sorted(SITE_ROW), "id", "alt.state", "alt"]), VALUES, max_size=5))
def test_a_site_mapping_with_every_feature_maps_alike(changes: dict[str, Any]) -> None:
    mapping = CompiledMapping(MappingPreset.model_validate(SITE), "America/New_York", "US")
    assert_same(mapping, SITE_ROW)
    assert_same(mapping, {**SITE_ROW, **changes})


def test_a_record_that_is_no_dict_goes_to_the_reference() -> None:
    from collections import OrderedDict

    record = OrderedDict(RECORDS["csv"][0])
    assert_same(MAPPINGS["csv_default"], record)


JSON = st.recursive(
    st.sampled_from([None, "", "phone", "mobile", "old", "P1", "Patient/1", True, False, 0, 1]),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "system", "use", "ref"]), children, max_size=4)),
    max_leaves=20)
PATHS = ["a", "a.b", "a.b.a", "a[0]", "a[-1].b", "a[1].b[0]", "a[system=phone].b", "a[use!=old][system=phone].b",
         "a[ref^=Patient/].ref", "a[0][system=phone]", "a[system=phone][0].b", "a[b.a=true].b", "`a`.b",
         "a.`b`[0]", "a[b=true]", "a[b=1].a", "[0].a", "a[0][0]", "a.b[use!=old][1][system=mobile].a"]


Readers = tuple[str, Callable[[Any], Any], Callable[[Any], list[Any]], Callable[[Any], list[Any]], Callable[[Any], Any]]


@functools.cache
def _path_readers() -> list[Readers]:
    """Each path's generated first and every readers beside its interpreted ones, made once:
    all are pure functions of the path, and generating and compiling them for every example
    was most of this test's time."""
    namespace = dict(PATH_NAMESPACE)
    constants = Constants(namespace)
    out: list[Readers] = []
    for number, path in enumerate(PATHS):
        exec(path_source(path, f"first{number}", True, constants), namespace)
        exec(path_source(path, f"every{number}", False, constants), namespace)
        out.append((path, namespace[f"first{number}"], namespace[f"every{number}"], compile_values(path),
                    compile_path(path)))
    return out


@settings(max_examples=400, deadline=None)
@given(document=JSON)
def test_generated_paths_read_what_the_interpreted_paths_read(document: Any) -> None:
    for path, generated_first, generated_every, values, first_of in _path_readers():
        every = values(document)
        assert generated_every(document) == every, path
        # compile_path reads a lone column as it is; generated code reads only longer paths
        first = first_of(document) if "." in path or "[" in path else (every[0] if every else None)
        assert generated_first(document) == first, path


def test_a_remembered_patient_is_used_only_for_an_equal_one() -> None:
    """A patient's JSON text is the memo's key; a tuple reads as a list there and NaN as null,
    yet the paths treat them differently, so an entry needs an equal patient too."""
    mapping = load_mapping("fhir_r4", "America/New_York", "US")
    base = next(r for r in RECORDS["json"] if isinstance(r.get("_patient"), dict) and r["_patient"].get("telecom"))
    telecom = base["_patient"]["telecom"]
    variants = [
        {**base, "_patient": {**base["_patient"], "telecom": list(telecom)}},
        {**base, "_patient": {**base["_patient"], "telecom": tuple(telecom)}},
        {**base, "_patient": {**base["_patient"], "id": None, "name": [{"text": "A"}]}},
        {**base, "_patient": {**base["_patient"], "id": float("nan"), "name": [{"text": "A"}]}},
        {**base, "_patient": {**base["_patient"], "id": 1}},
        {**base, "_patient": {**base["_patient"], "id": 1.0}},
        {**base, "_patient": {**base["_patient"], "id": True}},
    ]
    for record in variants + variants[::-1]:
        assert_same(mapping, record)


def test_the_mapping_bench_runs_at_smoke_size() -> None:
    from bench import m2_mapping_cpu

    [table] = m2_mapping_cpu.main(["--smoke", "--quiet"])
    assert [row["records"] for row in table.rows] == [200, 150]
    assert all(row["generated_cpu"] is not None and row["ratio"] is not None for row in table.rows)


def test_a_mapping_is_compiled_once_per_content_and_read_again_when_its_file_changes(tmp_path: Path) -> None:
    """`clinicsync run` loads each connector's mapping at every poll: the same file is not
    parsed and compiled again, and an edited file (a mapping fix) takes effect at once."""
    site = tmp_path / "desk.yaml"
    site.write_text("name: desk\nextends: csv_default\nstatus_map: {}\n", encoding="utf-8")
    first = load_mapping("desk.yaml", "Europe/Madrid", "ES", tmp_path)
    assert load_mapping("desk.yaml", "Europe/Madrid", "ES", tmp_path) is first
    assert load_mapping("desk.yaml", "America/Chicago", "US", tmp_path) is not first  # another zone
    assert "confirmada" not in first.status_map
    site.write_text("name: desk\nextends: csv_default\nstatus_map: {confirmada: booked}\n", encoding="utf-8")
    fixed = load_mapping("desk.yaml", "Europe/Madrid", "ES", tmp_path)
    assert fixed.status_map["confirmada"] == "booked"


# Texts whose tests disagree with what cleaning leaves (issue 32, memo keyed by the raw text):
# blank once cleaned ("\x00 "), blank only by strip ("\x85", "\r"), the clean form of a
# control-laden text and the text itself, each before and after the other.
RAW_TEXTS = ["\x00 ", " ", "\x00", "", "\x85", "\r", "\t\x00", "\x0030", "30", " 30 ", "\x00+12125550123",
             "+12125550123", "\x00a@b.example", "a@b.example", "\x00America/Chicago", "America/Chicago",
             "\x002027-07-01 09:00", "2027-07-01 09:00", "\x00video", "video", "\x00es", "es", "\x00sms", "sms",
             "tel:+1\x002125550123", "\x00https://meet.example.org/j/1", "https://meet.example.org/j/1"]
_REMEMBERED_COLUMNS = ["start", "end", "duration_minutes", "timezone", "visit_mode", "join_url", "dial_in",
                       "patient_phone", "patient_email", "patient_language", "patient_channel", "doctor_email"]


@pytest.mark.parametrize("limit", [3, 65_536])
def test_remembered_by_raw_text_maps_as_the_interpreted_engine(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    """The generated code looks a converted field's memo up by the raw text before testing it
    (codememo.remember_raw): blank, control-laden and clean texts, in both orders, warm, cold
    and with the memo starting over, map exactly as the interpreted engine maps them."""
    monkeypatch.setattr(codegen, "MEMO_LIMIT", limit)
    monkeypatch.setattr(codememo, "MEMO_LIMIT", limit)
    monkeypatch.setattr(codegen, "DATETIME_MEMO_LIMIT", limit)
    mapping = load_mapping("csv_default", "Europe/Berlin", "US")  # another zone: not the cached source
    for record in RECORDS["csv"][:6]:
        for column in _REMEMBERED_COLUMNS:
            for text in RAW_TEXTS + RAW_TEXTS[::-1] + RAW_TEXTS:
                assert_same(mapping, {**record, column: text})
