"""`clinicsync discover`: which discoverer an argument goes to, what it prints without --write,
--json, and the errors an admin meets (an unknown argument, a kind not available yet, a
connector name already taken)."""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from clinicsync.sync.cli.discover import source_kind
from clinicsync.sync.cli.main import COMMANDS


def test_the_argument_decides_the_kind(tmp_path: Path) -> None:
    (tmp_path / "export.csv").write_text("id\n")
    (tmp_path / "feed").mkdir()
    (tmp_path / "feed" / "a.hl7").write_text("MSH|")
    (tmp_path / "drop").mkdir()
    (tmp_path / "drop" / "today.txt").write_text("id\n")
    assert source_kind("mysql://reader@db/openemr") == "sql"
    assert source_kind("postgresql+psycopg://reader@db/pm") == "sql"
    assert source_kind(f"sqlite:///{tmp_path}/x.db") == "sql"
    assert source_kind("https://fhir.example.org/r4") == "fhir"
    assert source_kind("HTTP://fhir.local/baseR4") == "fhir"
    assert source_kind(str(tmp_path / "export.csv")) == "csv"
    assert source_kind(str(tmp_path / "drop")) == "csv"
    assert source_kind(str(tmp_path / "feed")) == "hl7"
    assert source_kind(str(tmp_path / "feed" / "a.hl7")) == "hl7"
    assert source_kind(str(tmp_path / "nothing.pdf")) is None


def test_registered_as_a_lazy_command() -> None:
    entry = next(c for c in COMMANDS if c.name == "discover")
    assert entry.target == "clinicsync.sync.cli.discover:discover_command"


@pytest.fixture
def clinic_db(tmp_path: Path) -> str:
    path = tmp_path / "front_desk.db"
    with sqlite3.connect(path) as connection:
        connection.executescript("""
            CREATE TABLE patients (id INTEGER PRIMARY KEY, phone TEXT, email TEXT);
            CREATE TABLE appointments (id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patients(id),
                                       start DATETIME, "end" DATETIME, status TEXT, notes TEXT);
            INSERT INTO patients VALUES (1, '+1 617 253 1000', 'a@example.org');
            """)
        soon = date.today() + timedelta(days=10)
        connection.executemany("INSERT INTO appointments VALUES (?, 1, ?, ?, ?, '')",
                               [(1, f"{soon} 10:00:00", f"{soon} 10:30:00", "booked"),
                                (2, f"{soon} 11:00:00", f"{soon} 11:30:00", "gone fishing")])
    return f"sqlite:///{path}"


def test_without_write_it_prints_and_writes_nothing(clinic_db: str, tmp_path: Path, cli: Any) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("clinic: {timezone: UTC}\nconnectors: []\n")
    _, out, _ = cli(settings)("discover", clinic_db, "--timezone", "America/New_York")
    assert "unknown schema" in out and "connector 'front-desk'" in out
    assert "'gone fishing'" in out and "? (unknown" in out  # an unknown status word, said so
    columns = ("id", "patient_id", "start", "end", "status", "notes", "patient_phone", "patient_email")
    assert all(column in out for column in columns)  # each column: placed (with its guess) or listed as not placed
    assert "nothing written" in out
    assert settings.read_text() == "clinic: {timezone: UTC}\nconnectors: []\n"
    assert not (tmp_path / "mappings").exists()


def test_json_is_one_object(clinic_db: str, tmp_path: Path, cli: Any) -> None:
    _, out, _ = cli(tmp_path / "settings.yaml")("discover", clinic_db, "--timezone", "UTC", "--json")
    report = json.loads(out)
    proposal = report["proposal"]
    assert proposal["kind"] == "sql" and proposal["connector"]["name"] == "front-desk"
    placed = {g["source"] for g in proposal["guesses"]}
    assert {"id", "patient_id", "start", "end", "status", "notes", "patient_phone", "patient_email"} <= (
        placed | set(proposal["unplaced"]))
    assert {w["value"] for w in proposal["status_words"]} == {"booked", "gone fishing"}


