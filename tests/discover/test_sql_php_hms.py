"""The classes the PHP/MySQL hospital apps brought to `discover` (their real shapes:
test_real_kishanhms.py, test_real_phpgurukulhms.py), each alone on a small MariaDB schema, with
the look-alike that must not be taken for it: 0/1 cancellation flags read as one status (a
status code 0..3, or a flag whose 0 is the usual value, is no flag); a visit's text naming
another table's unique text column followed like a key (a column whose values repeat there is
not); a referred table with a person's name and contact taken as the patient's when no name says
so (one without a contact is not), its phone read there when the visit's own column is empty;
the visit's one change stamp, empty on unedited rows, making a snapshot although the joined
tables have stamps."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from clinicsync.sync.discover.sql import discover_sql
from tests.discover import sql_support as data

ZONE = "Asia/Kolkata"
VISITS = 60


def _filled(database: dict[str, Any], ddl: str, rows: str, values: list[tuple[Any, ...]],
            extra: list[tuple[str, list[tuple[Any, ...]]]] = ()) -> None:  # type: ignore[assignment]
    connection = data.mysql(database)
    try:
        with connection.cursor() as cursor:
            for statement in ddl.split(";"):
                if statement.strip():
                    cursor.execute(statement)
            for sql, table_rows in [*extra, (rows, values)]:
                cursor.executemany(sql, table_rows)
    finally:
        connection.close()


def _start(n: int) -> datetime:
    return datetime.now().replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=1 + n % 20,
                                                                                         minutes=30 * (n % 8))


def _fields(database: dict[str, Any]) -> tuple[dict[str, Any], str, Any]:
    proposal = discover_sql(str(database["url"]), name="hms", timezone=ZONE, region="IN", stored_times="local")
    assert proposal.mapping is not None
    return proposal.mapping["fields"], proposal.connector["query"], proposal


FLAGS_DDL = """CREATE TABLE patients (id INT PRIMARY KEY, fullname VARCHAR(60), mobile VARCHAR(20));
CREATE TABLE appointment (id INT PRIMARY KEY, patient_id INT, starts DATETIME, userStatus INT, doctorStatus INT,
  FOREIGN KEY (patient_id) REFERENCES patients (id))"""
PATIENTS = "INSERT INTO patients VALUES (%s, %s, %s)"


@pytest.mark.mariadb
@pytest.mark.parametrize(("user", "doctor", "flags"), [
    (lambda n: int(n % 9 != 0), lambda n: int(n % 11 != 0), ["userStatus", "doctorStatus"]),  # both 0/1, 1 usual
    (lambda n: int(n % 9 != 0), lambda n: n % 4, ["userStatus"]),  # doctorStatus a code 0..3: no flag
    # userStatus mostly 0: not "1 = standing"; the scorer's status column then stays, its words asked
    (lambda n: int(n % 9 == 0), lambda n: 1, []),
])
def test_zero_one_flags_make_the_status(mariadb_database: dict[str, Any], user: Any, doctor: Any,
                                        flags: list[str]) -> None:
    _filled(mariadb_database, FLAGS_DDL, "INSERT INTO appointment VALUES (%s, %s, %s, %s, %s)",
            [(n, 1 + n % 25, _start(n), user(n), doctor(n)) for n in range(1, VISITS + 1)],
            [(PATIENTS, [(p, f"Patient {p}", f"98450{p:05d}") for p in range(1, 26)])])
    fields, query, proposal = _fields(mariadb_database)
    for column in ("userStatus", "doctorStatus"):
        assert (f"COALESCE(a.`{column}`, 1) = 0" in query) == (column in flags), query
    words = {w.value: w.status for w in proposal.status_words}
    if flags:
        assert fields["status"] == {"from": "status"}
        assert words == {"booked": "booked", "cancelled": "cancelled"}
    else:
        assert fields["status"] == {"from": "userStatus"} and words == {"0": None, "1": None}
    placed = str({f: s for f, s in fields.items() if f != "status"})
    assert "Status" not in placed  # a flag is never a phone, a name or an id


TEXT_DDL = """CREATE TABLE patients (id INT PRIMARY KEY, fullname VARCHAR(60), mobile VARCHAR(20));
CREATE TABLE doctb (username VARCHAR(50) NOT NULL, password VARCHAR(50), email VARCHAR(50));
CREATE TABLE prescriptions (doctor VARCHAR(50), patient_id INT, written DATE, drug VARCHAR(80));
CREATE TABLE appointment (id INT PRIMARY KEY, patient_id INT, doctor VARCHAR(30), starts DATETIME,
  FOREIGN KEY (patient_id) REFERENCES patients (id))"""
LOGINS = ["Mehta", "Iyer", "Rao", "Banerjee", "Nair"]


@pytest.mark.mariadb
@pytest.mark.parametrize("unique", [True, False])
def test_a_doctor_named_by_another_tables_unique_text_is_followed(mariadb_database: dict[str, Any],
                                                                  unique: bool) -> None:
    logins = LOGINS + ([] if unique else ["Rao"])  # a login written twice: no unique row to follow
    _filled(mariadb_database, TEXT_DDL, "INSERT INTO appointment VALUES (%s, %s, %s, %s)",
            [(n, 1 + n % 25, LOGINS[n % 5], _start(n)) for n in range(1, VISITS + 1)],
            [(PATIENTS, [(p, f"Patient {p}", f"98450{p:05d}") for p in range(1, 26)]),
             ("INSERT INTO doctb VALUES (%s, 'pw', %s)", [(d, f"{d.lower()}{i}@hospital.in")
                                                         for i, d in enumerate(logins)]),
             ("INSERT INTO prescriptions VALUES (%s, 1, CURDATE(), 'rest')", [(d,) for d in LOGINS * 3])])
    fields, query, _ = _fields(mariadb_database)
    assert fields["practitioner.name"] == {"from": "doctor"}
    assert ("doctb" in query, "practitioner.email" in fields) == (unique, unique), query
    assert "prescriptions" not in query  # its doctor column repeats each login: no row of one doctor


SHAPE_DDL = """CREATE TABLE patreg (pid INT PRIMARY KEY, fname VARCHAR(20), lname VARCHAR(20), contact VARCHAR(10),
  updated DATETIME);
