"""Starts and ends outside the plausible window (clinic.plausible_dates, 1900-01-01 to
2200-01-01 by default) are refused at mapping, naming the field and the fix, by the
interpreted engine and the generated code alike; through a CSV drop such a row is
quarantined and everything else is imported and planned (issue 28: a `0001-01-01` start
used to stall every reminder of every source)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.model import MappingError
from clinicsync.mappings.window import PlausibleWindow
from clinicsync.sync.config.config_loader import ConfigError
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.store.model import Quarantine
from clinicsync.sync.store.store import Store
from tests.connectors.csv_support import rows, write_drop

RECORD = {"appointment_id": "A-1", "start": "2026-03-12T09:30:00-04:00", "duration_minutes": "30",
          "status": "scheduled", "patient_id": "P-1", "patient_name": "Ana María Ruiz"}


def refusal(mapping: Any, record: dict[str, Any]) -> tuple[str, str]:
    """The error of both engines, which must agree (the differential rule of test_compiled)."""
    errors = []
    for apply in (mapping.apply_interpreted, mapping.apply):
        with pytest.raises(MappingError) as caught:
            apply(dict(record))
        errors.append((caught.value.field, caught.value.reason))
    assert errors[0] == errors[1]
    return errors[0]


@pytest.mark.parametrize(("change", "field", "shown"), [
    ({"start": "0001-01-01T00:00:00Z"}, "start", "0001-01-01 (.NET's and SQL Server's empty date?)"),
    ({"start": "0001-01-01 00:00"}, "start", "0001-01-01"),  # a local time: no overflow in any zone
    ({"start": "1753-01-01T00:00:00Z"}, "start", "1753-01-01 (SQL Server's datetime minimum?)"),
    ({"end": "9999-12-31T23:59:59Z", "duration_minutes": ""}, "end", "9999-12-31 (a 'no end' date?)"),
    ({"start": "1887-07-04T10:00:00Z"}, "start", "a date in the year 1887"),  # not a sentinel: the year only
])
def test_a_date_outside_the_window_is_refused_naming_the_field_and_the_fix(
        change: dict[str, str], field: str, shown: str) -> None:
    mapping = load_mapping("csv_default", "America/New_York", "US")
    got_field, reason = refusal(mapping, {**RECORD, **change})
    assert got_field == field
    assert reason.startswith(shown) and "outside the plausible window 1900-01-01 to 2200-01-01" in reason
    assert "fix the export" in reason and "clinic.plausible_dates" in reason
    assert "07-04" not in reason and "Ana" not in reason


def test_the_window_is_configurable() -> None:
    mapping = load_mapping("csv_default", "America/New_York", "US",
                           window=PlausibleWindow(date(2020, 1, 1), date(2030, 1, 1)))
    assert mapping.apply(dict(RECORD)).start.year == 2026
    assert refusal(mapping, {**RECORD, "start": "2031-05-01T09:00:00Z"})[0] == "start"


def test_a_bad_window_setting_names_the_key(write_settings: Callable[..., Path]) -> None:
    path = write_settings(extra="")
    text = path.read_text().replace(
        "clinic:\n", "clinic:\n  plausible_dates: {earliest: 2200-01-01, latest: 1900-01-01}\n")
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"clinic\.plausible_dates"):
        load_settings(path)
    path.write_text(text.replace("{earliest: 2200-01-01, latest: 1900-01-01}", "{earliest: 1800-01-01}"))
    assert load_settings(path).clinic.plausible_dates.window() == PlausibleWindow(date(1800, 1, 1), date(2200, 1, 1))


def test_a_csv_row_at_dotnets_empty_date_is_quarantined_and_the_rest_is_planned(
        write_settings: Callable[..., Path], drop_dir: Path, cli: Any, store: Store) -> None:
    data = rows(4)
    data[1] = {**data[1], "start": "0001-01-01T00:00:00Z", "end": "0001-01-01T00:30:00Z"}
    write_drop(drop_dir, "appointments.csv", data)
    config = write_settings(connectors=f"""
- name: front-desk
  kind: csv
  mapping: csv_default
  drop_dir: {drop_dir}
  announce_existing: true
""", extra="reminders:\n  enabled: true\n")
    code, out, err = cli(config)("sync", "--once", "--json", expect=None)
    assert out, (code, err)
    report = json.loads(out)
    assert "error" not in report["reminders"] and report["reminders"]["events"] == 3
    with store.engine.connect() as connection:
        [item] = connection.execute(select(Quarantine.__table__)).all()  # type: ignore[attr-defined]
    assert item.field == "start" and item.reason.startswith("0001-01-01") and item.record_id == data[1][
        "appointment_id"]
    cli(config)("appointments", "list")  # no traceback


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.mark.parametrize(("preset", "fixture", "path"), [
    ("easyappointments", "easyappointments/appointment_save_created.json", ("payload", "start_datetime")),
    ("fhir_r4", "third_party/fhir/appointment-example.json", ("start",)),
])
def test_a_pushed_vendor_payload_at_the_empty_date_is_refused_by_its_preset(
        preset: str, fixture: str, path: tuple[str, ...]) -> None:
    """The presets of the webhook and FHIR paths, on the vendors' own payloads (their
    connectors and the FHIR subscription inbox map through them)."""
    record = json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))
    mapping = load_mapping(preset, "America/New_York", "US")
    mapping.apply(dict(record))  # as shipped, it maps
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = "0001-01-01 00:00:00" if preset == "easyappointments" else "0001-01-01T00:00:00Z"
    field, reason = refusal(mapping, record)
    assert field == "start" and reason.startswith("0001-01-01 (.NET's")


def test_an_instant_seen_at_another_offset_is_judged_by_its_own_wall_date() -> None:
    """2199-12-31T23:30Z is inside the window, 2200-01-01T00:30+01:00 (the same instant) is
    not: remembering the first must not let the second through (the memo of both engines)."""
    mapping = load_mapping("csv_default", "America/Phoenix", "US")
    inside = {**RECORD, "start": "2199-12-31T23:30:00Z"}
    for apply in (mapping.apply_interpreted, mapping.apply):
        assert apply(dict(inside)).start.isoformat() == "2199-12-31T23:30:00+00:00"
    field, reason = refusal(mapping, {**RECORD, "start": "2200-01-01T00:30:00+01:00"})
    assert (field, reason.split(" is outside")[0]) == ("start", "a date in the year 2200")