def test_errors_say_what_to_do(clinic_db: str, tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    run = cli(tmp_path / "settings.yaml")
    _, _, err = run("discover", str(tmp_path / "report.pdf"), expect=2)
    assert "cannot tell what" in err and "database URL" in err
    _, _, err = run("discover", clinic_db, "--table", "nope", expect=2)
    assert "--table: no table 'nope'" in err
    monkeypatch.setitem(sys.modules, "clinicsync.sync.discover.csv", None)  # as before discover-files lands
    (tmp_path / "x.csv").write_text("id\n")
    _, _, err = run("discover", str(tmp_path / "x.csv"), expect=2)
    assert "CSV sources are not available yet" in err


def test_a_taken_name_is_refused(clinic_db: str, tmp_path: Path, cli: Any) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"clinic: {{timezone: UTC}}\nstore: {{url: 'sqlite:///{tmp_path}/s.db'}}\nconnectors:\n"
                        f"  - {{name: front-desk, kind: csv, mapping: csv_default, drop_dir: {tmp_path}}}\n")
    before = settings.read_text()
    _, _, err = cli(settings)("discover", clinic_db, "--timezone", "UTC", "--write", expect=2)
    assert "already has a connector named 'front-desk'" in err and "--name" in err
    assert settings.read_text() == before and not (tmp_path / "mappings").exists()


def test_write_then_check_fails_on_an_unknown_status_word(clinic_db: str, tmp_path: Path, cli: Any) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"clinic: {{name: Front Desk Clinic, timezone: UTC}}\nstore: {{url: 'sqlite:///{tmp_path}/s.db'}}\n"
                        "connectors: []\n")
    _, out, _ = cli(settings)("discover", clinic_db, "--timezone", "UTC", "--write", "--json", expect=1)
    report = json.loads(out)
    assert report["written"]["settings"] == str(settings)
    assert report["written"]["mapping"] == str(tmp_path / "mappings" / "front-desk.yaml")
    check = report["check"]
    assert check["summary"].startswith("checked: 1 sources, 2 records sampled, 1 would be quarantined")
    assert [reason.split(":")[0] for reason in check["sample"]["quarantined"]] == ["status"]
    # The admin gives the word its meaning where the mapping file says, and check passes.
    mapping = tmp_path / "mappings" / "front-desk.yaml"
    text = mapping.read_text()
    line = next(x for x in text.splitlines() if "gone fishing" in x)
    assert line.lstrip().startswith("#") and ": ?" in line
    fixed = text.replace("status_map:\n", "status_map:\n  gone fishing: cancelled\n", 1)
    if fixed == text:  # no status word was mapped: the section is `status_map: {}`
        fixed = text.replace("status_map: {}", "status_map:\n  gone fishing: cancelled", 1)
    mapping.write_text(fixed)
    _, out, _ = cli(settings)("check", "--offline")
    assert "0 would be quarantined, 0 problems" in out


def test_write_states_a_missing_clinic_name_before_its_summary(clinic_db: str, tmp_path: Path, cli: Any) -> None:
    """Messages start with the clinic's name: discover's check says the settings lack it (the
    line `check` fails on), before the summary line; with the name, nothing is said."""
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"clinic: {{timezone: UTC}}\nstore: {{url: 'sqlite:///{tmp_path}/s.db'}}\nconnectors: []\n")
    _, out, _ = cli(settings)("discover", clinic_db, "--timezone", "UTC", "--write", expect=None)
    lines = out.splitlines()
    said = next(i for i, line in enumerate(lines) if line.startswith("note: clinic.name is not set"))
    assert lines[-1].startswith("checked: 1 sources") and said < len(lines) - 1


def test_a_long_not_placed_list_is_cut_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A joined users table brings dozens of settings columns: the plain output lists the first
    ones and counts the rest (the JSON report keeps them all)."""
    from clinicsync.sync.cli import discover as command
    from clinicsync.sync.discover.proposal import Proposal

    proposal = Proposal(kind="sql", name="x", product=None, product_confidence=0.0, connector={},
                        unplaced=[f"doctor_setting_{n}" for n in range(command.UNPLACED_SHOWN + 7)])
    lines: list[str] = []
    monkeypatch.setattr(command, "_say", lambda line="", **_: lines.append(line))
    command._print_proposal(proposal)
    (line,) = [line for line in lines if line.startswith("not placed:")]
    assert "doctor_setting_19" in line and "doctor_setting_20" not in line
    assert line.endswith("and 7 more (all of them: --json)"), line
