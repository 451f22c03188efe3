"""Places on a dated list, on a small MariaDB schema built here (not a product's): a ``clinic_list``
row is a day with its opening and closing times and the team that runs it (the team's ``lead_id``
a user); each patient booked on it is a ``place`` row naming the list, with the patient's own
``arrive`` time and a copy of the list's day and times (``list_day``, ``list_start_time``,
``list_end_time``). The place names no person: it books an ``care_order``, the order belongs to a
``care_case``, the case to the ``patient``; an order or a case entered in error is soft-deleted
(``deleted``). A place moved or called off keeps its row with ``cancelled_on`` set. Every row
records who typed it (``created_user_id``, ``last_modified_user_id`` -> ``users``)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from tests.discover import sql_support as data

LISTS, PLACES = 24, 72

DDL = """CREATE TABLE users (id INT PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40), email VARCHAR(80));
CREATE TABLE team (id INT PRIMARY KEY, label VARCHAR(40), lead_id INT, FOREIGN KEY (lead_id) REFERENCES users (id));
CREATE TABLE patient (id INT PRIMARY KEY, given_name VARCHAR(40), family_name VARCHAR(40), mobile VARCHAR(30),
  deleted TINYINT NOT NULL DEFAULT 0);
CREATE TABLE care_case (id INT PRIMARY KEY, patient_id INT NOT NULL, team_id INT, opened DATETIME NOT NULL,
  deleted TINYINT NOT NULL DEFAULT 0,
  FOREIGN KEY (patient_id) REFERENCES patient (id), FOREIGN KEY (team_id) REFERENCES team (id));
CREATE TABLE care_order (id INT PRIMARY KEY, case_id INT NOT NULL, minutes SMALLINT NOT NULL,
  decided DATE, deleted TINYINT NOT NULL DEFAULT 0, FOREIGN KEY (case_id) REFERENCES care_case (id));
CREATE TABLE clinic_list (id INT PRIMARY KEY, team_id INT, day DATE NOT NULL, start_time TIME NOT NULL,
  end_time TIME NOT NULL, created_user_id INT NOT NULL, last_modified_user_id INT NOT NULL,
  FOREIGN KEY (team_id) REFERENCES team (id), FOREIGN KEY (created_user_id) REFERENCES users (id),
  FOREIGN KEY (last_modified_user_id) REFERENCES users (id));
