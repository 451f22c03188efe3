"""`discover` on the real shape of FreeHealth's agenda (FreeMedForms EMR) in MariaDB
(tests/fixtures/ehr/freehealth_agenda, with its SOURCE note), a product it had never met. What
it has: upper-case tables and columns and no foreign key; an appointment is an `EVENTS` row
(`DTSTART`/`DTEND`, the practice's local time, `CAL_ID` the doctor's calendar, `COM_ID` its
`COMMON` row: the label typed, `STATUS_ID` the item status as a bare integer, Waiting 0 ...
Missed 5, no word anywhere) and `PEOPLE` rows naming the patient (type 0) and the user who owns
it (type 1) by a UUID text of another database of the same server (`patients`, `users`): this
database holds no patient's name, phone or email and no doctor's. Beside the visits, what a year
of use leaves: past visits, the calendars' weekly availabilities, events with no patient (a
meeting, a day off). Driven as the admin would: ``discover --write`` (which runs ``check``) on
the agenda's database."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real

ZONE, REGION = "Europe/Paris", "FR"
FIXTURE = real.FIXTURES / "freehealth_agenda" / "schema.sql"
DOCTORS = ["Dr Claire Morel", "Dr Paul Garnier", "Dr Anne Lefort"]
LABELS = ["Consultation", "Renouvellement", "Suivi", "Vaccin", "Certificat sport", "Résultats"]
PATIENTS, VISITS = 60, 150


def build(cursor: Any) -> int:
    """Three doctors' calendars with their weekly hours, 60 patients by UUID, 150 appointments
    (a third past, some cancelled or missed), meetings and days off with no patient. The number
    of appointments ahead."""
    real.run_ddl(cursor, FIXTURE)
    rng = random.Random(2011)
    cursor.execute("INSERT INTO `VERSION` (`ACTUAL`) VALUES ('0.1')")
    users = [uuid.UUID(int=rng.getrandbits(128)).hex for _ in DOCTORS]
    patients = [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(PATIENTS)]
    calendars = []
    for n, (name, user) in enumerate(zip(DOCTORS, users, strict=True)):
        cal = real.insert_row(cursor, "CALENDAR", {"CALUID": uuid.UUID(int=rng.getrandbits(128)).hex, "CAT_ID": -1,
                                           "SORT_ID": n, "ISVALID": 1, "ISVIRTUAL": 0, "STATUS": 0, "TYPE": 0,
                                           "DEFAULT": 1, "ISPRIV": 0, "DEFDURATION": 15, "LABEL": f"Agenda {name}"})
        real.insert_row(cursor, "USERCAL", {"USER_UUID": user, "CAL_ID": cal})
        real.insert_row(cursor, "PEOPLE", {"P_CALID": cal, "P_UID": user, "P_TYPE": 1})
        for weekday in range(1, 6):
            avail = real.insert_row(cursor, "AVAIL", {"CAL_ID": cal, "WEEKDAY": weekday})
            for start, end in (("08:30:00", "12:00:00"), ("14:00:00", "19:00:00")):
                tr = real.insert_row(cursor, "TR", {"FROM": start, "TO": end})
                real.insert_row(cursor, "AV_TO_TR", {"AVAIL_ID": avail, "TR_ID": tr})
        calendars.append((cal, user))
    zone = ZoneInfo(ZONE)
    today = datetime.now(zone).date()
    ahead = 0
    for n in range(VISITS):
        future = n % 3 != 0
        day = today + timedelta(days=1 + n % 30) if future else today - timedelta(days=2 + n % 200)
        start = datetime(day.year, day.month, day.day, 9 + n % 9, 15 * (n % 4))
        status = (rng.choices([0, 1, 4], [30, 60, 10])[0] if future else rng.choices([2, 4, 5], [85, 10, 5])[0])
        cal, user = calendars[n % 3]
        com = real.insert_row(cursor, "COMMON", {"CAT_ID": -1, "TYPE_ID": 0, "STATUS_ID": status, "ISVIRTUAL": 0,
                                         "ISPRIVATE": 0, "ISBUSY": 1, "ISGROUP": 0, "LABEL": LABELS[n % 6],
                                         "CONTENT": "Apporter la carte Vitale" if n % 11 == 0 else None,
                                         "TEXT_SITE": "Cabinet médical des Tilleuls"})
        ev = real.insert_row(cursor, "EVENTS", {"CAL_ID": cal, "COM_ID": com, "ISVALID": 1, "DTSTART": start,
                                        "DTEND": start + timedelta(minutes=15 * (1 + n % 2))})
        real.insert_row(cursor, "PEOPLE", {"P_EVID": ev, "P_UID": patients[rng.randrange(PATIENTS)], "P_TYPE": 0})
        real.insert_row(cursor, "PEOPLE", {"P_EVID": ev, "P_UID": user, "P_TYPE": 1})
        ahead += future
    for n in range(10):  # meetings and days off: no patient
        cal, user = calendars[n % 3]
        com = real.insert_row(cursor, "COMMON",
                              {"CAT_ID": -1, "TYPE_ID": 0, "STATUS_ID": 1, "ISVIRTUAL": 0, "ISPRIVATE": 1,
                                         "ISBUSY": 1, "ISGROUP": 0, "LABEL": ("Réunion", "Congés")[n % 2]})
        first = today + timedelta(days=4 + 6 * n)
        ev = real.insert_row(cursor, "EVENTS", {"CAL_ID": cal, "COM_ID": com, "ISVALID": 1,
                                        "DTSTART": datetime(first.year, first.month, first.day, 12, 30),
                                        "DTEND": datetime(first.year, first.month, first.day, 14, 0)})
        real.insert_row(cursor, "PEOPLE", {"P_EVID": ev, "P_UID": user, "P_TYPE": 1})
    return ahead


@pytest.mark.mariadb
def test_freehealth_agenda_alone_reaches_its_doctors_and_no_patient(mariadb_database: dict[str, Any],
                                                                    tmp_path: Path, cli: Any) -> None:
    """The agenda's database holds the visits and each doctor's calendar, but nobody's phone or
    email: the visits are read with their calendar as the doctor (its label the name), and `check`
    fails on the one thing this database cannot give, the patient's contact. Its stored times are
    asked (no stamp says UTC or local), so the admin gives ``--stored-times local``."""
    ahead, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    _, _, asked = run("discover", str(mariadb_database["url"]), "--write", expect=2)
    assert "Give --stored-times utc|local" in asked, asked
    command = [str(mariadb_database["url"]), "--stored-times", "local"]
    before = settings.read_text(encoding="utf-8")
    _, out, err = run("discover", *command, "--write", expect=1)
    print(out, err, *(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")))
    assert real.data.admin_lines(before, command) <= real.ADMIN_LIMIT
    errors = [line for line in out.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "error: patient.phone, patient.email: only 0 of" in errors[0], out
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["practitioner.external_id"] == {"from": "CAL_ID"}, fields
    # the meetings and days off are visits too here: no patient is in this database to tell them apart
    assert f"{ahead + 10} of {ahead + 10} (100%) have a doctor" in out, out
    assert "status: left out, not guessed" in out, out
