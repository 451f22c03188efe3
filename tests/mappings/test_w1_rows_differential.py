"""W1's generated export (bench/data.py: every row shape, the bad ones included) mapped by the
mapping an import uses (generated code, the phone fast path, warm and cold memos) against the
reference: the interpreted engine with phonenumbers alone reading phones. Same appointment,
field by field and notes included, or the same error, field and reason."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from bench import data
from clinicsync.mappings import transforms
from clinicsync.mappings.engine import CompiledMapping, load_mapping
from clinicsync.mappings.model import MappingError, NormalizedAppointment
from clinicsync.sync.cli.demo import COLUMNS

# Every shape class of W1's export at a quarter of its 20,000 rows: each status, type, location,
# time zone, note and error (field and reason) that 20,000 rows give (checked when the size was
# cut); the memos' limits (8,192 and 65,536 distinct values) are not reached at either.
ROWS = 5_000


def outcome(apply: Any, record: dict[str, str]) -> tuple[Any, ...]:
    """Every field of the appointment (a patient and practitioner as their own fields), or
    the error's type, field and reason."""
    try:
        appointment = apply(record)
    except MappingError as exc:
        return ("error", exc.field, exc.reason)
    assert type(appointment) is NormalizedAppointment
    values = []
    for field in fields(NormalizedAppointment):
        value = getattr(appointment, field.name)
        if field.name in ("patient", "practitioner") and value is not None:
            value = (type(value).__name__, *(getattr(value, f.name) for f in fields(value)))
        values.append((field.name, value, repr(value)))
    return ("ok", *values)


def w1_records() -> list[dict[str, str]]:
    """The export's rows, and every 7th again with its phone written another way (+1, dots,
    spaces around it, a tel: URI, an extension)."""
    rows = [dict(zip(COLUMNS, row, strict=True)) for row, _bad, _changed in data.rows(ROWS)]
    styles = ("+1 {a} {e} {n}", "{a}.{e}.{n}", " ({a}) {e}-{n} ", "tel:+1-{a}-{e}-{n}", "({a}) {e}-{n} x12",
              "1 {a} {e} {n}", "+1{a}{e}{n}")
    shaped = re.compile(r"\((\d{3})\) (\d{3})-(\d{4})")
    for number, row in enumerate(rows[::7]):
        match = shaped.fullmatch(row["patient_phone"])
        if match:
            a, e, n = match.groups()
            rows.append({**row, "patient_phone": styles[number % len(styles)].format(a=a, e=e, n=n)})
    return rows


@pytest.fixture(scope="module")
def w1() -> tuple[dict[str, str], ...]:
    """W1's records, generated once for the module's tests (which only read them)."""
    return tuple(w1_records())


def test_w1_rows_map_as_the_reference_engine_with_phonenumbers_alone(w1: tuple[dict[str, str], ...],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    preset = load_mapping("csv_default", "America/New_York", "US").preset
    used = CompiledMapping(preset, "America/New_York", "US")
    records = w1
    with monkeypatch.context() as patched:  # held while the reference maps: its phone parser
        patched.setattr(transforms, "_plain_nanp", lambda region: None)  # looks the fast path up per number
        reference = CompiledMapping(preset, "America/New_York", "US")
        expected = [outcome(reference.apply_interpreted, record) for record in records]
    errors = sum(e[0] == "error" for e in expected)
    assert 0.02 * ROWS < errors < 0.05 * ROWS  # the bad rows are there
    assert any(e[11][:2] == ("notes", ("patient.phone: dropped (not a valid phone number (region US))",))
               for e in expected if e[0] == "ok")
    for _ in range(2):  # cold memos, then warm ones
        for record, wanted in zip(records, expected, strict=True):
            assert outcome(used.apply, record) == wanted, record


def test_w1_rows_map_by_the_texts_code_as_by_the_general_code(w1: tuple[dict[str, str], ...]) -> None:
    """The code generated for records of text values only (a CSV row's dict: codegen ``texts``,
    without the type tests) against the general generated code, on W1's rows (bad ones and phones
    written other ways included) and rows with columns missing: the same appointment or error,
    cold and warm (each variant has its own memos)."""
    preset = load_mapping("csv_default", "America/New_York", "US").preset
    general = CompiledMapping(preset, "America/New_York", "US")
    texts = CompiledMapping(preset, "America/New_York", "US").applier(texts=True)
    records = [*w1, *({k: v for k, v in row.items() if k not in dropped}
                    for row, dropped in zip(w1[:400], [("patient_phone",), ("end", "duration_minutes"),
                                                        ("patient_id",), ("doctor_id", "doctor_email"), ("status",),
                                                        ("timezone", "type")] * 67, strict=False))]
    expected = [outcome(general.apply, record) for record in records]
    for _ in range(2):  # cold memos, then warm ones
        for record, wanted in zip(records, expected, strict=True):
            assert outcome(texts, record) == wanted, record


@pytest.mark.parametrize("preset", sorted(p.stem for p in (Path(__file__).parents[2] / "mappings").glob("*.yaml")
                                           if "waitlist" not in p.stem))  # waitlist presets: another model
def test_every_preset_has_texts_code_that_maps_text_rows_as_the_general_code(preset: str) -> None:
    """Each preset's texts code compiles and maps a row of its own column names' texts (and an
    empty one) as the general code does."""
    compiled = load_mapping(preset, "America/New_York", "US")
    texts = compiled.applier(texts=True)
    assert texts is not compiled._generated
    columns = {source[1] for field in compiled.fields for source in field.sources if source[0] == "path"}
    for record in ({}, {column: " 2027-03-04 10:00 " for column in columns}, {column: "x" for column in columns}):
        assert outcome(texts, record) == outcome(compiled._generated, record)
