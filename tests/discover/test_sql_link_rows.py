"""Classes of rows reached beside the visit, each on a small MariaDB schema built here (not a
product's): a patient's role row whose person (a shared users row) is soft-deleted withdraws the
visit as the patient's own flag would."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from clinicsync.sync.discover.sql import discover_sql
from tests.discover import sql_support as data

VISITS = 60


def _load(database: dict[str, Any], ddl: str, inserts: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
    connection = data.mysql(database)
    try:
        data.run_sql(connection, ddl)
        with connection.cursor() as cursor:
            for sql, rows in inserts:
                cursor.executemany(sql, rows)
        connection.commit()
    finally:
        connection.close()


def _proposal(database: dict[str, Any]) -> tuple[dict[str, Any], str, Any]:
    proposal = discover_sql(str(database["url"]), name="c", timezone="Europe/Berlin", region="DE",
                            stored_times="local")
    assert proposal.mapping is not None
    return proposal.mapping["fields"], proposal.connector["query"], proposal


def _at(n: int) -> datetime:
    return datetime.now().replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=1 + n % 20,
                                                                                         minutes=30 * (n % 8))


def _rows(database: dict[str, Any], sql: str) -> list[tuple[Any, ...]]:
    connection = data.mysql(database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.replace(":window_start", "'2000-01-01'").replace(":window_end", "'2100-01-01'"))
            return list(cursor.fetchall())
    finally:
        connection.close()


DELETED_USER_DDL = """CREATE TABLE members (id INT PRIMARY KEY, given_name VARCHAR(40), family_name VARCHAR(40),
  phone VARCHAR(20), mail VARCHAR(80), deleted_at TIMESTAMP NULL);
CREATE TABLE clients (id INT PRIMARY KEY, member_id INT NOT NULL, FOREIGN KEY (member_id) REFERENCES members (id));
CREATE TABLE therapists (id INT PRIMARY KEY, member_id INT NOT NULL,
  FOREIGN KEY (member_id) REFERENCES members (id));
CREATE TABLE sessions (id INT PRIMARY KEY, client_id INT, therapist_id INT, begins DATETIME,
  FOREIGN KEY (client_id) REFERENCES clients (id), FOREIGN KEY (therapist_id) REFERENCES therapists (id))"""


@pytest.mark.mariadb
def test_a_deleted_person_behind_the_patients_role_row_withdraws_its_visits(mariadb_database: dict[str, Any]
                                                                           ) -> None:
    """Laravel's shape: ``clients.user_id`` -> ``users``, the users row soft-deleted (``deleted_at``
    set) when the client leaves. A users table's name says no patient, yet its deleted row
    withdraws the client's visits from the query (the patient's own flag's rule); the therapist's
    users row, joined under its own alias, is not read for it."""
    users = "users"
    ddl = DELETED_USER_DDL.replace("members", users).replace("member_id", "user_id")
    gone = {5, 9}  # clients whose users row is deleted
    accounts = [(i, f"Given{i}", f"Family{i}", f"+49 151 {20000000 + i}", f"p{i}@example.de",
                 datetime(2024, 3, 1) if i - 2 in gone else None) for i in range(1, 33)]
    _load(mariadb_database, ddl, [
        (f"INSERT INTO {users} VALUES (%s, %s, %s, %s, %s, %s)", accounts),
        ("INSERT INTO clients VALUES (%s, %s)", [(c, 2 + c) for c in range(1, 31)]),
        ("INSERT INTO therapists VALUES (%s, %s)", [(1, 1), (2, 2)]),
        ("INSERT INTO sessions VALUES (%s, %s, %s, %s)",
         [(v, 1 + v % 30, 1 + v % 2, _at(v)) for v in range(1, VISITS + 1)])])
    fields, query, proposal = _proposal(mariadb_database)
    assert fields["patient.name"] == {"concat": ["patient_given_name", "patient_family_name"]}
    patient = query.split(" AS patient_given_name")[0].rsplit(" ", 1)[-1].split(".")[0]
    assert f"{patient}.deleted_at IS NULL" in query
    assert f"{users} rows deleted: 'deleted_at' set means deleted" in proposal.connector_notes["query"]
    read = _rows(mariadb_database, query)
    want = [v for v in range(1, VISITS + 1) if 1 + v % 30 not in gone]
    assert sorted(int(r[0]) for r in read) == want
