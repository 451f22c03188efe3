"""The rule for optional data, end to end: a CSV row whose optional values are unusable
imports (no quarantine) and its notes show in `appointments show`, `--json` and the list."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.connectors.test_csv_drop import rows, write_drop

# (case, the row's unusable optional values, the notes the appointment carries)
CASES: list[tuple[str, dict[str, str], list[str]]] = [
    ("a vendor language code", {"patient_language": "151"},
     ["patient.language: dropped (not a known language)"]),
    ("a phone and an email that do not parse", {"patient_phone": "12", "patient_email": "nobody"},
     ["patient.phone: dropped (not a valid phone number (region US))",
      "patient.email: dropped (not a valid email address)"]),
    ("nothing wrong", {}, []),
]


@pytest.mark.parametrize(("bad", "notes"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_unusable_optional_values_are_notes_on_the_appointment(
        write_settings: Callable[..., Path], drop_dir: Path, cli: Any, bad: dict[str, str], notes: list[str]) -> None:
    [row] = rows(1)
    write_drop(drop_dir, "a.csv", [{**row, **bad}])
    run = cli(write_settings(f"- name: clinic\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop_dir}\n"))
    report = json.loads(run("sync", "--once", "--json")[1])["connectors"]["clinic"]
    assert (report["created"], report["quarantined"]) == (1, 0)
    ref = f"clinic:{row['appointment_id']}"
    shown = json.loads(run("appointments", "show", ref, "--json")[1])
    assert shown["notes"] == notes
    assert [a["notes"] for a in json.loads(run("appointments", "list", "--all", "--json")[1])["items"]] == [notes]
    text = run("appointments", "show", ref)[1]
    assert ("data-quality notes:" in text) == bool(notes)
    for note in notes:
        assert note in text
    for value in bad.values():
        assert value not in " ".join(notes)  # a CSV value is never in a note (a shifted column)
    # unchanged input stays unchanged, notes included
    again = json.loads(run("sync", "--once", "--json")[1])["connectors"]["clinic"]
    assert again["updated"] == 0 and again["created"] == 0


def test_show_names_an_unknown_appointment(write_settings: Callable[..., Path], cli: Any) -> None:
    run = cli(write_settings())
    run("db", "upgrade")
    assert "no appointment x:y" in run("appointments", "show", "x:y", expect=1)[1]
    # an id without its connector is looked up in every source (unique there): none has it
    assert "no appointment no-colon" in run("appointments", "show", "no-colon", expect=1)[1]
