"""Two classes of an ERP's medical module, each on a small MariaDB schema built here (not a
product's): the visit's status kept as a workflow's stage (a reference to a stages table whose
names are the words: 'Draft', 'Confirm', 'Done', 'Cancelled'); and one contacts table holding the
patients and the medical centre alike, the centre reached through the visit's own reference named
for a place, whose phone and email are never a patient's and whose name is the visit's location."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.discover import sql_support as data

VISITS = 60
STAGES = [(1, "Draft"), (2, "Confirm"), (3, "Done"), (4, "Cancelled"), (5, "Pending Review")]


def _ddl(place: str) -> str:
    return f"""CREATE TABLE party (id INT PRIMARY KEY, name VARCHAR(60), phone VARCHAR(30), email VARCHAR(80),
  is_company TINYINT(1) DEFAULT 0);
CREATE TABLE clinician (id INT PRIMARY KEY, party_id INT, code VARCHAR(20),
  FOREIGN KEY (party_id) REFERENCES party (id));
CREATE TABLE patient (id INT PRIMARY KEY, party_id INT, code VARCHAR(20), FOREIGN KEY (party_id) REFERENCES party (id));
CREATE TABLE visit_stage (id INT PRIMARY KEY, name VARCHAR(64), sequence INT, fold TINYINT(1));
CREATE TABLE visit (id INT PRIMARY KEY, patient_id INT, clinician_id INT, {place}_id INT, stage_id INT,
  begins DATETIME, ends DATETIME,
  FOREIGN KEY (patient_id) REFERENCES patient (id), FOREIGN KEY (clinician_id) REFERENCES clinician (id),
  FOREIGN KEY ({place}_id) REFERENCES party (id), FOREIGN KEY (stage_id) REFERENCES visit_stage (id))"""


def _load(database: dict[str, Any], place: str) -> dict[int, tuple[str | None, str | None, int]]:
    """Two centres (parties 1 and 2), two clinicians, 30 patients of whom every third has no phone
    and every fourth no email; the visits with a stage each. Per visit: the patient's phone, email,
    stage."""
    parties = [(1, "Centro Médico Norte", "+49 30 1234567", "desk@centro.example", 1),
               (2, "Centro Médico Sur", "+49 30 7654321", "sur@centro.example", 1)]
    parties += [(10 + c, f"Dr. Clin {c}", None, f"clin{c}@centro.example", 0) for c in range(2)]
    patients = []
    for p in range(30):
        phone = None if p % 3 == 0 else f"+49 151 {30000000 + p}"
        email = None if p % 4 == 0 else f"pat{p}@mail.example"
        parties.append((100 + p, f"Pat{p} Lang", phone, email, 0))
        patients.append((p, phone, email))
    visits, want = [], {}
    for v in range(1, VISITS + 1):
        p, phone, email = patients[v % 30]
        stage = STAGES[v % len(STAGES)][0]
        begins = data.visit_at(v)
        visits.append((v, 1 + p, v % 2, 1 + (v % 3 == 0), stage, begins, begins + timedelta(minutes=30)))
        want[v] = (phone, email, stage)
    data.load_tables(database, _ddl(place), [
        ("INSERT INTO party VALUES (%s, %s, %s, %s, %s)", parties),
        ("INSERT INTO clinician VALUES (%s, %s, %s)", [(c, 10 + c, f"C{c}") for c in range(2)]),
        ("INSERT INTO patient VALUES (%s, %s, %s)", [(1 + p, 100 + p, f"P{p}") for p in range(30)]),
        ("INSERT INTO visit_stage VALUES (%s, %s, %s, 0)", [(i, n, 10 * i) for i, n in STAGES]),
        ("INSERT INTO visit VALUES (%s, %s, %s, %s, %s, %s, %s)", visits)])
    return want


@pytest.mark.mariadb
def test_a_workflow_stage_is_the_visit_s_status(mariadb_database: dict[str, Any]) -> None:
    """``visit.stage_id`` -> ``visit_stage.name``: the stage's name is the status, its words
    mapped ('Confirm' booked; 'Draft', a new booking not yet confirmed, and 'Pending Review' pending)."""
    _load(mariadb_database, "site")
    fields, _query, proposal = data.berlin_proposal(mariadb_database)
    assert fields.get("status") == {"from": "stage_name"}, (fields, proposal.notes)
    assert proposal.mapping["status_map"] == {"Draft": "pending", "Confirm": "booked", "Done": "fulfilled",
                                              "Cancelled": "cancelled", "Pending Review": "pending"}


@pytest.mark.mariadb
@pytest.mark.parametrize("place", ["institution", "facility", "clinic"])
def test_a_place_s_row_in_the_shared_contacts_table_is_nobody_s_contact(mariadb_database: dict[str, Any],
                                                                       place: str) -> None:
    """The centre is a ``party`` row like the patients, reached through ``<place>_id``: a patient
    with no phone or email gets none (not the centre's desk), and the centre's name is the
    visit's location."""
    want = _load(mariadb_database, place)
    fields, query, proposal = data.berlin_proposal(mariadb_database)
    for field in ("patient.phone", "patient.email"):
        assert f"{place}_" not in str(fields[field]), (field, fields[field])
    assert fields.get("location") == {"from": f"{place}_name"}, (fields, proposal.notes)
    rows = {r["id"]: r for r in data.proposed_rows(mariadb_database, query)}
    phone_columns = fields["patient.phone"]["from"]
    phone_columns = phone_columns if isinstance(phone_columns, list) else [phone_columns]
    for v, (phone, email, _stage) in want.items():
        assert next((rows[v][c] for c in phone_columns if rows[v][c]), None) == phone, v
        assert rows[v][fields["patient.email"]["from"]] == email, v
