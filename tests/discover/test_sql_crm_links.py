"""Two classes of how CRMs link a visit's people, each on a small MariaDB schema built here (not a
product's): a polymorphic reference (an id column beside a type column saying which table the id
is a key of) next to the visit's attendee rows; and numbers in a shared table, reached through a
typed link, whose own row says one is unusable (invalid, the owner asked not to be called)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.discover import sql_support as data

VISITS = 60

_load, _proposal = data.load_tables, data.berlin_proposal


REGARDING_DDL = """CREATE TABLE person (id VARCHAR(12) PRIMARY KEY, given_name VARCHAR(40), family_name VARCHAR(40),
  mobile VARCHAR(30));
CREATE TABLE company (id VARCHAR(12) PRIMARY KEY, title VARCHAR(60));
CREATE TABLE engagement (id INT PRIMARY KEY, subject VARCHAR(80), regarding_id VARCHAR(12),
  regarding_type VARCHAR(40), begins DATETIME, ends DATETIME);
CREATE TABLE engagement_person (id INT PRIMARY KEY, engagement_id INT, person_id VARCHAR(12),
  FOREIGN KEY (engagement_id) REFERENCES engagement (id), FOREIGN KEY (person_id) REFERENCES person (id))"""


@pytest.mark.mariadb
def test_a_polymorphic_reference_ranks_the_attendee_it_names_first(mariadb_database: dict[str, Any]) -> None:
    """``regarding_id`` + ``regarding_type``: on most visits 'Person' and a person's key, on the
    others 'Company' and a company's. Followed as the patient, a company's visit gets a company's
    key for a patient; so the visit's attendee rows give the patient, the person the reference names
    first (a companion listed with a lower key is passed over), the lowest attendee where it names
    a company."""
    people = [f"p{i:05d}" for i in range(40)]
    companies = [f"k{i:05d}" for i in range(6)]
    visits, links, want = [], [], {}
    for v in range(1, VISITS + 1):
        patient = people[1 + v % 39]
        company = v % 5 == 0
        visits.append((v, f"Visit {v}", companies[0] if company else patient, "Company" if company else "Person",
                       data.visit_at(v), data.visit_at(v) + timedelta(minutes=30)))
        links.append((len(links) + 1, v, patient))
        if v % 4 == 1:  # a companion with a lower key, listed too
            links.append((len(links) + 1, v, people[0] if patient != people[0] else people[1]))
        want[v] = patient if not company or v % 4 != 1 else min(patient, people[0])
    _load(mariadb_database, REGARDING_DDL, [
        ("INSERT INTO person VALUES (%s, %s, 'Lang', %s)",
         [(p, f"Eva{i}", f"+49 151 {20000000 + i}") for i, p in enumerate(people)]),
        ("INSERT INTO company VALUES (%s, %s)", [(k, f"Firm {i}") for i, k in enumerate(companies)]),
        ("INSERT INTO engagement VALUES (%s, %s, %s, %s, %s, %s)", visits),
        ("INSERT INTO engagement_person VALUES (%s, %s, %s)", links)])
    fields, query, proposal = _proposal(mariadb_database)
    assert "regarding_id" not in str(fields["patient.external_id"]), fields
    assert "CASE WHEN (a.regarding_type = 'Person' AND a.regarding_id = cs_l.person_id) THEN 0" in query, query
    assert any("a polymorphic reference" in n for n in proposal.notes), proposal.notes
    assert fields["patient.name"] == {"concat": ["patient_given_name", "patient_family_name"]}
    got = {r["id"]: r["patient_id"] for r in data.proposed_rows(mariadb_database, query)}
    assert got == want, {k: (v, want[k]) for k, v in got.items() if v != want[k]}


SHARED_NUMBERS_DDL = """CREATE TABLE client (id VARCHAR(17) PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40));
CREATE TABLE staff (id VARCHAR(17) PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40));
CREATE TABLE number_entry (id VARCHAR(17) PRIMARY KEY, dial VARCHAR(40), is_invalid TINYINT(1) DEFAULT 0,
  do_not_call TINYINT(1) DEFAULT 0);
CREATE TABLE number_party (id INT PRIMARY KEY, party_id VARCHAR(17), number_entry_id VARCHAR(17),
  party_type VARCHAR(40), is_primary TINYINT(1) DEFAULT 0, FOREIGN KEY (number_entry_id) REFERENCES number_entry (id));
