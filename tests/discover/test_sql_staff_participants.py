"""A calendar whose event lists everyone it is for as participant rows, built here in both servers
from the class (not a product's tables): ``cal_event_people`` rows (the event's ``cal_id`` and a
``cal_login``, the two together the row's key, no foreign key) name ``cal_user`` rows keyed by
their login (text). Both keys name several tables (an alarm row keyed by ``cal_id``, resource
calendars keyed by ``cal_login``), so only the values say where the link rows point. The doctor
whose diary it is and the patient are both participants and both users; nothing says which is
which but how many visits each is on. The proposal must follow the link rows by their values
(a composite key's parts are references), take the patient from the participant who is not staff
(never the doctor whose login happens to sort first) and the doctor from the one who is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow

server = ehr.server

DDL = """
CREATE TABLE cal_user (cal_login VARCHAR(25) PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40),
  email VARCHAR(80), phone VARCHAR(30));
CREATE TABLE cal_resource (cal_login VARCHAR(25) PRIMARY KEY, label VARCHAR(60));
CREATE TABLE cal_event (cal_id INTEGER PRIMARY KEY, starts_at {TS} NOT NULL, minutes INTEGER NOT NULL,
  title VARCHAR(80), state VARCHAR(12) NOT NULL);
CREATE TABLE cal_alarm (cal_id INTEGER PRIMARY KEY, minutes_before INTEGER NOT NULL);
CREATE TABLE cal_event_people (cal_id INTEGER NOT NULL, cal_login VARCHAR(25) NOT NULL,
  PRIMARY KEY (cal_id, cal_login))
"""
DOCTORS = {"drlee": ("Mia", "Lee"), "drokafor": ("Tunde", "Okafor"), "drbauer": ("Lena", "Bauer")}


def _fill(cursor: Any, dialect: str) -> follow.Want:
    follow.create(cursor, dialect, DDL)
    cursor.execute("INSERT INTO cal_resource VALUES ('room1', 'Treatment room')")
    for login, (first, last) in DOCTORS.items():
        cursor.execute("INSERT INTO cal_user VALUES (%s, %s, %s, %s, '+1 212 555 0100')",
                       (login, first, last, f"{login}@clinic.example.org"))
    patients = []
    for p in range(1, 41):  # logins sorting before and after the doctors'
        login = f"{'ab'[p % 2]}{'cz'[p % 3 == 0]}patient{p}"
        cursor.execute("INSERT INTO cal_user VALUES (%s, %s, %s, %s, %s)",
                       (login, f"Given{p}", f"Family{p}", f"given{p}@mail.example.org", f"+1 917 555 {p:04d}"))
        patients.append((login, p))
    want: follow.Want = {}
    for n, start in enumerate(follow.slots(80, seed=53), 1):
        doctor = list(DOCTORS)[n % 3]
        login, p = patients[(n * 7) % 40]
        status = "cancelled" if n % 9 == 0 else "booked"
        cursor.execute("INSERT INTO cal_event VALUES (%s, %s, 20, 'Check-up', %s)", (n, start, status))
        cursor.execute("INSERT INTO cal_event_people VALUES (%s, %s), (%s, %s)", (n, doctor, n, login))
        if n % 10 == 0:
            cursor.execute("INSERT INTO cal_alarm VALUES (%s, 60)", (n,))
        first, last = DOCTORS[doctor]
        want[str(n)] = {"status": status, "patient": login, "name": f"Given{p} Family{p}",
                        "phone": f"+1917555{p:04d}", "email": f"given{p}@mail.example.org", "doctor": doctor,
                        "doctor_name": f"{first} {last}", "doctor_email": f"{doctor}@clinic.example.org"}
    return want


def test_the_doctor_and_the_patient_among_the_participants(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    want, fields, found = follow.built_and_synced(server, _fill, tmp_path, cli)
    connector = yaml.safe_load((tmp_path / "settings.yaml").read_text(encoding="utf-8"))["connectors"][0]
    assert "FROM cal_event AS a" in connector["query"] and "NOT IN ('" in connector["query"], connector["query"]
    assert follow.wrong(found, want, follow.PEOPLE_FIELDS) == {}, fields
