"""`discover` on the real shape of OSCAR EMR in MariaDB (tests/fixtures/oscar, with its
SOURCE note): MyISAM tables with no declared foreign key, the visit's day (`appointment_date`)
apart from its times (`start_time`, `end_time`), the doctor named by a text `provider_no` into
`provider`, the patient by a number `demographic_no` into `demographic` (home phone `phone`,
work phone `phone2`), the status a one-letter code whose case matters ('t' to do, 'H' here,
'C' cancelled …), `name` a copy of the patient's name typed at booking; times are the
clinic's wall clock. Driven as the admin would: ``discover --write`` (which runs ``check``),
then ``sync --once``; and once more named by its table (``--table appointment``: what discover
does with a version or a fork it does not recognize), read by its shape."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.discover import real_ehr_support as real

ZONE = "America/Toronto"
REGION = "CA"
FIXTURE = real.data.OSCAR_SCHEMA  # the one copy of OSCAR's tables, shared with the recognition tests
DOCTORS = [("101", "Sarah", "Chen"), ("102", "Michael", "Tremblay"), ("999998", "Nurse", "Practitioner")]
CODES = {"t": "booked", "T": "booked", "H": "arrived", "N": "noshow", "C": "cancelled", "B": "fulfilled"}
WEIGHTS = [70, 10, 5, 4, 7, 4]
FIRST = ["Emily", "Liam", "Olivia", "Noah", "Chloe", "William", "Jessica", "Ethan", "Sophie"]
LAST = ["Wilson", "Gagnon", "Roy", "MacDonald", "Singh", "Lee", "Campbell", "Bouchard"]
PATIENTS, VISITS = 50, 140


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The product's rows; what the store must then hold per visit."""
    real.run_ddl(cursor, FIXTURE)
    rng = random.Random(6503)
    now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, second=0, microsecond=0)  # the clinic's clock
    now -= timedelta(minutes=now.minute % 15)  # rows created on the quarter hour: creation stamps on the
    # clinic's grid look like visit starts by their values, and must not be taken for the start
    for number, first, last in DOCTORS:
        cursor.execute("INSERT INTO provider (provider_no, last_name, first_name, provider_type, specialty, team, "
                       "sex, phone, ohip_no, status) VALUES (%s, %s, %s, 'doctor', 'GP', '', 'F', "
                       "'416-555-0100', %s, '1')", (number, last, first, f"{number}123"))
    patients: dict[int, tuple[str, str | None, str | None]] = {}
    for p in range(1, PATIENTS + 1):
        first, last = FIRST[p % len(FIRST)], LAST[p % len(LAST)]
        phone = None if p % 9 == 0 else f"416-555-{2000 + p:04d}"
        email = None if p % 3 == 0 else f"{first.lower()}.{last.lower()}{p}@mail.example.ca"
        cursor.execute("INSERT INTO demographic (demographic_no, last_name, first_name, address, city, province, "
                       "postal, phone, phone2, email, year_of_birth, month_of_birth, date_of_birth, hin, ver, "
                       "roster_status, patient_status, date_joined, chart_no, provider_no, sex) VALUES (%s, %s, %s, "
                       "'12 King St', 'Toronto', 'ON', 'M5H 1A1', %s, %s, %s, %s, %s, %s, %s, 'AB', 'RO', 'AC', %s, "
                       "%s, %s, 'F')",
                       (p, last, first, phone, phone and f"416-555-{7000 + p:04d}", email, str(1950 + p % 50),
                        f"{1 + p % 12:02d}", f"{1 + p % 28:02d}", f"{rng.randrange(10**10):010d}",
                        now.date() - timedelta(days=900), str(p), DOCTORS[p % 2][0]))
        patients[p] = (f"{first} {last}", None if phone is None else f"+1416555{2000 + p:04d}", email)
    truth: dict[str, dict[str, Any]] = {}
    for visit in range(1, VISITS + 1):
        number, first, last = DOCTORS[visit % len(DOCTORS)]
        patient = 1 + rng.randrange(PATIENTS)
        code = rng.choices(list(CODES), WEIGHTS)[0]
        day = now.date() + timedelta(days=1 + visit % 20)
        start = datetime(day.year, day.month, day.day, 9 + visit % 8, 15 * (visit % 4))
        minutes = 15 if visit % 3 else 30
        name, phone, email = patients[patient]
        cursor.execute("INSERT INTO appointment (appointment_no, provider_no, appointment_date, start_time, end_time, "
                       "name, demographic_no, notes, reason, location, resources, type, style, billing, status, "
                       "createdatetime, creator, remarks) VALUES (%s, %s, %s, %s, %s, %s, %s, '', %s, '', '', '', "
                       "'', '', %s, %s, 'frontdesk', '')",
                       (visit, number, day, start.time(), (start + timedelta(minutes=minutes - 1)).time(),
                        ",".join(reversed(name.split())), patient, "Follow up" if visit % 2 else "Annual physical",
                        code, now - timedelta(days=1 + visit % 9)))
        truth[str(visit)] = {
            "start": start.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": CODES[code], "code": code, "patient_id": str(patient), "name": name, "phone": phone,
            "email": email, "doctor_id": number, "doctor_name": f"{first} {last}"}
    for blocked in range(VISITS + 1, VISITS + 6):  # a doctor's blocked time: no patient (demographic_no 0)
        day = now.date() + timedelta(days=blocked % 10)
        cursor.execute("INSERT INTO appointment (appointment_no, provider_no, appointment_date, start_time, end_time, "
                       "name, demographic_no, status) VALUES (%s, '101', %s, '12:00:00', '12:59:00', '.Lunch', 0, "
                       "'t')", (blocked, day))
    return truth