CREATE TABLE booking (id INT PRIMARY KEY, client_id VARCHAR(17), staff_id VARCHAR(17), date_start DATETIME,
  date_end DATETIME, FOREIGN KEY (client_id) REFERENCES client (id), FOREIGN KEY (staff_id) REFERENCES staff (id))"""


@pytest.mark.mariadb
def test_a_number_marked_invalid_or_do_not_call_is_passed_over(mariadb_database: dict[str, Any]) -> None:
    """A client's numbers in a shared table (``number_party``: ``party_type`` 'Client' +
    ``party_id``): the primary one taken, unless its own row says it is invalid or not to be
    called; then the client's other number, or none."""
    clients = [f"c{i:04d}" for i in range(30)]
    entries: list[tuple[Any, ...]] = []
    owners: list[tuple[Any, ...]] = []
    want: dict[str, str | None] = {}

    def own(owner: str, kind: str, dial: str, primary: int, invalid: int = 0, refused: int = 0) -> None:
        entry = f"n{len(entries):04d}"
        entries.append((entry, dial, invalid, refused))
        owners.append((len(owners) + 1, owner, entry, kind, primary))

    for i, client in enumerate(clients):
        main, other = f"+49 151 {20000000 + i}", f"+49 160 {30000000 + i}"
        own(client, "Client", main, 1, invalid=int(i % 5 == 1), refused=int(i % 7 == 2))
        if i % 3:
            own(client, "Client", other, 0)
        unusable = i % 5 == 1 or i % 7 == 2
        want[client] = (other if i % 3 else None) if unusable else main
    for i in range(4):
        own(f"s{i:04d}", "Staff", f"+49 30 {5550000 + i}", 1)
    _load(mariadb_database, SHARED_NUMBERS_DDL, [
        ("INSERT INTO client VALUES (%s, %s, 'Lang')", [(c, f"Eva{i}") for i, c in enumerate(clients)]),
        ("INSERT INTO staff VALUES (%s, %s, 'Weber')", [(f"s{i:04d}", f"Doc{i}") for i in range(4)]),
        ("INSERT INTO number_entry VALUES (%s, %s, %s, %s)", entries),
        ("INSERT INTO number_party VALUES (%s, %s, %s, %s, %s)", owners),
        ("INSERT INTO booking VALUES (%s, %s, %s, %s, %s)",
         [(v, clients[v % 30], f"s{v % 4:04d}", data.visit_at(v), data.visit_at(v) + timedelta(minutes=30))
          for v in range(1, VISITS + 1)])])
    fields, query, proposal = _proposal(mariadb_database)
    assert fields["patient.phone"] == {"from": "patient_phone"}, fields
    note = next(n for n in proposal.notes if n.startswith("patient.phone: table 'number_party'"))
    assert "none marked unusable (number_entry.'is_invalid', number_entry.'do_not_call')" in note, note
    got = {r["client_id"]: r["patient_phone"] for r in data.proposed_rows(mariadb_database, query)}
    assert got == want, {k: (v, want[k]) for k, v in got.items() if v != want[k]}


@pytest.mark.mariadb
def test_a_polymorphic_reference_alone_names_a_patient_only_on_its_type(mariadb_database: dict[str, Any]) -> None:
    """The same visits with no attendee rows: ``regarding_id`` is the patient only where
    ``regarding_type`` is 'Person' (the join says so, the patient's id is the joined person's key,
    and a company's visits, naming no patient, are left out); the person's name is the patient's."""
    people = [f"p{i:05d}" for i in range(40)]
    visits, want = [], {}
    for v in range(1, VISITS + 1):
        company = v % 5 == 0
        patient = people[1 + v % 39]
        visits.append((v, f"Visit {v}", "k00000" if company else patient, "Company" if company else "Person",
                       data.visit_at(v), data.visit_at(v) + timedelta(minutes=30)))
        if not company:
            want[v] = patient
    _load(mariadb_database, REGARDING_DDL, [
        ("INSERT INTO person VALUES (%s, %s, 'Lang', %s)",
         [(p, f"Eva{i}", f"+49 151 {20000000 + i}") for i, p in enumerate(people)]),
        ("INSERT INTO company VALUES (%s, %s)", [("k00000", "Firm")]),
        ("INSERT INTO engagement VALUES (%s, %s, %s, %s, %s, %s)", visits)])
    fields, query, _ = _proposal(mariadb_database)
    assert "ON t1.id = a.regarding_id AND a.regarding_type = 'Person'" in query, query
    assert fields["patient.external_id"] == {"from": "patient_id"}, fields
    assert fields["patient.name"] == {"concat": ["person_given_name", "person_family_name"]}, fields
    got = {r["id"]: r["patient_id"] for r in data.proposed_rows(mariadb_database, query)}
    assert got == want, {k: (v, want.get(k)) for k, v in got.items() if v != want.get(k)}
