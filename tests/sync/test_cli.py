"""The read-side commands: appointments, status, quarantine, check, schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clinicsync.sync.cli.demo import DOCTORS, generate_rows
from tests.connectors.test_csv_drop import TOMORROW, write_drop


@pytest.fixture
def synced(write_settings: Callable[..., Path], drop_dir: Path, cli: Any) -> Any:
    write_drop(drop_dir, "a.csv", generate_rows(TOMORROW, days=4))
    run = cli(write_settings(f"- name: clinic\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop_dir}\n"))
    run("sync", "--once")
    return run


def listed(run: Any, *args: str) -> list[dict[str, Any]]:
    return json.loads(run("appointments", "list", "--all", "--json", *args)[1])["items"]  # type: ignore[no-any-return]


def test_appointments_filter_by_doctor_and_day(synced: Any) -> None:
    everything = listed(synced)
    email = DOCTORS[1][2]
    mine = listed(synced, "--doctor", email.upper())
    assert mine and all(a["practitioner"]["email"] == email for a in mine)
    assert len(mine) == sum(1 for a in everything if a["practitioner"]["email"] == email)
    # the first day with visits, in the clinic's zone (the generator skips weekends: tomorrow may have none)
    first = min(datetime.fromisoformat(a["start"]).astimezone(ZoneInfo("America/New_York")) for a in everything)
    day = listed(synced, "--from", first.date().isoformat(), "--to", first.date().isoformat())
    assert day and len(day) < len(everything)
    assert all(a["start"].endswith("Z") for a in day)
    keys = {"connector", "external_id", "status", "start", "end", "timezone", "patient", "practitioner", "location"}
    assert keys <= set(everything[0])


def test_status_reports_last_run_and_quarantine(synced: Any) -> None:
    status = json.loads(synced("status", "--json")[1])["connectors"][0]
    assert status["connector"] == "clinic" and status["last_status"] == "ok"
    assert status["quarantined"] == 6 and status["counts"]["created"] > 0 and status["last_success"]


def test_quarantine_list_has_no_patient_data(synced: Any) -> None:
    entries = json.loads(synced("quarantine", "list", "--all", "--json")[1])["items"]
    assert {e["record_id"] for e in entries} >= {"BAD-DATE", "BAD-PATIENT", "BAD-END", "BAD-STATUS", "BAD-DST"}
    assert "raw" not in entries[0]


def test_check_reports_each_part(synced: Any) -> None:
    _, out, _ = synced("check", expect=1)  # the demo's six deliberately bad rows would be quarantined
    assert "connector clinic (csv)" in out and "store" in out
    assert "6 would be quarantined" in out.splitlines()[-1]


def test_sync_without_once_says_how(synced: Any) -> None:
    _, _, err = synced("sync", expect=2)
    assert "--once" in err


def test_json_output_has_no_progress_bar_on_a_pipe(synced: Any) -> None:
    _, out, err = synced("sync", "--once", "--json")
    json.loads(out)
    assert "records" not in err  # the progress bar only draws on a terminal


@pytest.mark.parametrize("command", [("check",), ("config", "validate")])
def test_a_settings_error_prints_the_pattern_as_it_is(write_settings: Callable[..., Path], cli: Any,
                                                      command: tuple[str, ...]) -> None:
    """Console markup would read ``[a-z0-9_-]`` in the quoted pattern as a style tag and drop it."""
    config = write_settings(connectors="- {name: Front Desk!, kind: csv, path: drop}\n")
    _, _, err = cli(config)(*command, expect=2)
    assert "^[a-z0-9][a-z0-9_-]{0,62}$" in err.replace("\n", ""), err
