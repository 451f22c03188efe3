"""Any CSV column name is addressable in a mapping: a vendor's documented columns contain
dots, brackets and spaces (`sched.Start Date`), which the path language would split. Quote
a name in backticks, or give it with `column:`; a column the mapping needs that the header
lacks is one settings error, before any row is read."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.paths import compile_path, top_column
from tests.connectors.test_csv_drop import write_drop

HEADER = ["sched.Appt ID", "sched.Start Date", "sched.Start Time", "sched.Length (min)", "pat.ID",
          "pat.Phone[cell]", "Status"]
ROW = {"sched.Appt ID": "V-1001", "sched.Start Date": "2030-03-04", "sched.Start Time": "09:30",
       "sched.Length (min)": "20", "pat.ID": "P-77", "pat.Phone[cell]": "(617) 555-0123", "Status": "confirmed"}

# (case, a site mapping's fields, what the row maps to)
MAPPINGS = [
    ("column: key", """
  external_id: {column: sched.Appt ID, required: true}
  start: {date: "`sched.Start Date`", time: "`sched.Start Time`"}
  duration_minutes: {column: sched.Length (min)}
  patient.external_id: {column: pat.ID}
  patient.phone: {column: "pat.Phone[cell]"}
""", ("V-1001", "P-77", "+16175550123")),
    ("backtick-quoted paths", """
  external_id: {from: "`sched.Appt ID`", required: true}
  start: {date: "`sched.Start Date`", time: "`sched.Start Time`"}
  duration_minutes: {from: "`sched.Length (min)`"}
  patient.external_id: {from: ["`pat.MRN`", "`pat.ID`"]}
  patient.phone: {from: "`pat.Phone[cell]`"}
""", ("V-1001", "P-77", "+16175550123")),
]


def site_mapping(tmp_path: Path, fields: str) -> Path:
    path = tmp_path / "vendor.yaml"
    path.write_text(f"name: vendor\nextends: csv_default\nfields:{fields}", encoding="utf-8")
    return path


@pytest.mark.parametrize(("fields", "expected"), [m[1:] for m in MAPPINGS], ids=[m[0] for m in MAPPINGS])
def test_a_dotted_column_is_addressable(tmp_path: Path, fields: str, expected: tuple[str, str, str]) -> None:
    mapping = load_mapping(str(site_mapping(tmp_path, fields)), "America/New_York", "US", tmp_path)
    appointment = mapping.apply(ROW)
    assert appointment.patient is not None
    assert (appointment.external_id, appointment.patient.external_id, appointment.patient.phone) == expected
    assert appointment.status == "booked" and appointment.start.hour == 14  # 09:30 EST
    assert mapping.required_sources() == frozenset({"sched.Appt ID"})


@pytest.mark.parametrize(("path", "record", "value"), [
    ("`a.b`", {"a.b": 1, "a": {"b": 2}}, 1),
    ("a.b", {"a.b": 1, "a": {"b": 2}}, 2),
    ("`a.b`.c", {"a.b": {"c": 3}}, 3),
    ("`x y[z]`[0]", {"x y[z]": ["first", "second"]}, "first"),
    ("`sched.Start Date`", {"sched.Start Date": "2030-03-04"}, "2030-03-04"),
])
def test_backticks_quote_a_name(path: str, record: dict[str, Any], value: Any) -> None:
    assert compile_path(path)(record) == value


@pytest.mark.parametrize(("path", "column"), [("`a.b`.c", "a.b"), ("a.b", "a"), ("a[0].b", "a"), ("`x`", "x")])
def test_the_top_column_of_a_path(path: str, column: str) -> None:
    assert top_column(path) == column


def test_an_unclosed_quote_is_a_mapping_error() -> None:
    with pytest.raises(ValueError, match="unclosed `"):
        compile_path("`a.b")


def test_end_to_end_and_a_missing_column_is_one_settings_error(
        write_settings: Callable[..., Path], drop_dir: Path, tmp_path: Path, cli: Any) -> None:
    mapping = site_mapping(tmp_path, MAPPINGS[0][1])
    write_drop(drop_dir, "vendor.csv", [ROW], columns=HEADER)
    run = cli(write_settings(f"- name: vendor\n  kind: csv\n  mapping: {mapping}\n  drop_dir: {drop_dir}\n"))
    report = json.loads(run("sync", "--once", "--json")[1])["connectors"]["vendor"]
    assert (report["created"], report["quarantined"], report["error"]) == (1, 0, None)
    write_drop(drop_dir, "renamed.csv", [ROW], columns=[h for h in HEADER if h != "sched.Appt ID"])
    report = json.loads(run("sync", "--once", "--json", expect=1)[1])["connectors"]["vendor"]
    assert report["quarantined"] == 0 and "the header has no column 'sched.Appt ID'" in report["error"]
