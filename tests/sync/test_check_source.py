"""`clinicsync check` reads a sample of the real source and maps it: a misspelt column
fails with the closest real one (CSV, SQL on PostgreSQL and MariaDB, FHIR), a mapping
that does not load fails `check` and `config validate` naming the key, nothing moves
(no cursor, no archived file), and the output carries counts and reasons, never PHI."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert

from clinicsync.sync.cli.demo import generate_rows
from clinicsync.sync.store.db import make_engine
from tests.conftest import PUSH_ONLY_SOURCE
from tests.connectors.hl7v2_support import siu
from tests.connectors.test_csv_drop import TOMORROW, write_drop

Run = Callable[..., tuple[int, str, str]]
HEADER = ["appointment_id", "start", "end", "duration_minutes", "status", "specialty", "patient_id", "patient_name",
          "patient_phone"]


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """These tests are about the source; the store is SQLite (store tests cover PostgreSQL)."""
    return f"sqlite:///{tmp_path / 'store.db'}"


def mapping_file(folder: Path, body: str, name: str = "mine.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def csv_rows(count: int = 5) -> list[dict[str, str]]:
    rows = [{**r, "status": "scheduled", "specialty": "Cardiology"} for r in generate_rows(TOMORROW, days=3)[:count]]
    return rows


SITE_CSV_MAPPING = """\
    name: clinic_export
    extends: csv_default
    fields:
      type: {{from: {column}}}
    """


@pytest.fixture
def csv_check(tmp_path: Path, drop_dir: Path, write_settings: Callable[..., Path], cli: Any) -> Callable[..., Run]:
    def configure(column: str = "specialty", rows: list[dict[str, str]] | None = None) -> Run:
        write_drop(drop_dir, "export.csv", rows if rows is not None else csv_rows(), columns=HEADER)
        mapping = mapping_file(tmp_path, SITE_CSV_MAPPING.format(column=column))
        archive = tmp_path / "archive"
        run: Run = cli(write_settings(f"- name: desk\n  kind: csv\n  mapping: {mapping}\n  drop_dir: {drop_dir}\n"
                                      f"  archive_dir: {archive}\n"))
        return run

    return configure


def test_csv_a_misspelt_column_fails_and_names_the_real_one(csv_check: Callable[..., Run], drop_dir: Path) -> None:
    _, out, _ = csv_check("specialtyy")("check", expect=1)
    assert "field 'type' reads column 'specialtyy', which the source does not have; did you mean 'specialty'?" \
        in " ".join(out.split())
    assert (drop_dir / "export.csv").exists()  # a check never archives what it read


def test_csv_the_right_column_passes_and_says_how_the_sample_mapped(csv_check: Callable[..., Run]) -> None:
    rows = csv_rows(4)
    rows[1]["status"] = "rescheduled-by-phone"
    run = csv_check("specialty", rows)
    _, out, _ = run("check", "--json", expect=1)  # a sample that quarantines fails (issue 28 obs 3) ...
    assert not json.loads(out)["ok"] and json.loads(out)["quarantined"] == 1
    _, text, _ = run("check", expect=1)
    assert ("check: 1 sampled record(s) would be quarantined: fix the mapping (or the source) before going "
            "live, or pass --allow-quarantined") in " ".join(text.split())
    _, out, _ = run("check", "--json", "--allow-quarantined")  # ... unless allowed
    report = json.loads(out)
    desk = report["connectors"][0]
    assert report["ok"] and desk["ok"]
    assert desk["sample"]["records"] == 4 and desk["sample"]["mapped"] == 3
    [(reason, count)] = desk["sample"]["quarantined"].items()
    assert reason.startswith("status: unknown status word") and count == 1
    assert not [f for f in desk["findings"] if f["level"] == "error"]
    for row in rows:  # no patient data on screen
        assert row["patient_name"] not in out and row["patient_phone"] not in out
    # csv_default's columns this export leaves out are warnings, not errors
    assert any(f["path"] == "patient_email" and f["level"] == "warning" for f in desk["findings"])
    # and nothing moved: the next sync still reads every row
    _, synced, _ = run("sync", "--once", "--json", expect=None)
    assert json.loads(synced)["connectors"]["desk"]["fetched"] == 4


def test_csv_a_field_empty_on_every_record_is_pointed_out(csv_check: Callable[..., Run]) -> None:
    rows = [{**r, "specialty": ""} for r in csv_rows(3)]
    _, out, _ = csv_check("specialty", rows)("check", "--json")
    assert "type" in json.loads(out)["connectors"][0]["sample"]["empty_fields"]


@pytest.mark.parametrize(("body", "named"), [
    ("name: x\nextends: csv_default\nfields:\n  type: {fro: specialty}\n", "fields.type.fro"),
    ("name: x\nextends: csv_default\nfields:\n  timezone: {default: America/New_Yrok}\n", "fields.timezone.default"),
    ("name: x\nextends: csv_default\nfields:\n  patient.channel: {default: text}\n", "fields.patient.channel.default"),
    ("name: x\nextends: csv_default\nfields:\n  status: {default: bookd}\n", "fields.status.default"),
    ("name: x\nextends: csv_default\nfields:\n  typo_field: {from: a}\n", "typo_field"),
    ("name: x\nfields:\n  type: {from: a[0].b}\n", "not valid YAML (line 3"),
])
def test_a_mapping_that_does_not_load_fails_check_and_config_validate(
        body: str, named: str, tmp_path: Path, drop_dir: Path, write_settings: Callable[..., Path], cli: Any) -> None:
    write_drop(drop_dir, "export.csv", csv_rows(), columns=HEADER)
    mapping = mapping_file(tmp_path, body)
    run = cli(write_settings(f"- name: desk\n  kind: csv\n  mapping: {mapping}\n  drop_dir: {drop_dir}\n"))
    _, _, err = run("config", "validate", expect=2)
    assert "connectors[0].mapping" in err and named in " ".join(err.split())
    _, _, checked = run("check", expect=2)  # a settings error, as config validate says it
    assert checked == err


def test_a_missing_mapping_file_fails_check_and_config_validate(drop_dir: Path, write_settings: Callable[..., Path],
                                                                 cli: Any) -> None:
    run = cli(write_settings(f"- name: desk\n  kind: csv\n  mapping: maps/absent.yaml\n  drop_dir: {drop_dir}\n"))
    _, _, err = run("config", "validate", expect=2)
    assert "connectors[0].mapping" in err and "absent.yaml" in err
    _, _, checked = run("check", expect=2)
    assert checked == err and "no such file" in " ".join(err.split())


# -- SQL: the three-table schema small clinics write for themselves ------------------------
METADATA = MetaData()
PATIENTS = Table("patients", METADATA, Column("id", Integer, primary_key=True), Column("full_name", String(80)),
                 Column("phone", String(30)))
DOCTORS = Table("doctors", METADATA, Column("id", Integer, primary_key=True), Column("name", String(80)),
                Column("specialty", String(80)))
APPOINTMENTS = Table("appointments", METADATA, Column("id", Integer, primary_key=True),
                     Column("patient_id", Integer), Column("doctor_id", Integer), Column("starts_at", DateTime),
                     Column("minutes", Integer), Column("state", String(20)), Column("updated_at", DateTime))
QUERY = ("SELECT a.id, a.starts_at, a.minutes, a.state, a.updated_at, p.id AS pid, p.full_name, p.phone, "
         "d.id AS did, d.name AS doctor, d.specialty FROM appointments a JOIN patients p ON p.id = a.patient_id "
         "JOIN doctors d ON d.id = a.doctor_id")
SQL_MAPPING = """\
    name: practice
    status_map: {{open: booked, done: fulfilled}}
    fields:
      external_id: {{from: id, required: true}}
      start: {{from: starts_at, required: true}}
      duration_minutes: {{from: minutes}}
      status: {{from: state}}
      type: {{from: {column}}}
      patient.external_id: {{from: pid}}
      patient.name: {{from: full_name}}
      patient.phone: {{from: phone}}
      practitioner.external_id: {{from: did}}
      practitioner.name: {{from: doctor}}
    """


@pytest.fixture(params=["postgres", "mariadb"])
def practice_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "mariadb":
        url = str(request.getfixturevalue("mariadb_database")["url"])
    else:
        url = str(request.getfixturevalue("postgres_url"))
    engine = make_engine(url)
    METADATA.create_all(engine)
    start = datetime.now(UTC).replace(tzinfo=None, microsecond=0) + timedelta(days=2)
    with engine.begin() as connection:
        connection.execute(insert(PATIENTS), [{"id": i, "full_name": f"Zelda Quux{i}", "phone": f"201555017{i}"}
                                              for i in range(1, 4)])
        connection.execute(insert(DOCTORS), [{"id": 1, "name": "Dr. Hart", "specialty": "Cardiology"}])
        connection.execute(insert(APPOINTMENTS), [
            {"id": i, "patient_id": i % 3 + 1, "doctor_id": 1, "starts_at": start + timedelta(hours=i), "minutes": 30,
             "state": "open", "updated_at": start - timedelta(days=3)} for i in range(1, 7)])
    engine.dispose()
    yield url


def sql_settings(tmp_path: Path, url: str, column: str) -> str:
    mapping = mapping_file(tmp_path, SQL_MAPPING.format(column=column))
    return (f"- name: practice\n  kind: sql\n  url: \"{url}\"\n  mapping: {mapping}\n  query: \"{QUERY}\"\n"
            f"  cursor_column: updated_at\n  initial_cursor: '1970-01-01 00:00:00'\n")


@pytest.mark.postgres
def test_sql_a_misspelt_column_fails_and_names_the_real_one(practice_url: str, tmp_path: Path,
                                                            write_settings: Callable[..., Path], cli: Any) -> None:
    run = cli(write_settings(sql_settings(tmp_path, practice_url, "specialtyy")))
    _, out, _ = run("check", "--json", expect=1)
    findings = json.loads(out)["connectors"][0]["findings"]
    errors = [f["message"] for f in findings if f["level"] == "error"]
    assert len(errors) == 1 and "'specialtyy'" in errors[0] and "did you mean 'specialty'?" in errors[0]
    assert "Zelda" not in out


@pytest.mark.postgres
def test_sql_the_right_column_maps_the_sample_and_moves_no_cursor(practice_url: str, tmp_path: Path,
                                                                  write_settings: Callable[..., Path],
                                                                  cli: Any) -> None:
    run = cli(write_settings(sql_settings(tmp_path, practice_url, "specialty")))
    _, out, _ = run("check", "--json", "--sample", "4")
    practice = json.loads(out)["connectors"][0]
    assert practice["ok"] and practice["findings"] == []
    assert practice["sample"]["records"] == 4 and practice["sample"]["mapped"] == 4
    assert practice["sample"]["empty_fields"] == []
    _, synced, _ = run("sync", "--once", "--json")
    assert json.loads(synced)["connectors"]["practice"]["created"] == 6  # the first sync still reads all


# -- reply prompts -------------------------------------------------------------------------------
TWILIO = """
notifiers:
  - {name: sms, kind: twilio_sms, account_sid: AC00000000000000000000000000000000, auth_token: secret,
     from_number: "+15005550006"}
  - {name: outbox, kind: outbox, directory: outbox}
