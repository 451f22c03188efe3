"""Classes of rows reached beside the visit, each on a small MariaDB schema built here (not a
product's): a patient's role row whose person (a shared users row) is soft-deleted withdraws the
visit as the patient's own flag would."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from clinicsync.sync.discover import typedlinks
from tests.discover import sql_support as data

VISITS = 60


_load, _proposal = data.load_tables, data.berlin_proposal


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
         [(v, 1 + v % 30, 1 + v % 2, data.visit_at(v)) for v in range(1, VISITS + 1)])])
    fields, query, proposal = _proposal(mariadb_database)
    assert fields["patient.name"] == {"concat": ["patient_given_name", "patient_family_name"]}
    patient = query.split(" AS patient_given_name")[0].rsplit(" ", 1)[-1].split(".")[0]
    assert f"{patient}.deleted_at IS NULL" in query
    assert f"{users} rows deleted: 'deleted_at' set means deleted" in proposal.connector_notes["query"]
    read = data.proposed_rows(mariadb_database, query)
    want = [v for v in range(1, VISITS + 1) if 1 + v % 30 not in gone]
    assert sorted(int(r["id"]) for r in read) == want


TYPED_LINK_DDL = """CREATE TABLE client (id VARCHAR(17) PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40),
  deleted TINYINT(1) DEFAULT 0);
CREATE TABLE user (id VARCHAR(17) PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40));
CREATE TABLE account (id VARCHAR(17) PRIMARY KEY, name VARCHAR(60));
CREATE TABLE email_address (id VARCHAR(17) PRIMARY KEY, name VARCHAR(255), lower VARCHAR(255),
  opt_out TINYINT(1) DEFAULT 0, deleted TINYINT(1) DEFAULT 0);
CREATE TABLE entity_email_address (id INT PRIMARY KEY, entity_id VARCHAR(17), email_address_id VARCHAR(17),
  entity_type VARCHAR(100), `primary` TINYINT(1) DEFAULT 0, deleted TINYINT(1) DEFAULT 0);
CREATE TABLE booking (id INT PRIMARY KEY, client_id VARCHAR(17), user_id VARCHAR(17), date_start DATETIME,
  date_end DATETIME, FOREIGN KEY (client_id) REFERENCES client (id), FOREIGN KEY (user_id) REFERENCES user (id))"""


@pytest.mark.mariadb
def test_an_email_kept_behind_a_typed_link_table_is_followed(mariadb_database: dict[str, Any]) -> None:
    """A CRM's shape (EspoCRM's ``entity_email_address``: ``entity_type`` + ``entity_id``): the
    client's email only in a shared table, linked by a type naming the client's table ('Client'
    for ``client``) and an id holding its keys. The client's row taken is the primary one not
    deleted (an older non-primary address, a primary row deleted, an address row deleted are
    passed over); the 'User' and 'Account' rows are others' addresses."""
    clients = [f"c{i:04d}" for i in range(30)]
    users, accounts = [f"u{i:04d}" for i in range(5)], [f"x{i:04d}" for i in range(8)]
    addresses: list[tuple[Any, ...]] = []
    links: list[tuple[Any, ...]] = []
    want: dict[str, str] = {}

    def link(owner: str, kind: str, mail: str, primary: int, deleted: int = 0, gone: int = 0) -> None:
        address = f"e{len(addresses):04d}"
        addresses.append((address, mail, mail.lower(), gone))
        links.append((len(links) + 1, owner, address, kind, primary, deleted))

    for i, client in enumerate(clients):
        link(client, "Client", f"old.{i}@example.de", 0)  # an older address, not the primary
        if i % 4 == 0:
            link(client, "Client", f"removed.{i}@example.de", 1, deleted=1)  # a primary row removed
        if i % 5 == 0:
            link(client, "Client", f"bounced.{i}@example.de", 1, gone=1)  # its address row deleted
        link(client, "Client", f"client.{i}@example.de", 1)
        want[client] = f"client.{i}@example.de"
    for i, user in enumerate(users):
        link(user, "User", f"staff.{i}@clinic.de", 1)
    for i, account in enumerate(accounts):
        link(account, "Account", f"info.{i}@firm.de", 1)
    _load(mariadb_database, TYPED_LINK_DDL, [
        ("INSERT INTO client VALUES (%s, %s, 'Lang', 0)", [(c, f"Eva{i}") for i, c in enumerate(clients)]),
        ("INSERT INTO user VALUES (%s, %s, 'Weber')", [(u, f"Doc{i}") for i, u in enumerate(users)]),
        ("INSERT INTO account VALUES (%s, %s)", [(a, f"Firm {i}") for i, a in enumerate(accounts)]),
        ("INSERT INTO email_address VALUES (%s, %s, %s, 0, %s)", addresses),
        ("INSERT INTO entity_email_address VALUES (%s, %s, %s, %s, %s, %s)", links),
        ("INSERT INTO booking VALUES (%s, %s, %s, %s, %s)",
         [(v, clients[v % 30], users[v % 5], data.visit_at(v), data.visit_at(v) + timedelta(minutes=30))
          for v in range(1, VISITS + 1)])])
    fields, query, proposal = _proposal(mariadb_database)
    assert fields["patient.email"] == {"from": "patient_email"}
    assert "cs_r.entity_type = 'Client'" in query
    note = next(n for n in proposal.notes if n.startswith("patient.email: table 'entity_email_address'"))
    assert "'Client' rows name 'client' (100% of their 'entity_id' values are its keys)" in note
    assert "the primary first ('primary')" in note and "not deleted" in note
    read = data.proposed_rows(mariadb_database, query)
    got = {r["client_id"]: r["patient_email"] for r in read}
    assert len(read) == VISITS and got == want, got


