"""Classes of a person's contacts and of link rows, each on a small MariaDB schema built here (not a
product's): a person's phones and emails kept as ONE text column holding a JSON list of contact
objects (``[{"value": ..., "label": ...}]``), and a visit's link rows where a row naming no person
(a colleague invited by staff id) has the lowest key."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from clinicsync.sync.discover.contacts.contactlists import contact_field
from tests.discover import sql_support as data

VISITS = 60
_load, _proposal = data.load_tables, data.berlin_proposal


LISTS_DDL = """CREATE TABLE staff (id INT PRIMARY KEY, full_name VARCHAR(80), email VARCHAR(80));
CREATE TABLE clients (id INT PRIMARY KEY, full_name VARCHAR(80), phones LONGTEXT, emails LONGTEXT, tags LONGTEXT);
CREATE TABLE visits (id INT PRIMARY KEY, begins DATETIME, ends DATETIME, staff_id INT, client_id INT,
  FOREIGN KEY (staff_id) REFERENCES staff (id), FOREIGN KEY (client_id) REFERENCES clients (id))"""


def _numbers(i: int) -> str:
    entries = [{"number": f"+49 151 {20000000 + i}", "kind": "mobile"}]
    if i % 3 == 0:
        entries.append({"number": f"030 {1000000 + i}", "kind": "home"})
    if i % 7 == 0:
        entries.reverse()  # a landline given first: the list's order is kept, the mobile its fallback
    return json.dumps(entries)


@pytest.mark.mariadb
def test_a_persons_json_list_of_contacts_gives_the_phone_and_email(mariadb_database: dict[str, Any]) -> None:
    """``clients.phones`` and ``clients.emails`` are JSON lists of objects: the key whose values are
    phone numbers (emails) of the first entries is read, the second entry its fallback, and the
    connector reads those columns as JSON. A list of labels (``tags``) places nothing."""
    _load(mariadb_database, LISTS_DDL, [
        ("INSERT INTO staff VALUES (%s, %s, %s)", [(s, f"Dr. Doc{s} Weber", f"doc{s}@praxis.example.de")
                                                   for s in range(1, 4)]),
        ("INSERT INTO clients VALUES (%s, %s, %s, %s, %s)",
         [(i, f"Given{i} Family{i}", _numbers(i), json.dumps([{"address": f"c{i}@mail.example.de", "primary": True}]),
           json.dumps(["vip", "new"][: i % 3])) for i in range(1, 41)]),
        ("INSERT INTO visits VALUES (%s, %s, %s, %s, %s)",
         [(v, data.visit_at(v), data.visit_at(v) + timedelta(minutes=30), 1 + v % 3, 1 + v % 40)
          for v in range(1, VISITS + 1)])])
    fields, _, proposal = _proposal(mariadb_database)
    phones = fields["patient.phone"]["from"]
    assert phones[0].endswith("phones[0].number") and phones[1].endswith("phones[1].number"), fields
    assert fields["patient.email"]["from"][0].endswith("emails[0].address"), fields
    assert not any("tags" in str(spec) for spec in fields.values()), fields
    outs = {p.split("[")[0] for p in (phones[0], fields["patient.email"]["from"][0])}
    assert outs <= set(proposal.connector["json_columns"]), proposal.connector
    why = next(g.why for g in proposal.guesses if g.field == "patient.phone")
    assert "JSON lists; key 'number'" in why and "phone numbers" in why, why


def test_only_contact_values_make_a_contact_list() -> None:
    """The key is chosen by its values: a list of labels, of flags or free text is no contact list."""
    numbers = [json.dumps([{"label": "work", "value": f"+49 151 {20000000 + i}"}]) for i in range(10)]
    assert contact_field(numbers, "DE") is not None and contact_field(numbers, "DE")[:2] == ("patient.phone", "value")
    assert contact_field([json.dumps([{"label": "work", "value": "yes"}])] * 10, "DE") is None
    assert contact_field([json.dumps(["vip"])] * 10, "DE") is None
    assert contact_field(["call after 5"] * 10, "DE") is None


LINKS_DDL = """CREATE TABLE staff (id INT PRIMARY KEY, full_name VARCHAR(80), email VARCHAR(80));
CREATE TABLE persons (id INT PRIMARY KEY, full_name VARCHAR(80), mobile VARCHAR(30));
CREATE TABLE events (id INT PRIMARY KEY, title VARCHAR(80), starts_at DATETIME, ends_at DATETIME, staff_id INT,
  FOREIGN KEY (staff_id) REFERENCES staff (id));
CREATE TABLE event_participants (id INT PRIMARY KEY, event_id INT NOT NULL, staff_id INT NULL, person_id INT NULL,
  FOREIGN KEY (event_id) REFERENCES events (id), FOREIGN KEY (staff_id) REFERENCES staff (id),
  FOREIGN KEY (person_id) REFERENCES persons (id))"""


@pytest.mark.mariadb
def test_a_link_row_naming_no_person_is_never_the_first(mariadb_database: dict[str, Any]) -> None:
    """Every fourth event lists a colleague (a staff id, the person column empty) before its client.
    MariaDB sorts NULL first, so taking the lowest person key took the empty row and the visit had
    no patient; the first row that names a person is the patient."""
    participants, row = [], 0
    for e in range(1, VISITS + 1):
        if e % 4 == 0:
            row += 1
            participants.append((row, e, 1, None))
        row += 1
        participants.append((row, e, None, 1 + e % 30))
    _load(mariadb_database, LINKS_DDL, [
        ("INSERT INTO staff VALUES (%s, %s, %s)", [(u, f"Dr. U{u} Keller", f"u{u}@praxis.example.de")
                                                   for u in range(1, 4)]),
        ("INSERT INTO persons VALUES (%s, %s, %s)", [(p, f"Given{p} Family{p}", f"+49 151 {20000000 + p}")
                                                     for p in range(1, 31)]),
        ("INSERT INTO events VALUES (%s, 'Termin', %s, %s, %s)",
         [(e, data.visit_at(e), data.visit_at(e) + timedelta(minutes=30), 1 + e % 3) for e in range(1, VISITS + 1)]),
        ("INSERT INTO event_participants VALUES (%s, %s, %s, %s)", participants)])
    fields, query, _ = _proposal(mariadb_database)
    assert fields["patient.external_id"] == {"from": "patient_id"}, fields
    rows = data.proposed_rows(mariadb_database, query)
    assert len(rows) == VISITS and all(r["patient_id"] == 1 + r["id"] % 30 for r in rows), \
        [r["id"] for r in rows if r["patient_id"] != 1 + r["id"] % 30][:5]
