"""A patient's phone read from rows of its own (one row per number, each with its stamps) and a
cursor on the newest stamp of those rows: a row added or edited moves it, a row deleted outright
does not (its stamp goes with it; the newest left is older than the cursor), so the patient whose
mobile was removed would be texted on it until the visit itself changed. Where the rows have no
deleted flag, discover reads the window again every run (snapshot); where a deletion is a flag
set on the row, an edit that moves its stamp, the read stays incremental and sees it. A schema
built here (MariaDB), no product's tables."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from clinicsync.sync.discover.sql import discover_sql
from tests.discover import sql_support as data

ZONE = "Europe/London"
DDL = """
CREATE TABLE patients (id INT PRIMARY KEY, first_name VARCHAR(60), last_name VARCHAR(60), created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL);
CREATE TABLE patient_phones (id INT PRIMARY KEY, patient_id INT NOT NULL, kind VARCHAR(16), number VARCHAR(32),
  {flag} created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL, FOREIGN KEY (patient_id) REFERENCES patients(id));
CREATE TABLE visits (id INT PRIMARY KEY, patient_id INT NOT NULL, starts_at DATETIME, ends_at DATETIME,
  status VARCHAR(16), created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
  FOREIGN KEY (patient_id) REFERENCES patients(id));
"""


def _build(database: dict[str, Any], flagged: bool) -> datetime:
    """Thirty patients, a home number each and a mobile for most, sixty visits; every stamp
    ``made``, which is returned."""
    made = datetime.now().replace(microsecond=0) - timedelta(days=5)
    now = datetime.now().replace(microsecond=0, second=0, minute=0)
    phones: list[tuple[Any, ...]] = []
    for p in range(1, 31):
        phones.append((len(phones) + 1, p, "home", f"020 7946 {p:04d}"))
        if p % 4:
            phones.append((len(phones) + 1, p, "mobile", f"07911 1{p:05d}"))
    data.load_tables(database, DDL.format(flag="deleted TINYINT(1) NOT NULL DEFAULT 0," if flagged else ""), [
        ("INSERT INTO patients VALUES (%s, %s, %s, %s, %s)", [(p, f"Given{p}", f"Family{p}", made, made)
                                                            for p in range(1, 31)]),
        ("INSERT INTO patient_phones (id, patient_id, kind, number, created_at, updated_at) "
         "VALUES (%s, %s, %s, %s, %s, %s)", [(*row, made, made) for row in phones]),
        ("INSERT INTO visits VALUES (%s, %s, %s, %s, 'booked', %s, %s)",
         [(n, 1 + n % 30, now + timedelta(days=1 + n % 9, hours=n % 5),
           now + timedelta(days=1 + n % 9, hours=n % 5, minutes=30), made, made) for n in range(1, 61)]),
    ])
    return made


def _proposal(database: dict[str, Any]) -> Any:
    proposal = discover_sql(str(database["url"]), stored_times="local", clinic_zone=ZONE, region="GB")
    assert "patient_phones" in proposal.connector["query"]
    return proposal


@pytest.mark.mariadb
def test_rows_deleted_outright_are_read_again_every_run(mariadb_database: dict[str, Any]) -> None:
    _build(mariadb_database, flagged=False)
    proposal = _proposal(mariadb_database)
    assert proposal.connector["mode"] == "snapshot", proposal.connector_notes.get("mode")
    assert "'patient_phones'" in proposal.connector_notes["mode"], proposal.connector_notes["mode"]


@pytest.mark.mariadb
def test_rows_deleted_by_a_flag_move_the_cursor(mariadb_database: dict[str, Any]) -> None:
    made = _build(mariadb_database, flagged=True)
    proposal = _proposal(mariadb_database)
    connector = proposal.connector
    assert connector["mode"] == "incremental", proposal.connector_notes.get("mode")
    query = connector["query"].replace(":window_start", "'2000-01-01'").replace(":window_end", "'2100-01-01'")
    stamp = connector["cursor_column"]
    connection = data.mysql(mariadb_database)
    try:
        with connection.cursor() as cursor:  # patient 1's mobile deleted: the flag set, the row's stamp moved
            cursor.execute("UPDATE patient_phones SET deleted = 1, updated_at = %s "
                           "WHERE patient_id = 1 AND kind = 'mobile'", (made + timedelta(days=1),))
        connection.commit()
    finally:
        connection.close()
    changed = {row["patient_id"] for row in data.proposed_rows(mariadb_database, query)
               if row[stamp] > made}
    assert changed == {1}, changed