reminders: {channels: [sms, email], routes: {sms: sms, email: outbox}}
"""


def replies(run: Run, expect: int) -> dict[str, str]:
    _, out, _ = run("check", "--json", "--offline", expect=expect)  # the providers are not contacted
    return {p["message"].split(" ")[0]: p["level"] for p in json.loads(out)["replies"]}


def test_without_a_reply_path_no_shipped_message_asks_for_a_reply(write_settings: Callable[..., Path],
                                                                  cli: Any) -> None:
    """The shipped templates ask for a reply only when the server can receive one (issue 20);
    "Reply STOP to opt out" is the provider's own keyword, not a reply we must read."""
    assert replies(cli(write_settings(PUSH_ONLY_SOURCE, extra=TWILIO)), expect=0) == {}


def test_an_sms_asking_for_a_reply_nobody_receives_fails_check(write_settings: Callable[..., Path],
                                                               cli: Any) -> None:
    """The server is there, so messages ask; but the SMS notifier cannot hand replies to it."""
    no_inbound = TWILIO.replace("kind: twilio_sms, account_sid: AC00000000000000000000000000000000, "
                                "auth_token: secret,\n     from_number: \"+15005550006\"",
                                "kind: aws_sms, region: us-east-1, origination_identity: \"+15005550006\"")
    served = no_inbound + "server: {public_url: 'https://clinic.example'}\n"
    found = replies(cli(write_settings(PUSH_ONLY_SOURCE, extra=served)), expect=1)
    assert found == {"sms": "error", "email": "warning"}


