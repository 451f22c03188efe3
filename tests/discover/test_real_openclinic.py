"""`discover` on the real shape of OpenClinic GA in MariaDB (tests/fixtures/ehr/openclinic, with
its SOURCE note), a hospital system it had never met. What it has: the appointment table
`OC_PLANNING` declares no primary key (its id is `OC_PLANNING_SERVERID` with
`OC_PLANNING_OBJECTID`, and object ids repeat across servers) and sits beside a look-alike
history table; the patient and the doctor are text references without declared keys
(`OC_PLANNING_PATIENTUID` holds `Admin.personid`, `OC_PLANNING_USERUID` holds `Users.userid`, the
user a person in `Admin` too); phones and emails are in `AdminPrivate`, kept with history (the
current row has `stop IS NULL`); a cancellation is a date (`OC_PLANNING_CANCELATIONDATE`); the
planned end is often empty while `OC_PLANNING_ESTIMATIONTIME` ('0:30') holds the length. Driven
as the admin would: ``discover --write`` (which runs ``check``), then ``sync --once``."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real

ZONE = "Africa/Kigali"
REGION = "RW"
FIRST = ["Aline", "Jean", "Claudine", "Emmanuel", "Diane", "Eric", "Josiane", "Patrick", "Solange"]
LAST = ["Uwimana", "Habimana", "Mukamana", "Niyonzima", "Ingabire", "Nshimiyimana", "Uwase"]
DOCTORS = [(4, 9001, "Mugabo", "Olivier", "o.mugabo@chk.example.rw"), (5, 9002, "Kayitesi", "Agnes", None),
           (6, 9003, "Bizimana", "Felix", "f.bizimana@chk.example.rw")]


def _private(cursor: Any, key: int, person: int, start: datetime, stop: datetime | None, mobile: str | None,
             email: str | None, telephone: str | None = None) -> None:
    cursor.execute("INSERT INTO AdminPrivate (privateid, personid, start, stop, address, city, country, telephone, "
                   "mobile, email, updatetime, type) VALUES (%s, %s, %s, %s, 'KN 3 Rd', 'Kigali', 'RW', %s, %s, %s, "
                   "%s, 'official')", (key, person, start, stop, telephone, mobile, email, stop or start))


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The product's rows; what the store must then hold per visit (every field the judge reads)."""
    real.load_schema(cursor, "openclinic")
    rng = random.Random(67)
    now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)
    key = 1
    doctors: dict[str, tuple[str, str, str | None]] = {}  # user id: the person's id, name, email
    for user, person, last, first, email in DOCTORS:
        cursor.execute("INSERT INTO Admin (personid, lastname, firstname, gender, language, searchname, updatetime, "
                       "person_type) VALUES (%s, %s, %s, 'M', 'fr', %s, %s, 'S')",
                       (person, last.upper(), first, f"{last.upper()},{first.upper()}", now - timedelta(days=200)))
        cursor.execute("INSERT INTO Users (userid, personid, start, updatetime, project) VALUES (%s, %s, %s, %s, "
                       "'openclinic')", (user, person, now - timedelta(days=900), now - timedelta(days=90)))
        _private(cursor, key, person, now - timedelta(days=900), None, None, email)
        key += 1
        doctors[str(user)] = (str(person), f"{first} {last.upper()}", email)
    patients: dict[int, tuple[str, str | None, str | None]] = {}
    for p in range(1, 61):
        first, last = FIRST[p % len(FIRST)], LAST[p % len(LAST)]
        cursor.execute("INSERT INTO Admin (personid, natreg, immatnew, lastname, firstname, gender, dateofbirth, "
                       "language, searchname, updatetime, person_type) VALUES (%s, %s, %s, %s, %s, %s, %s, 'rw', %s, "
                       "%s, 'P')",
                       (p, f"1198{p:012d}", f"{p:08d}", last.upper(), first, "FM"[p % 2],
                        datetime(1950 + p % 50, 1 + p % 12, 1 + p % 28), f"{last.upper()},{first.upper()}",
                        now - timedelta(days=p)))
        mobile = None if p % 8 == 0 else f"078{8000000 + p:07d}"
        email = f"{first.lower()}.{p}@mail.example.rw" if p % 3 == 0 else None
        if p % 4 == 0:  # an address row closed when the patient moved: its number is no longer theirs
            _private(cursor, key, p, now - timedelta(days=800), now - timedelta(days=100), f"072{3000000 + p:07d}",
                     None)
            key += 1
        _private(cursor, key, p, now - timedelta(days=100 if p % 4 == 0 else 700), None, mobile, email,
                 "0252 580 000" if p % 5 == 0 else None)
        key += 1
        patients[p] = (f"{first} {last.upper()}", None if mobile is None else "+250" + mobile[1:], email)
    truth: dict[str, dict[str, Any]] = {}
    rows, history = [], []
    slots = [(server, objectid) for server in (1, 2) for objectid in range(1, 66 if server == 1 else 61)]
    for n, (server, objectid) in enumerate(slots):
        patient = 1 + rng.randrange(60)
        user = DOCTORS[n % len(DOCTORS)][0]
        day = now.date() + timedelta(days=1 + n % 30)
        start = datetime(day.year, day.month, day.day, 8 + n % 9, 15 * (n % 4))
        minutes = (15, 30, 45, 60)[n % 4]
        end = start + timedelta(minutes=minutes) if n % 3 else None  # the planned end is often left empty
        cancelled = now - timedelta(days=1) if n % 11 == 0 else None
        changed = now - (timedelta(minutes=5 + n) if n % 25 == 0 else timedelta(days=2, minutes=n))
        rows.append((str(patient), str(user), start, cancelled, "Consultation", server, now - timedelta(days=20),
                     changed, str(user), 1, objectid, f"{minutes // 60}:{minutes % 60:02d}", end))
        if n % 10 == 0:  # the version before a change, as the product copies it to the history table
            history.append((*rows[-1][:2], start - timedelta(days=1), *rows[-1][3:]))
        name, phone, email = patients[patient]
        person, doctor, doctor_email = doctors[str(user)]
        utc = start.replace(tzinfo=ZoneInfo(ZONE)).astimezone(ZoneInfo("UTC"))
        truth[f"{server} {objectid}"] = {
            "start": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (utc + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": "cancelled" if cancelled else "booked", "patient_id": str(patient), "name": name,
            "phone": phone, "email": email, "doctor_id": person, "doctor_name": doctor,
            "doctor_email": doctor_email, "zone": ZONE}
    insert = ("INSERT INTO {} (OC_PLANNING_PATIENTUID, OC_PLANNING_USERUID, OC_PLANNING_PLANNEDDATE, "
              "OC_PLANNING_CANCELATIONDATE, OC_PLANNING_DESCRIPTION, OC_PLANNING_SERVERID, OC_PLANNING_CREATETIME, "
              "OC_PLANNING_UPDATETIME, OC_PLANNING_UPDATEUID, OC_PLANNING_VERSION, OC_PLANNING_OBJECTID, "
              "OC_PLANNING_ESTIMATIONTIME, OC_PLANNING_PLANNEDEND) "
              "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
    real.insert_rows(cursor, insert.format("OC_PLANNING"), rows)
    real.insert_rows(cursor, insert.format("OC_PLANNING_HISTORY"), history)
    return truth


@pytest.mark.mariadb
def test_openclinic_text_uids_two_column_id_and_address_history(mariadb_database: dict[str, Any], tmp_path: Path,
                                                                cli: Any) -> None:
    truth = real.built(mariadb_database, build)
    settings = real.settings_file(tmp_path, ZONE, "RW")
    run = cli(settings)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"])])
    assert "FROM `OC_PLANNING` AS a" in connector["query"]  # not the history table beside it
    assert "`OC_PLANNING_CANCELATIONDATE` IS NULL" in connector["query"]  # a dated cancellation is gone
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["external_id"] == {"concat": ["OC_PLANNING_SERVERID", "OC_PLANNING_OBJECTID"]}
    assert "type" not in fields  # the patient's person_type is no visit type
    live = {k: t for k, t in truth.items() if t["status"] != "cancelled"}
    expected = {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], t["doctor_id"])
                for k, t in live.items()}
    found = real.sync_and_compare(run, connector, expected, ZONE)
    assert [k for k, t in live.items() if found[k]["end"] != t["end"]] == []  # the planned end, else 'H:MM'
    assert [k for k, t in live.items() if found[k]["patient"].get("email") != t["email"]] == []
    assert [k for k, t in live.items() if (found[k]["practitioner"].get("name"), found[k]["practitioner"].get("email"))
            != (t["doctor_name"], t["doctor_email"])] == []
