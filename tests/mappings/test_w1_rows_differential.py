"""W1's generated export (bench/data.py: every row shape, the bad ones included) mapped by the
mapping an import uses (generated code, the phone fast path, warm and cold memos) against the
reference: the interpreted engine with phonenumbers alone reading phones. Same appointment,
field by field and notes included, or the same error, field and reason."""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

import pytest

from bench import data
from clinicsync.mappings import transforms
from clinicsync.mappings.engine import CompiledMapping, load_mapping
from clinicsync.mappings.model import MappingError, NormalizedAppointment
from clinicsync.sync.demo import COLUMNS

ROWS = 20_000


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


def test_w1_rows_map_as_the_reference_engine_with_phonenumbers_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    preset = load_mapping("csv_default", "America/New_York", "US").preset
    used = CompiledMapping(preset, "America/New_York", "US")
    with monkeypatch.context() as patched:
        patched.setattr(transforms, "_plain_nanp", lambda region: None)
        reference = CompiledMapping(preset, "America/New_York", "US")
    records = w1_records()
    expected = [outcome(reference.apply_interpreted, record) for record in records]
    errors = sum(e[0] == "error" for e in expected)
    assert 0.02 * ROWS < errors < 0.05 * ROWS  # the bad rows are there
    assert any(e[11][:2] == ("notes", ("patient.phone: dropped (not a valid phone number (region US))",))
               for e in expected if e[0] == "ok")
    for _ in range(2):  # cold memos, then warm ones
        for record, wanted in zip(records, expected, strict=True):
            assert outcome(used.apply, record) == wanted, record