def test_a_reply_path_for_sms_passes_check(write_settings: Callable[..., Path], cli: Any) -> None:
    served = TWILIO + "server: {public_url: 'https://clinic.example'}\n"
    assert replies(cli(write_settings(PUSH_ONLY_SOURCE, extra=served)), expect=0) == {"email": "warning"}


def test_emails_with_answer_links_ask_for_no_reply(write_settings: Callable[..., Path], cli: Any) -> None:
    linked = TWILIO + "server: {public_url: 'https://clinic.example', secret_key: 0123456789abcdef0123456789}\n"
    assert replies(cli(write_settings(PUSH_ONLY_SOURCE, extra=linked)), expect=0) == {}


# -- HL7 v2 batch files ----------------------------------------------------------------------------
def test_hl7_files_are_sampled_without_being_archived(tmp_path: Path, drop_dir: Path,
                                                     write_settings: Callable[..., Path], cli: Any) -> None:
    start = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y%m%d%H%M")
    batch = drop_dir / "siu.hl7"
    batch.write_text("".join(siu("S12", f"MSG{n}", "20260301120000", appointment=f"A{n}", start=start)
                             for n in range(1, 4)), encoding="utf-8")
    archive = tmp_path / "archive"
    run = cli(write_settings(f"- name: siu\n  kind: hl7v2\n  drop_dir: {drop_dir}\n  archive_dir: {archive}\n"
                             "  pattern: '*.hl7'\n  settle_seconds: 0\n"))
    _, out, _ = run("check", "--json", expect=None)
    siu_check = json.loads(out)["connectors"][0]
    assert siu_check["sample"]["source"] == "siu.hl7" and siu_check["sample"]["records"] == 3
    assert siu_check["sample"]["mapped"] == 3
    assert siu_check["ok"] and batch.exists()


def test_aws_two_way_sms_is_a_reply_path(write_settings: Callable[..., Path], cli: Any) -> None:
    aws = """
notifiers:
  - {name: sms, kind: aws_sms, region: us-east-1, origination_identity: "+12125550100",
     inbound_topic_arns: ["arn:aws:sns:us-east-1:123456789012:clinic-sms"]}
  - {name: outbox, kind: outbox, directory: outbox}
reminders: {channels: [sms, email], routes: {sms: sms, email: outbox}}
server: {public_url: 'https://clinic.example'}
"""
    assert replies(cli(write_settings(PUSH_ONLY_SOURCE, extra=aws)), expect=0) == {"email": "warning"}
    one_way = aws.replace('inbound_topic_arns: ["arn:aws:sns:us-east-1:123456789012:clinic-sms"]',
                          "check_opt_out: true")
    found = replies(cli(write_settings(PUSH_ONLY_SOURCE, extra=one_way)), expect=1)
    assert found == {"sms": "error", "email": "warning"}