# What the admin types when discover, reading the shape, lists OSCAR's one-letter codes as
# unknown (a letter says nothing by itself: left for `check` to ask, never guessed).
STATUS_LINES = "status_map:\n  t: booked\n  H: arrived\n  N: noshow\n  C: cancelled\n  B: fulfilled\n"


@pytest.mark.mariadb
def test_oscar_recognized(mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"])])
    assert connector["query_preset"] == "oscar"
    _compare(run, connector, truth)


@pytest.mark.mariadb
def test_oscar_by_its_shape(mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    """Named by its table: the day and the times in two columns make the start and end, the
    window is on the day column (never every row of the table), the number and text references
    with no declared key are followed to the patient's and the doctor's names, and the status
    letters are asked for, not guessed: `check` fails until the admin maps them."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    before = settings.read_text(encoding="utf-8")
    # no --timezone nor --stored-times: the visits' hours (none at night read as local time, some
    # read as UTC) say the practice system keeps the clinic's wall clock
    command = [str(mariadb_database["url"]), "--table", "appointment"]
    _, out, _ = run("discover", *command, "--write", expect=1)
    assert "stored_times: local (the default): the database keeps local time: of 140 visit starts" in out, out
    assert "140 would be quarantined (reasons: status x140)" in out, out
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    assert "a.appointment_date BETWEEN CAST(:window_start AS DATE) AND CAST(:window_end AS DATE)" in connector["query"]
    mapping = settings.parent / connector["mapping"]
    text = mapping.read_text(encoding="utf-8")
    assert "\nstatus_map: {}\n" in text
    mapping.write_text(text.replace("\nstatus_map: {}\n", "\n" + STATUS_LINES), encoding="utf-8")
    _, out, _ = run("check")
    assert "0 would be quarantined, 0 problems" in out, out
    # the six settings lines, the command, and the five codes: within the 20 lines a newcomer may type
    assert real.data.admin_lines(before, command, edits=STATUS_LINES.count("\n")) <= 20
    fields = yaml.safe_load(mapping.read_text(encoding="utf-8"))["fields"]
    assert fields["start"] == {"date": "appointment_date", "time": "start_time"}
    assert fields["patient.name"] == {"concat": ["demographic_first_name", "demographic_last_name"]}
    assert fields["practitioner.name"] == {"concat": ["provider_first_name", "provider_last_name"]}
    assert "patient.language" not in fields  # the health card's version code ('AB' on every row) is none
    _compare(run, connector, truth)


def _compare(run: Any, connector: dict[str, Any], truth: dict[str, dict[str, Any]]) -> None:
    expected = {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], t["doctor_id"])
                for k, t in truth.items()}
    found = real.sync_and_compare(run, connector, expected, ZONE)
    doctors = [k for k in expected if found[k]["practitioner"].get("name") != truth[k]["doctor_name"]]
    emails = [k for k in expected if found[k]["patient"].get("email") != truth[k]["email"]]
    assert (doctors, emails) == ([], [])