CREATE TABLE place (id INT PRIMARY KEY, order_id INT NOT NULL, list_id INT NOT NULL, arrive TIME NOT NULL,
  list_day DATE NOT NULL, list_start_time TIME NOT NULL, list_end_time TIME NOT NULL, cancelled_on DATETIME,
  created_user_id INT NOT NULL, last_modified_user_id INT NOT NULL, created_date DATETIME NOT NULL,
  FOREIGN KEY (order_id) REFERENCES care_order (id), FOREIGN KEY (list_id) REFERENCES clinic_list (id),
  FOREIGN KEY (created_user_id) REFERENCES users (id), FOREIGN KEY (last_modified_user_id) REFERENCES users (id))"""

LEADS = [(1, "Helen", "Marsh"), (2, "Omar", "Diallo"), (3, "Ruth", "Chen")]
CLERKS = [(8, "Jo", "Pike"), (9, "Sam", "Reed")]


def _load(database: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The schema filled; per place that is a visit (its order, case and patient standing), what
    the store must hold: its day and time, the patient, the list's team lead, cancelled or not."""
    today = date.today()
    lists = []
    for n in range(1, LISTS + 1):
        day = today + timedelta(days=1 + n // 2)
        opens, closes = (time(8, 30), time(12, 30)) if n % 2 else (time(13, 30), time(17, 30))
        lists.append((n, 1 + n % 3, day, opens, closes, CLERKS[n % 2][0], CLERKS[n % 2][0]))
    patients = [(p, f"Ann{p}", f"Lee{p}", f"+44 7700 9{p:05d}", int(p == 17)) for p in range(1, 41)]
    cases, orders, places, want = [], [], [], {}
    for n in range(1, PLACES + 1):
        patient = 1 + n % 40
        cases.append((n, patient, 1 + n % 3, datetime(2024, 1, 1), int(n % 19 == 5)))
        orders.append((n, n, (20, 30, 45)[n % 3], today, int(n % 23 == 7)))
        list_id, _, day, opens, closes, _, _ = lists[n % LISTS]
        arrive = (datetime.combine(day, opens) + timedelta(minutes=30 * (n % 6))).time()
        off = datetime(2025, 1, 2, 10, 0) if n % 8 == 3 else None
        places.append((100 + n, n, list_id, arrive, day, opens, closes, off, CLERKS[n % 2][0], CLERKS[n % 2][0],
                       datetime(2025, 1, 1)))
        if n % 19 != 5 and n % 23 != 7 and patient != 17:
            want[100 + n] = {"start": datetime.combine(day, arrive), "patient": patient,
                             "lead": lists[n % LISTS][1],
                             "cancelled": off is not None}
    data.load_tables(database, DDL, [
        ("INSERT INTO users VALUES (%s, %s, %s, %s)",
         [(i, g, f, f"{g.lower()}@clinic.example") for i, g, f in LEADS + CLERKS]),
        ("INSERT INTO team VALUES (%s, %s, %s)", [(t, f"Team {LEADS[t - 1][2]}", t) for t in (1, 2, 3)]),
        ("INSERT INTO patient VALUES (%s, %s, %s, %s, %s)", patients),
        ("INSERT INTO care_case VALUES (%s, %s, %s, %s, %s)", cases),
        ("INSERT INTO care_order VALUES (%s, %s, %s, %s, %s)", orders),
        ("INSERT INTO clinic_list VALUES (%s, %s, %s, %s, %s, %s, %s)", lists),
        ("INSERT INTO place VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", places)])
    return want


def _proposal(database: dict[str, Any], table: str | None = None) -> tuple[dict[str, Any], str, Any]:
    from clinicsync.sync.discover.sql import discover_sql

    proposal = discover_sql(str(database["url"]), name="c", timezone="Europe/London", region="GB",
                            stored_times="local", table=table)
    assert proposal.mapping is not None
    print(proposal.mapping["fields"], proposal.connector["query"], proposal.notes)
    return proposal.mapping["fields"], proposal.connector["query"], proposal


@pytest.mark.mariadb
def test_the_place_on_the_list_is_the_visit_not_the_list(mariadb_database: dict[str, Any]) -> None:
    """Both rows are dated; the list's rows are no visits (one a morning, nobody's): the place is
    picked, not the list (nor the admin asked to pick one)."""
    _load(mariadb_database)
    _, query, _ = _proposal(mariadb_database)
    assert "FROM place AS a" in query.replace("`", ""), query


@pytest.mark.mariadb
def test_the_start_is_the_list_s_day_and_the_place_s_own_time(mariadb_database: dict[str, Any]) -> None:
    """The copies of the list's times on the place are the list's: the start is the day with the
    place's own ``arrive``, and the list's closing is no visit's end."""
    want = _load(mariadb_database)
    fields, query, _ = _proposal(mariadb_database, table="place")
    assert fields["start"] in ({"date": "list_day", "time": "arrive"},
                               {"concat": ["list_day", "arrive"]}), fields["start"]
    assert "list_end_time" not in str(fields.get("end")), fields.get("end")
    rows = {r["id"]: r for r in data.proposed_rows(mariadb_database, query)}
    assert all(datetime.combine(rows[k]["list_day"], time()) + rows[k]["arrive"] == w["start"]
               for k, w in want.items() if k in rows), "starts"


@pytest.mark.mariadb
def test_the_patient_over_the_rows_the_place_belongs_to(mariadb_database: dict[str, Any]) -> None:
    """No column of the place names a person: its order's case's patient is the patient, and a
    place whose order, case or patient is deleted is no visit (nor one called off: below)."""
    want = {k: w for k, w in _load(mariadb_database).items() if not w["cancelled"]}
    fields, query, _ = _proposal(mariadb_database, table="place")
    column = fields["patient.external_id"]["from"]
    rows = {r["id"]: r for r in data.proposed_rows(mariadb_database, query)}
    assert set(rows) == set(want), sorted(set(rows) ^ set(want))[:5]
    assert all(rows[k][column] == w["patient"] for k, w in want.items()), column


@pytest.mark.mariadb
def test_the_place_s_own_cancellation_date_leaves_it_out_when_no_status_speaks(
        mariadb_database: dict[str, Any]) -> None:
    """``cancelled_on`` set is a place called off: with no status anywhere it is read as the
    place's soft-delete (the row left out of the read, so the visit ends), never as its start or
    its booking. Where a joined row's status was placed (an order's ``Rescheduled``), the date is
    the place's status instead (cancelstamps.py; the eye-unit trial in test_real_openeyes.py)."""
    want = _load(mariadb_database)
    fields, query, _ = _proposal(mariadb_database, table="place")
    assert "cancelled_on" not in str(fields), fields
    assert "cancelled_on" in query and "IS NULL" in query, query
    rows = {r["id"] for r in data.proposed_rows(mariadb_database, query)}
    assert rows == {k for k, w in want.items() if not w["cancelled"]}


@pytest.mark.mariadb
def test_the_doctor_is_the_list_s_team_lead_not_who_typed_the_row(mariadb_database: dict[str, Any]) -> None:
    """``created_user_id`` is who typed the place (a clerk), no doctor; the list the place is on
    belongs to a team whose lead sees the patient."""
    want = _load(mariadb_database)
    fields, query, _ = _proposal(mariadb_database, table="place")
    column = fields["practitioner.external_id"]["from"]
    rows = {r["id"]: r for r in data.proposed_rows(mariadb_database, query)}
    assert all(rows[k][column] == w["lead"] for k, w in want.items() if k in rows), column
