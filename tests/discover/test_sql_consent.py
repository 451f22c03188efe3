"""A patient's consent to texts or emails, kept as a yes/no column of the patient, is placed on
``patient.allow_sms`` / ``patient.allow_email``: the class of OpenEMR's ``hipaa_allowsms``
('YES'/'NO'), Open Dental's ``TxtMsgOk`` (0/1) and a small practice's ``sms_opt_in``, and of the
opposite kind (``sms_opt_out``, ``email_unsubscribed``). Left unplaced, a patient who said no to
texts is texted (the fields' default is yes). A consent word without a channel (consent to
treatment) is never placed; a column whose values are not yes/no is left out with its reason."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from clinicsync.mappings.engine import load_mapping
from clinicsync.sync.discover.columns import ColumnSample
from clinicsync.sync.discover.scoring import score_columns
from tests.discover import real_ehr_support as real

FLAGS = ["0", "1", "1", "1"] * 10
PHONES = [f"(415) 555-{n:04d}" for n in range(40)]


def _placed(*columns: ColumnSample) -> dict[str, Any]:
    scored = score_columns([ColumnSample("id", "INTEGER", [str(n) for n in range(40)]), *columns])
    return {g.field: g for g in scored.guesses} | {"_notes": scored.notes, "_unplaced": scored.unplaced}


@pytest.mark.parametrize(("column", "values", "field"), [
    ("sms_opt_in", FLAGS, "patient.allow_sms"),
    ("hipaa_allowsms", ["YES", "NO", "YES", "YES"] * 10, "patient.allow_sms"),
    ("TxtMsgOk", FLAGS, "patient.allow_sms"),
    ("hipaa_allowemail", ["YES", "NO", "NO", "YES"] * 10, "patient.allow_email"),
    ("email_consent", ["true", "false", "true", "true"] * 10, "patient.allow_email"),
])
def test_a_consent_column_is_the_channels_consent_and_no_phone(column: str, values: list[str], field: str) -> None:
    placed = _placed(ColumnSample(column, "VARCHAR(3)", values, table="patient_data"),
                     ColumnSample("patient_data_phone_cell", "VARCHAR(30)", PHONES, table="patient_data"))
    assert placed[field].source == column
    assert placed[field].spec == {"from": column, "on_invalid": "drop"}
    assert placed["patient.phone"].source == "patient_data_phone_cell"


def test_a_refusal_column_is_read_turned_round(tmp_path: Path) -> None:
    """``sms_opt_out`` 1 means no texts: the spec maps every yes/no word the other way, so a
    word the sample did not show ('Y', 'true') is still read right."""
    placed = _placed(ColumnSample("sms_opt_out", "TINYINT", FLAGS, table="patients"),
                     ColumnSample("patients_mobile", "VARCHAR(30)", PHONES, table="patients"))
    spec = placed["patient.allow_sms"].spec
    assert spec["map"]["1"] is False and spec["map"]["0"] is True
    assert spec["map"]["y"] is False and spec["map"]["no"] is True
    file = tmp_path / "mapping.yaml"
    fields = {"external_id": {"from": "id"}, "start": {"from": "start"}, "duration_minutes": {"value": 20},
              "patient.external_id": {"from": "pid"}, "patient.allow_sms": spec}
    file.write_text(yaml.safe_dump({"name": "consent", "fields": fields}), encoding="utf-8")
    mapping = load_mapping(str(file), "UTC", "US")
    for value, allowed in (("1", False), ("0", True), ("Y", False), ("false", True)):
        record = mapping.apply({"id": "1", "start": "2026-12-01T09:00:00Z", "pid": "7", "sms_opt_out": value})
        assert record.patient is not None and record.patient.allow_sms is allowed, value


def test_consent_without_a_channel_and_free_text_are_not_placed() -> None:
    """'consent_to_treat' is no message consent; 'sms_consent' holding notes is left out, named."""
    placed = _placed(ColumnSample("consent_to_treat", "CHAR(1)", ["Y", "N"] * 20),
                     ColumnSample("sms_consent", "VARCHAR(60)", ["asked at desk", "see chart", "1", "0"] * 10))
    assert "patient.allow_sms" not in placed and "patient.allow_email" not in placed
    assert any(n.startswith("patient.allow_sms: left out") and "50% of 40 sampled values are yes/no" in n
               for n in placed["_notes"]), placed["_notes"]
    assert {"consent_to_treat", "sms_consent"} <= set(placed["_unplaced"])


def test_patients_with_no_value_are_named_in_a_note() -> None:
    placed = _placed(ColumnSample("sms_opt_in", "TINYINT", [None, "1", "0", "1"] * 10, table="patients"))
    assert placed["patient.allow_sms"].source == "sms_opt_in"
    assert any("sms_opt_in: empty on 10 of 40 sampled rows" in n and "default: false" in n
               for n in placed["_notes"]), placed["_notes"]


ZONE = "America/Los_Angeles"


def _build(cursor: Any) -> dict[str, tuple[bool, bool]]:
    cursor.execute("CREATE TABLE doctors (id INT PRIMARY KEY, name VARCHAR(80), email VARCHAR(120))")
    cursor.execute("CREATE TABLE patients (id INT PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40), "
                   "mobile VARCHAR(30), email VARCHAR(120), sms_opt_in TINYINT NOT NULL DEFAULT 1, "
                   "email_unsubscribed CHAR(1) NOT NULL DEFAULT 'N')")
    cursor.execute("CREATE TABLE appointments (id INT PRIMARY KEY, patient_id INT NOT NULL, doctor_id INT NOT NULL, "
                   "starts_at DATETIME NOT NULL, ends_at DATETIME NOT NULL, status VARCHAR(20) NOT NULL, "
                   "updated_at DATETIME NOT NULL, FOREIGN KEY (patient_id) REFERENCES patients(id), "
                   "FOREIGN KEY (doctor_id) REFERENCES doctors(id))")
    real.insert_rows(cursor, "INSERT INTO doctors VALUES (%s, %s, %s)",
                     [(1, "Dr. Anna Berg", "anna.berg@clinic.example"), (2, "Dr. Omar Haddad", "omar@clinic.example")])
    consent: dict[str, tuple[bool, bool]] = {}
    rows = []
    for p in range(1, 41):
        texts, mails = p % 5 != 0, p % 4 != 0
        consent[str(p)] = (texts, mails)
        rows.append((p, ["Maria", "John", "Aisha", "Kenji"][p % 4], ["Smith", "Okafor", "Rossi"][p % 3],
                     f"(415) 555-{1000 + p:04d}", f"p{p}@mail.example", int(texts), "N" if mails else "Y"))
    real.insert_rows(cursor, "INSERT INTO patients VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
    now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    visits = []
    for v in range(1, 81):
        start = (now + timedelta(days=1 + v % 20)).replace(hour=8 + v % 9, minute=15 * (v % 4))
        visits.append((v, 1 + v % 40, 1 + v % 2, start, start + timedelta(minutes=20), "scheduled",
                       now - timedelta(days=2)))
    real.insert_rows(cursor, "INSERT INTO appointments VALUES (%s, %s, %s, %s, %s, %s, %s)", visits)
    return consent


@pytest.mark.mariadb
def test_discover_honours_consent_kept_on_the_patient(mariadb_database: dict[str, Any], tmp_path: Path,
                                                      cli: Any) -> None:
    """As the admin would: six lines, `discover --write` (which runs `check`), `sync --once`:
    every stored patient's consent is what the source says, and the opt-out column is read
    turned round."""
    consent, settings, run = real.admin_start(mariadb_database, _build, tmp_path, ZONE, "US", cli)
    real.discover_then_check(run, settings, [str(mariadb_database["url"]), "--stored-times", "local"])
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["patient.allow_sms"]["from"] == "patient_sms_opt_in"
    assert fields["patient.allow_email"]["from"] == "patient_email_unsubscribed"
    assert "patient_sms_opt_in" not in str(fields["patient.phone"])
    run("sync", "--once")
    with sqlite3.connect(tmp_path / "store.db") as store:
        stored = {pid: (bool(sms), bool(mail)) for pid, sms, mail
                  in store.execute("SELECT external_id, allow_sms, allow_email FROM patient")}
    assert stored and stored == {pid: consent[pid] for pid in stored}
    assert (False, True) in stored.values() and (True, False) in stored.values()
