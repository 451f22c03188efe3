"""`clinicsync check` fails a valid-but-wrong mapping (issue 57): the same practice in a real
PostgreSQL database, read through mappings that all map every row without an error — and
each of the wrong ones exits 1 naming the field and the fix; the right one exits 0.

The practice: 120 visits in the next weeks, 08:00-17:45 New York time, 50 patients, three
doctors, two front-desk users who create the rows, three services, and every tenth row
voided (the schema never deletes). The admin's connector reads it with a query; each
wrong mapping is one mistake `discover` or a hand-written query really makes."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pymysql
import pytest

from tests.conftest import postgres_schema

ZONE = "America/New_York"
VISITS, PATIENTS = 120, 50
DDL = """
CREATE TABLE users (id integer PRIMARY KEY, username text NOT NULL);
CREATE TABLE services (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE providers (id integer PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE patients (id integer PRIMARY KEY, name text NOT NULL, phone text, email text);
CREATE TABLE appointments (
  id integer PRIMARY KEY, patient_id integer NOT NULL REFERENCES patients(id),
  provider_id integer NOT NULL REFERENCES providers(id), service_id integer NOT NULL REFERENCES services(id),
  created_by integer NOT NULL REFERENCES users(id), starts_at timestamp NOT NULL, minutes integer NOT NULL,
  status text NOT NULL, voided boolean NOT NULL DEFAULT false
);
"""
MAPPING = """\
name: practice
status_map: {scheduled: booked, confirmed: booked, cancelled: cancelled}
fields:
  external_id: {from: id}
  start: {from: starts_at}
  duration_minutes: {from: minutes}
  status: {from: status}
  type: {from: service}
  patient.external_id: {from: patient_id}
  patient.name: {from: patient_name}
  patient.phone: {from: patient_phone}
  patient.email: {from: patient_email}
  practitioner.external_id: {from: provider_id}
  practitioner.name: {from: doctor_name}
"""
# The right query; each wrong one changes one part of it.
COLUMNS = {"patient_id": "a.patient_id", "patient_name": "p.name", "starts_at": "a.starts_at"}
QUERY = """SELECT a.id, {patient_id} AS patient_id, {patient_name} AS patient_name, p.phone AS patient_phone,
  p.email AS patient_email, a.provider_id, d.name AS doctor_name, s.name AS service, {starts_at} AS starts_at,
  a.minutes, a.status, a.voided
FROM appointments a JOIN patients p ON p.id = a.patient_id JOIN providers d ON d.id = a.provider_id
  JOIN services s ON s.id = a.service_id {where}"""


def query(where: str = "WHERE NOT a.voided", **wrong: str) -> str:
    return QUERY.format(**{**COLUMNS, **wrong}, where=where)


@pytest.fixture(scope="module")
def practice() -> Iterator[str]:
    """The practice, once for the module: every test reads it, none writes."""
    with postgres_schema() as url, psycopg.connect(url, autocommit=True) as connection:
        connection.execute(DDL)
        rng = random.Random(57)
        today = datetime.now(ZoneInfo(ZONE)).date()
        slots: set[datetime] = set()
        while len(slots) < VISITS:
            day = today + timedelta(days=rng.randint(2, 40))
            slots.add(datetime.combine(day, time(rng.randint(8, 17), rng.choice((0, 15, 30, 45)))))
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO users VALUES (%s, %s)", [(1, "frontdesk"), (2, "nurse")])
            cursor.executemany("INSERT INTO services VALUES (%s, %s)",
                               [(1, "Consultation"), (2, "Follow-up"), (3, "Vaccination")])
            cursor.executemany("INSERT INTO providers VALUES (%s, %s, %s)",
                               [(n, f"Dr. Doc{n}", f"doc{n}@clinic.example") for n in (1, 2, 3)])
            cursor.executemany("INSERT INTO patients VALUES (%s, %s, %s, %s)",
                               [(100 + n, f"Zelda Quill{n}", f"+1 212 555 {1000 + n}", f"z{n}@example.org")
                                for n in range(PATIENTS)])
            cursor.executemany(
                "INSERT INTO appointments VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(1 + n, 100 + rng.randrange(PATIENTS), 1 + n % 3, 1 + n % 3, 1 + n % 2, start, rng.choice((15, 30)),
                  ("scheduled", "confirmed", "scheduled", "cancelled")[n % 4], n % 10 == 9)
                 for n, start in enumerate(sorted(slots))])
        yield url


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def configure(practice: str, tmp_path: Path, write_settings: Callable[..., Path], cli: Any) -> Callable[..., Any]:
    """The admin's settings: the practice read with ``sql`` (and connector ``options``)."""
    (tmp_path / "practice.yaml").write_text(MAPPING, encoding="utf-8")

    def settings(sql: str, **options: str) -> Any:
        connector = {"name": "practice", "kind": "sql", "mapping": str(tmp_path / "practice.yaml"), "url": practice,
                     "query": sql, "mode": "snapshot", **options}
        text = "- " + "\n  ".join(f"{k}: {json.dumps(v)}" for k, v in connector.items()) + "\n"
        return cli(write_settings(text, timezone=ZONE))

    return settings


@pytest.fixture
def check(configure: Callable[..., Any]) -> Callable[..., Any]:
    """`clinicsync check --json` (and as the admin reads it) on the practice read with ``sql``."""

    def run(sql: str, expect: int, **options: str) -> tuple[dict[str, Any], str]:
        command = configure(sql, **options)
        _, out, _ = command("check", "--json", expect=expect)
        _, plain, _ = command("check", expect=expect)
        assert "Quill" not in out + plain and "+1 212" not in out + plain and "frontdesk" not in out + plain
        result = json.loads(out)["connectors"][0]
        assert result["sample"]["quarantined"] == {}  # valid: every row maps
        return result, plain

    return run


def errors(result: dict[str, Any]) -> list[dict[str, str]]:
    return [f for f in result["plausibility"]["findings"] if f["level"] == "error"]


@pytest.mark.postgres
def test_the_right_mapping_passes(check: Callable[..., Any]) -> None:
    result, plain = check(query(), expect=0)
    assert result["ok"] and result["sample"]["mapped"] == VISITS - VISITS // 10
    assert errors(result) == []
    assert "practice: plausibility: 108 visits; local start hours 08:00-17:59, 0 of 108 at night" in plain


@pytest.mark.postgres
def test_naive_utc_read_as_local_times_fails_five_hours_late(check: Callable[..., Any]) -> None:
    wrong = query(starts_at=f"(a.starts_at AT TIME ZONE '{ZONE}') AT TIME ZONE 'UTC'")  # the database keeps UTC
    result, plain = check(wrong, expect=1)
    (finding,) = errors(result)
    assert finding["field"] == "start" and "times look shifted by +5 hours" in finding["message"]
    assert "`stored_times: utc`" in finding["message"] and "`timezone:`" in finding["message"]
    assert "error: start: times look shifted by +5 hours" in plain
    fixed, _ = check(wrong, expect=0, stored_times="utc")  # the fix it names: right again
    assert errors(fixed) == [] and "0 of 108 at night" in fixed["plausibility"]["summary"]


@pytest.mark.postgres
def test_an_admin_who_has_looked_may_allow_it(configure: Callable[..., Any]) -> None:
    command = configure(query(starts_at=f"(a.starts_at AT TIME ZONE '{ZONE}') AT TIME ZONE 'UTC'"))
    _, out, _ = command("check", "--allow-implausible")
    assert "1 plausibility error(s) allowed by --allow-implausible" in out
    assert "error: start: times look shifted by +5 hours" in out and out.rstrip().endswith(", 0 problems")


@pytest.mark.postgres
def test_local_times_read_as_utc_fails_five_hours_early(check: Callable[..., Any]) -> None:
    result, _ = check(query(starts_at="a.starts_at AT TIME ZONE 'UTC'"), expect=1)
    (finding,) = errors(result)
    assert finding["field"] == "start" and "times look shifted by -5 hours" in finding["message"]
    assert "`stored_times: local`" in finding["message"] and "`timezone:`" in finding["message"]


@pytest.mark.postgres
def test_a_connector_zone_of_utc_fails_the_visits_zone(check: Callable[..., Any]) -> None:
    result, _ = check(query(), expect=1, timezone="UTC")  # the docs' old advice for a database in UTC
    assert [(f["check"], f["field"]) for f in errors(result)] == [("visit_zone", "timezone")]
    assert "`stored_times: utc`" in errors(result)[0]["message"]


@pytest.mark.postgres
def test_the_row_s_creator_as_the_patient_fails(check: Callable[..., Any]) -> None:
    result, _ = check(query(patient_id="a.created_by"), expect=1)
    (finding,) = errors(result)
    assert finding["field"] == "patient.external_id" and "2 distinct patient(s) for 108 visits" in finding["message"]
    assert "(the mapping reads `patient_id`)" in finding["message"] and "creator" in finding["message"]


@pytest.mark.postgres
def test_the_appointment_key_as_the_patient_id_fails(check: Callable[..., Any]) -> None:
    result, _ = check(query(patient_id="a.id"), expect=1)
    (finding,) = errors(result)
    assert finding["field"] == "patient.external_id"
    assert "equals the appointment's own id (external_id) on 108 of 108 (100%)" in finding["message"]
    assert "Map patient.external_id" in finding["message"]


@pytest.mark.postgres
def test_the_service_as_the_patient_s_name_fails(check: Callable[..., Any]) -> None:
    result, _ = check(query(patient_name="s.name"), expect=1)
    (finding,) = errors(result)
    assert finding["field"] == "patient.name" and "equals the visit type (type)" in finding["message"]
    assert "Map patient.name" in finding["message"]


@pytest.mark.postgres
def test_soft_deleted_rows_included_fail(check: Callable[..., Any]) -> None:
    result, _ = check(query(where=""), expect=1)  # the voided rows are read too
    (finding,) = errors(result)
    assert finding["field"] == "status" and "`voided` on 6" in finding["message"]  # 12 voided, 6 cancelled
    assert "`WHERE NOT voided` (or `voided = 0`)" in finding["message"]


@pytest.mark.postgres
def test_the_dry_run_shows_the_profile(configure: Callable[..., Any]) -> None:
    command = configure(query(starts_at=f"(a.starts_at AT TIME ZONE '{ZONE}') AT TIME ZONE 'UTC'"))
    _, out, err = command("sync", "--once", "--dry-run")
    assert "dry run: practice: plausibility: 108 visits; local start hours 13:00-22:59" in " ".join(out.split())
    assert "practice: error: start: times look shifted by +5 hours" in err
    _, report, _ = command("sync", "--once", "--dry-run", "--json")
    profile = json.loads(report)["plausibility"]["practice"]
    assert profile["visits"] == 108 and not profile["ok"]
    assert [f["field"] for f in profile["findings"] if f["level"] == "error"] == ["start"]
    assert "Quill" not in out + err + report
    _, right, err = configure(query())("sync", "--once", "--dry-run")
    assert "0 of 108 at night" in " ".join(right.split()) and "error:" not in err


@pytest.mark.postgres
def test_discover_write_ends_with_the_profile(practice: str, tmp_path: Path, cli: Any) -> None:
    """`discover --write` checks what it wrote: the profile is part of that check, and an
    error in it is discover's exit 1, as in `check`."""
    (tmp_path / "settings.yaml").write_text(f"clinic: {{timezone: {ZONE}, default_region: US}}\n"
                                            f"store: {{url: 'sqlite:///{tmp_path / 'store.db'}'}}\n"
                                            "connectors: []\n", encoding="utf-8")
    code, out, _ = cli(tmp_path / "settings.yaml")("discover", practice, "--table", "appointments", "--write",
                                                   "--timezone", ZONE, expect=None)
    lines = out.splitlines()
    assert any(": plausibility: " in line and "visits; local start hours" in line for line in lines), out
    assert lines[-1].startswith("checked: 1 sources")
    failed = [line for line in lines if ": error: " in line]
    assert code == (1 if failed or not lines[-1].endswith(", 0 problems") else 0)
    assert "Quill" not in out


@pytest.mark.mariadb
@pytest.mark.parametrize(("column", "ddl", "dead", "alive", "keep"), [
    ("is_deleted", "TINYINT(1) NOT NULL DEFAULT 0", 1, 0, "WHERE is_deleted = 0"),  # pymysql: an int
    ("active", "BIT(1) NOT NULL DEFAULT b'1'", 0, 1, "WHERE active = 1"),  # pymysql: bytes
    ("deleted_at", "DATETIME NULL", "2026-01-05 10:00:00", None, "WHERE deleted_at IS NULL"),  # a datetime
])
def test_soft_deleted_rows_in_mariadb_fail_naming_the_column(mariadb_database: dict[str, Any], tmp_path: Path,
                                                            write_settings: Callable[..., Path], cli: Any,
                                                            column: str, ddl: str, dead: Any, alive: Any,
                                                            keep: str) -> None:
    """The same mistake in MariaDB, with each kind of soft-delete column its driver hands back.
    The practice's own data: 30 visits, every sixth row deleted, 5 of them."""
    connection = pymysql.connect(**{k: v for k, v in mariadb_database.items() if k != "url"}, autocommit=True)
    with connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE visits (id INT PRIMARY KEY, patient_id INT NOT NULL, starts_at DATETIME NOT "
                       f"NULL, status VARCHAR(20) NOT NULL, {column} {ddl})")
        day = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=3)
        rows = [(n, 100 + n % 7, datetime.combine(day + timedelta(days=n // 8), time(8 + n % 8)), "scheduled",
                 dead if n % 6 == 0 else alive) for n in range(1, 31)]
        cursor.executemany("INSERT INTO visits VALUES (%s, %s, %s, %s, %s)", rows)
    (tmp_path / "visits.yaml").write_text("name: visits\nstatus_map: {scheduled: booked}\nfields:\n"
                                          "  external_id: {from: id}\n  start: {from: starts_at}\n"
                                          "  duration_minutes: {value: 30}\n  status: {from: status}\n"
                                          "  patient.external_id: {from: patient_id}\n", encoding="utf-8")

    def check(where: str, expect: int) -> list[dict[str, str]]:
        connector = {"name": "visits", "kind": "sql", "mapping": str(tmp_path / "visits.yaml"),
                     "url": mariadb_database["url"], "query": f"SELECT * FROM visits {where}", "mode": "snapshot"}
        text = "- " + "\n  ".join(f"{k}: {json.dumps(v)}" for k, v in connector.items()) + "\n"
        # no phone or email in this table: a calendar-less feed with reminders off, else it reminds nobody
        quiet = "reminders:\n  enabled: false\n"
        _, out, _ = cli(write_settings(text, extra=quiet, timezone=ZONE))("check", "--json", expect=expect)
        return errors(json.loads(out)["connectors"][0])

    (finding,) = check("", expect=1)
    assert finding["check"] == "soft_deleted" and f"`{column}` on 5" in finding["message"]
    assert check(keep, expect=0) == []


# `check` fails a setup that cannot do its job: each one valid, each one mapping every row.

@pytest.mark.postgres
def test_a_setup_that_can_remind_nobody_fails_naming_the_likeliest_column(check: Callable[..., Any]) -> None:
    """The phone sits in the query under a name the mapping does not read; it used to be a
    warning ("0 of 108 can be reminded") and `check` exited 0."""
    wrong = query().replace("p.phone AS patient_phone,\n  p.email AS patient_email",
                            "NULL AS patient_phone, NULL AS patient_email, p.phone AS mobile_no")
    result, plain = check(wrong, expect=1)
    (finding,) = errors(result)
    assert "error: patient.phone, patient.email: only 0 of 84" in plain
    assert finding["field"] == "patient.phone" and "only 0 of 84 (0%) upcoming visits" in finding["message"]
    assert "`mobile_no` (on 84)" in finding["message"]
    assert "(the mapping reads `patient_phone`)" in finding["message"]


@pytest.mark.postgres
def test_the_likeliest_column_is_never_the_doctor_s_or_an_emergency_contact_s(check: Callable[..., Any]) -> None:
    """The query joins the doctor's email and an emergency contact's phone, and the patient's
    phone under a name the mapping does not read: the hint used to name the doctor's and the
    emergency contact's columns as the patient's (a PHP hospital app: `doctor_contactno`). It
    names the patient's own table's column first, and never theirs."""
    wrong = query().replace("p.phone AS patient_phone,\n  p.email AS patient_email",
                            "NULL AS patient_phone, NULL AS patient_email, d.email AS doctor_email, "
                            "p.phone AS emergency_phone, d.email AS contact_email, p.phone AS patient_mobile")
    result, _ = check(wrong, expect=1)
    (finding,) = errors(result)
    message = finding["message"]
    assert "the likeliest columns: `patient_mobile` (on 84), `contact_email` (on 84)," in message, message
    assert "doctor_email" not in message and "emergency_phone" not in message


@pytest.mark.postgres
def test_a_consent_flag_that_says_no_on_every_row_is_named_not_the_mapped_phone(check: Callable[..., Any],
                                                                                  tmp_path: Path) -> None:
    """The phone and email are mapped, and so is a consent flag whose every row says no (a
    product's default nobody set: an EHR's allow-SMS column is 'NO' until a form changes it).
    Nobody can be reminded, so `check` fails; the hint used to name the patient's phone column,
    already mapped, as the column to map. It names the consent columns instead."""
    (tmp_path / "practice.yaml").write_text(MAPPING + "  patient.allow_sms: {from: allow_sms}\n"
                                            "  patient.allow_email: {from: allow_email}\n", encoding="utf-8")
    result, plain = check(query().replace("p.email AS patient_email",
                                          "p.email AS patient_email, 'NO' AS allow_sms, 'NO' AS allow_email"),
                          expect=1)
    (finding,) = errors(result)
    message = finding["message"]
    assert finding["field"] == "patient.phone" and "only 0 of 84 (0%) upcoming visits" in message
    assert "84 of them have a phone or an email, and the consent mapped says no" in message, message
    assert "(the mapping reads `allow_sms`) (the mapping reads `allow_email`)" in message, message
    assert "likeliest columns" not in message and "error: patient.phone" in plain


@pytest.mark.postgres
def test_the_summary_counts_each_error_line(check: Callable[..., Any]) -> None:
    """No doctor's name and no patient's phone or email: two `error:` lines, which the last line
    counted as "1 problems" (one per source); it counts what it prints, in proper English."""
    wrong = query().replace("d.name AS doctor_name", "NULL AS doctor_name").replace(
        "p.phone AS patient_phone,\n  p.email AS patient_email", "NULL AS patient_phone, NULL AS patient_email")
    result, plain = check(wrong, expect=1)
    assert len(errors(result)) == 2
    lines = plain.rstrip().splitlines()
    assert sum(": error: " in line for line in lines) == 2 and lines[-1].endswith(", 2 problems"), plain


@pytest.mark.postgres
def test_doctors_without_name_or_email_fail_when_agendas_are_on(check: Callable[..., Any]) -> None:
    """A slot's or resource's key as the doctor: an id on every visit, no name, no email."""
    result, _ = check(query().replace("d.name AS doctor_name", "NULL AS doctor_name"), expect=1)
    (finding,) = errors(result)
    assert finding["field"] == "practitioner.name" and "none of the 84 upcoming visits" in finding["message"]


@pytest.mark.postgres
def test_no_doctor_on_any_visit_fails_when_agendas_are_on(check: Callable[..., Any]) -> None:
    """No doctor at all (the provider column never read): agendas, on by default, reach nobody.
    It used to be the warning "only 0 of 84 upcoming visits have a doctor" and `check` exited 0."""
    result, plain = check(query().replace("a.provider_id,", "NULL AS provider_id,"), expect=1)
    (finding,) = errors(result)
    assert finding["field"] == "practitioner.external_id" and "none of the 84 upcoming visits" in finding["message"]
    assert "reminders.agenda.enabled: false" in finding["message"] and "error: practitioner.external_id" in plain


@pytest.mark.postgres
def test_a_patient_name_ending_in_a_date_fails(check: Callable[..., Any]) -> None:
    result, _ = check(query(patient_name="p.name || ' ' || to_char(a.starts_at - interval '40 days', "
                                         "'YYYY-MM-DD HH24:MI:SS')"), expect=1)
    (finding,) = errors(result)
    assert finding["field"] == "patient.name" and "holds a date, a time or a number on 108 of 108" in \
        finding["message"]


@pytest.mark.postgres
def test_nothing_read_fails(check: Callable[..., Any]) -> None:
    """An empty look-alike table, or a filter that leaves every row out: 0 records, exit 1."""
    result, plain = check(query(where="WHERE a.voided AND NOT a.voided"), expect=1)
    assert result["problems"] and result["problems"][0].startswith("0 records sampled")
    assert "checked: 1 sources, 0 records sampled, 0 would be quarantined, 1 problem\n" in plain + "\n"


@pytest.mark.postgres
def test_no_clinic_name_fails_while_reminders_are_on(configure: Callable[..., Any], tmp_path: Path) -> None:
    command = configure(query())
    settings = tmp_path / "settings.yaml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("  name: clinic\n", ""), encoding="utf-8")
    _, out, _ = command("check", "--json", expect=1)
    (finding,) = [f for f in json.loads(out)["findings"] if f["part"] == "clinic"]
    assert finding["level"] == "error" and "Add `name:` under `clinic:`" in finding["message"]
    settings.write_text(settings.read_text(encoding="utf-8") + "reminders:\n  enabled: false\n", encoding="utf-8")
    command("check", expect=0)  # no messages, nothing to name


@pytest.fixture
def status_report(tmp_path: Path, write_settings: Callable[..., Path], cli: Any) -> Callable[..., dict[str, Any]]:
    """`check --json --offline`'s report of a visits table holding ten upcoming 'scheduled' rows
    and, last year, one row per word of ``old_words``, read with a mapping whose status part is
    ``status_map`` (a top-level line, or "") and ``status`` (the field's spec)."""
    def report(old_words: list[str], status: str, status_map: str = "") -> dict[str, Any]:
        with postgres_schema() as url, psycopg.connect(url, autocommit=True) as connection:
            connection.execute("CREATE TABLE visits (id integer PRIMARY KEY, patient_id integer NOT NULL, "
                               "phone text, starts_at timestamp NOT NULL, status text NOT NULL)")
            day = datetime.now(ZoneInfo(ZONE)).date()
            rows = [(n, 100 + n, f"+1 212 555 {1000 + n}",
                     datetime.combine(day + timedelta(days=2 + n), time(9 + n % 8)), "scheduled")
                    for n in range(1, 11)]
            rows += [(n, 100 + n, None, datetime.combine(day - timedelta(days=400 + n), time(10)), word)
                     for n, word in enumerate(old_words, 11)]
            with connection.cursor() as cursor:
                cursor.executemany("INSERT INTO visits VALUES (%s, %s, %s, %s, %s)", rows)
            (tmp_path / "visits.yaml").write_text(
                f"name: visits\n{status_map}fields:\n  external_id: {{from: id}}\n  start: {{from: starts_at}}\n"
                f"  duration_minutes: {{value: 30}}\n  status: {status}\n"
                "  patient.external_id: {from: patient_id}\n  patient.phone: {from: phone}\n"
                "  practitioner.external_id: {value: dr-1}\n  practitioner.name: {value: Dr One}\n",
                encoding="utf-8")
            connector = {"name": "visits", "kind": "sql", "mapping": str(tmp_path / "visits.yaml"), "url": url,
                         "mode": "snapshot", "query": "SELECT * FROM visits WHERE starts_at BETWEEN :window_start "
                                                      "AND :window_end"}
            text = "- " + "\n  ".join(f"{k}: {json.dumps(v)}" for k, v in connector.items()) + "\n"
            _, out, _ = cli(write_settings(text, timezone=ZONE))("check", "--json", "--offline")
        result: dict[str, Any] = json.loads(out)["connectors"][0]
        return result
    return report


@pytest.mark.postgres
def test_unknown_status_words_beyond_the_window_are_listed(status_report: Callable[..., dict[str, Any]]) -> None:
    """Last year's rows carry a word the mapping does not know: no visit in the window has it, so
    every row read maps, yet `check` lists the word (it quarantines the day such a row is read).
    FHIR's word as a product spells it (EnteredInError) is read by the sync, so not listed."""
    result = status_report(["purged"] * 3 + ["EnteredInError"] * 2, "{from: status}",
                           status_map="status_map: {scheduled: booked}\n")
    assert result["sample"]["records"] == 10 and result["sample"]["quarantined"] == {}
    (finding,) = [f for f in result["plausibility"]["findings"] if f["check"] == "statuses"]
    assert finding["level"] == "warning" and "'purged' (3 row(s))" in finding["message"]
    assert "EnteredInError" not in finding["message"] and "1 word(s)" in finding["message"]


@pytest.mark.postgres
def test_status_words_the_status_field_maps_are_not_listed(status_report: Callable[..., dict[str, Any]]) -> None:
    """The mapping maps its words under `status: map:` (no status_map): last year's 'purged' is
    in that map, so a sync reads it and `check` does not list it; 'archived' is in no map, and
    'booked', though a standard status, is not in the field's map either, which a sync refuses
    (the map is the field's whole vocabulary): both listed."""
    result = status_report(["purged", "Purged ", "archived", "booked"],
                           "{from: status, map: {scheduled: booked, purged: cancelled}}")
    assert result["sample"]["records"] == 10 and result["sample"]["quarantined"] == {}
    (finding,) = [f for f in result["plausibility"]["findings"] if f["check"] == "statuses"]
    assert "purged" not in finding["message"].lower() and "2 word(s)" in finding["message"]
    assert "'archived' (1 row(s))" in finding["message"] and "'booked' (1 row(s))" in finding["message"]
    assert finding["message"].endswith("give each a status under `status: map:` (the field's own map)")


def test_no_source_at_all_fails(write_settings: Callable[..., Path], cli: Any) -> None:
    """discover stopped to ask and wrote nothing: `check` used to say "0 sources … 0 problems"
    and exit 0 on a setup that reads nothing."""
    _, out, _ = cli(write_settings())("check", "--json", "--offline", expect=1)
    report = json.loads(out)
    (finding,) = [f for f in report["findings"] if f["level"] == "error"]
    assert finding["message"].startswith("connectors: no source is configured")
    assert "clinicsync discover <url> --write" in finding["message"]


SMTP_ONLY = ("notifiers:\n  - {name: mail, kind: smtp, host: 127.0.0.1, port: 2525, security: none, "
             "sender: 'C <r@clinic.example>'}\n")


@pytest.mark.postgres
def test_phones_with_only_an_email_notifier_remind_nobody(configure: Callable[..., Any], tmp_path: Path) -> None:
    """Every patient has a phone and none an email, and the only notifier sends email: every
    reminder would be planned and skipped. Counting "a phone or an email" passed it (84 of 84 can
    be reminded); reachable is now on a channel that is sent, and the finding names the notifier
    missing. The same visits with an SMS-capable outbox beside it pass."""
    command = configure(query().replace("p.email AS patient_email", "NULL AS patient_email"))
    settings = tmp_path / "settings.yaml"
    plain_settings = settings.read_text(encoding="utf-8")
    settings.write_text(plain_settings + SMTP_ONLY, encoding="utf-8")
    _, out, _ = command("check", "--json", "--offline", expect=1)
    (finding,) = errors(json.loads(out)["connectors"][0])
    assert finding["field"] == "patient.phone" and "only 0 of 84 (0%) upcoming visits" in finding["message"]
    assert "84 have only a phone" in finding["message"] and "add a notifier for SMS" in finding["message"]
    settings.write_text(plain_settings, encoding="utf-8")  # the default dry-run outbox sends every channel
    command("check", "--offline", expect=0)


@pytest.mark.postgres
def test_a_mapped_doctor_email_no_doctor_has_warns_when_agendas_are_on(check: Callable[..., Any],
                                                                       tmp_path: Path) -> None:
    """The doctor's email read from rows no doctor owns (a patients' typed contact table): every
    doctor has a name, none an email, and the agendas (on by default) go to the email. It used to
    pass without a word, and no doctor ever got an agenda; a warning (a source whose doctors keep
    no email is set up right, and says so the same way)."""
    (tmp_path / "practice.yaml").write_text(MAPPING + "  practitioner.email: {from: doctor_email}\n", encoding="utf-8")
    result, plain = check(query().replace("d.name AS doctor_name", "d.name AS doctor_name, NULL AS doctor_email"),
                          expect=0)
    (finding,) = [f for f in result["plausibility"]["findings"] if f["field"] == "practitioner.email"]
    assert finding["level"] == "warning" and "none of the 84 upcoming visits" in finding["message"]
    assert "`doctor_email`" in finding["message"] and "warning: practitioner.email" in plain
    result, _ = check(query().replace("d.name AS doctor_name", "d.name AS doctor_name, d.email AS doctor_email"),
                      expect=0)
    assert not [f for f in result["plausibility"]["findings"] if f["field"] == "practitioner.email"]