CREATE TABLE wards (wid INT PRIMARY KEY, fname VARCHAR(20), lname VARCHAR(20), floor INT, updated DATETIME);
CREATE TABLE appointment (id INT PRIMARY KEY, pid INT, wid INT, starts DATETIME, updated DATETIME,
  contact VARCHAR(10) NOT NULL DEFAULT '',
  FOREIGN KEY (pid) REFERENCES patreg (pid), FOREIGN KEY (wid) REFERENCES wards (wid))"""


@pytest.mark.mariadb
def test_a_patient_table_no_name_says_is_known_by_its_columns(mariadb_database: dict[str, Any]) -> None:
    now = datetime.now().replace(microsecond=0)
    _filled(mariadb_database, SHAPE_DDL, "INSERT INTO appointment VALUES (%s, %s, %s, %s, %s, '')",
            [(n, 1 + n % 25, 1 + n % 3, _start(n), now if n % 5 == 0 else None) for n in range(1, VISITS + 1)],
            [("INSERT INTO patreg VALUES (%s, %s, %s, %s, %s)",
              [(p, f"Given{p}", f"Family{p}", f"98450{p:05d}", now) for p in range(1, 26)]),
             ("INSERT INTO wards VALUES (%s, %s, %s, 1, %s)",
              [(w, f"North{w}", f"Wing{w}", now) for w in range(1, 4)])])
    fields, _, proposal = _fields(mariadb_database)
    assert fields["patient.external_id"] == {"from": "pid"}  # wards: a name, no phone or email: not the patient
    assert fields["patient.phone"] == {"from": "patreg_contact"}  # the visit's own 'contact' is '' on every row
    # the visit's one stamp is empty on unedited rows: GREATEST with the joined stamps would be NULL there
    assert proposal.connector["mode"] == "snapshot" and "'updated' is empty on 48 row(s)" in \
        proposal.connector_notes["mode"]