@pytest.mark.parametrize(("value", "table", "names"), [
    ("Contacts", "contacts", True), ("Contact", "contacts", True), ("Client", "client", True),
    ("res.partner", "res_partner", True), ("App\\Models\\Patient", "patients", True),
    ("Users", "contacts", False), ("Accounts", "contacts", False), ("partner", "res_partner", False)])
def test_a_type_value_names_a_table_by_its_word(value: str, table: str, names: bool) -> None:
    assert typedlinks.names_table(value, table) is names


CALL_CENTRE_DDL = """CREATE TABLE agents (id INT PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40),
  extension VARCHAR(10));
CREATE TABLE doctors (id INT PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40), email VARCHAR(80));
CREATE TABLE patients (id INT PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40), mobile VARCHAR(30));
CREATE TABLE appointments (id INT PRIMARY KEY, patient_id INT, agent_id INT, doctor_id INT, starts DATETIME,
  FOREIGN KEY (patient_id) REFERENCES patients (id), FOREIGN KEY (agent_id) REFERENCES agents (id),
  FOREIGN KEY (doctor_id) REFERENCES doctors (id))"""


@pytest.mark.mariadb
def test_a_call_centre_agent_beside_the_doctor_is_not_the_doctor(mariadb_database: dict[str, Any]) -> None:
    """``agent_id`` (the call-centre agent who booked the visit) listed before ``doctor_id``: an
    agent is a booking tool's practitioner only where nothing names one by a stronger word
    (LatePoint's ``agent_id`` alone stays the doctor: test_real_latepoint)."""
    _load(mariadb_database, CALL_CENTRE_DDL, [
        ("INSERT INTO agents VALUES (%s, %s, 'Callcenter', %s)", [(a, f"Agent{a}", f"{100 + a}") for a in range(1, 4)]),
        ("INSERT INTO doctors VALUES (%s, %s, 'Arzt', %s)", [(d, f"Doc{d}", f"doc{d}@praxis.de") for d in range(1, 5)]),
        ("INSERT INTO patients VALUES (%s, %s, 'Lang', %s)", [(p, f"Eva{p}", f"+49 151 {20000000 + p}")
                                                              for p in range(1, 31)]),
        ("INSERT INTO appointments VALUES (%s, %s, %s, %s, %s)",
         [(v, 1 + v % 30, 1 + v % 3, 1 + v % 4, data.visit_at(v)) for v in range(1, VISITS + 1)])])
    fields, query, proposal = _proposal(mariadb_database)
    assert "doctor_id" in str(fields["practitioner.external_id"]), fields
    assert "agent_id" not in str(fields["practitioner.external_id"])
    assert "Agent" not in str(fields.get("practitioner.name")) and "agents" not in query
    assert any(n.startswith("'agent_id': an agent's or specialist's row") for n in proposal.notes), proposal.notes
