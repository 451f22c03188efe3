"""Codes whose words live in one shared list table, on a schema built here (no product's tables):
a visit keeps its status, its kind and each linked person's role as small numbers, and their
labels are rows of one option table keyed by (list, code), the list named in a table of lists.
No key points from a code column to that table, and '1' is a code of every list. discover must
find the list that covers a column's codes and read its labels: the statuses proposed without the
admin typing them, the link role whose label names the one who delivers the visit taken as the
doctor (the targets' role stays the patient, who entered it is no one's), and the kinds that are
no visits (emails) left out."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.discover import sql_support as data

DDL = """CREATE TABLE lookup_lists (id INT PRIMARY KEY, name VARCHAR(64), title VARCHAR(128));
CREATE TABLE lookup_entries (id INT PRIMARY KEY, list_ref_id INT NOT NULL, value VARCHAR(64), label VARCHAR(128),
  name VARCHAR(64), FOREIGN KEY (list_ref_id) REFERENCES lookup_lists (id));
CREATE TABLE persons (id INT PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40), email VARCHAR(120),
  phone VARCHAR(32));
CREATE TABLE engagements (id INT PRIMARY KEY, subject VARCHAR(80), begins DATETIME, length_minutes INT,
  state_id INT, kind_id INT, priority INT);
CREATE TABLE engagement_parties (id INT PRIMARY KEY, engagement_id INT NOT NULL, person_id INT NOT NULL,
  party_role INT NOT NULL, FOREIGN KEY (engagement_id) REFERENCES engagements (id),
  FOREIGN KEY (person_id) REFERENCES persons (id))"""

LISTS = {"engagement_state": [(1, "Scheduled"), (2, "Completed"), (3, "Cancelled"), (4, "Left Message"),
                              (5, "No-show")],
         "engagement_kind": [(1, "Meeting"), (2, "Phone Call"), (3, "Email")],
         "party_roles": [(1, "Assigned staff"), (2, "Source"), (3, "Targets")],
         "priorities": [(1, "Urgent"), (2, "Normal"), (3, "Low")]}
STAFF = [1, 2, 3]
DESK = 4
VISITS = 90


def _load(database: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The lists, four staff and sixty clients, and visits (every fifth an email); what each
    visit's doctor, patient and status are."""
    entries, entry = [], 0
    for group, (name, codes) in enumerate(LISTS.items(), start=1):
        for code, label in codes:
            entry += 1
            entries.append((entry, group, str(code), label, label.replace(" ", "_").replace("-", "_")))
    persons = [(p, f"Given{p}", f"Family{p}", f"person{p}@example.de", f"+49 151 {20000000 + p}")
               for p in range(1, 65)]
    base = datetime.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    truth: dict[int, dict[str, Any]] = {}
    visits, parties = [], []
    for v in range(1, VISITS + 1):
        kind = 3 if v % 5 == 0 else 1
        state = 3 if v % 7 == 0 else 1
        visits.append((v, "Consultation", base + timedelta(days=v % 20, hours=v % 8), 30, state, kind, 2))
        patient, doctor = 5 + v % 60, STAFF[v % 3]
        parties += [(3 * v, v, DESK, 2), (3 * v + 1, v, patient, 3)]
        if kind == 1:
            parties.append((3 * v + 2, v, doctor, 1))
            truth[v] = {"patient": patient, "doctor": doctor, "state": state}
    data.load_tables(database, DDL, [
        ("INSERT INTO lookup_lists VALUES (%s, %s, %s)",
         [(g, name, name.title()) for g, name in enumerate(LISTS, start=1)]),
        ("INSERT INTO lookup_entries VALUES (%s, %s, %s, %s, %s)", entries),
        ("INSERT INTO persons VALUES (%s, %s, %s, %s, %s)", persons),
        ("INSERT INTO engagements VALUES (%s, %s, %s, %s, %s, %s, %s)", visits),
        ("INSERT INTO engagement_parties VALUES (%s, %s, %s, %s)", parties)])
    return truth


@pytest.mark.mariadb
def test_status_codes_are_read_through_the_list_that_covers_them(mariadb_database: dict[str, Any]) -> None:
    """``state_id`` 1 and 3 are codes of every list here; the list whose labels are status words
    (and whose name shares 'state') gives 'Scheduled' -> booked, 'Cancelled' -> cancelled."""
    _load(mariadb_database)
    _, _, proposal = data.berlin_proposal(mariadb_database)
    assert proposal.mapping is not None
    assert proposal.mapping["status_map"] == {"1": "booked", "3": "cancelled"}, proposal.mapping["status_map"]
    assert any("list 'engagement_state'" in note for note in proposal.notes), proposal.notes


@pytest.mark.mariadb
def test_the_role_whose_label_delivers_the_visit_is_the_doctor(mariadb_database: dict[str, Any]) -> None:
    """``party_role`` 1 'Assigned staff' (three persons), 2 'Source' (one person on every visit),
    3 'Targets' (many): the assigned one is the doctor on every visit, the target the patient,
    who entered it neither."""
    truth = _load(mariadb_database)
    fields, query, _ = data.berlin_proposal(mariadb_database)
    assert "cs_l.party_role = 3" in query and "cs_l.party_role = 1" in query, query
    assert "cs_l.party_role = 2" not in query, query
    assert fields["practitioner.external_id"] == {"from": "doctor_id"}, fields
    assert "practitioner.name" in fields, fields
    rows = data.proposed_rows(mariadb_database, query)
    assert {int(r["id"]): (int(r["patient_id"]), int(r["doctor_id"])) for r in rows if int(r["id"]) in truth} == {
        v: (t["patient"], t["doctor"]) for v, t in truth.items()}


@pytest.mark.mariadb
def test_kinds_whose_label_is_no_visit_are_left_out(mariadb_database: dict[str, Any]) -> None:
    """Every engagement names a client (the target's link row), emails too: the rows alone do not
    tell them apart. ``kind_id`` read through 'engagement_kind': 3 'Email' left out, 1 'Meeting'
    read, and every meeting kept."""
    truth = _load(mariadb_database)
    _, query, proposal = data.berlin_proposal(mariadb_database)
    assert "(a.kind_id IS NULL OR a.kind_id NOT IN ('2', '3'))" in query, query
    assert any("'Phone Call'" in note and "not guessed to be a phone visit" in note for note in proposal.notes)
    assert {int(r["id"]) for r in data.proposed_rows(mariadb_database, query)} == set(truth)


TEXT_LIST_DDL = """CREATE TABLE list_options (list_id VARCHAR(100) NOT NULL, option_id VARCHAR(100) NOT NULL,
  title VARCHAR(255), seq INT, PRIMARY KEY (list_id, option_id));
CREATE TABLE clients (id INT PRIMARY KEY, fname VARCHAR(40), lname VARCHAR(40), email VARCHAR(120));
CREATE TABLE bookings (id INT PRIMARY KEY, client_id INT REFERENCES clients (id), starts_at TIMESTAMP,
  minutes INT, appt_state SMALLINT, room SMALLINT)"""


@pytest.mark.postgres
def test_a_list_named_by_text_in_the_same_table_is_read_too(database: str) -> None:
    """OpenEMR's shape on PostgreSQL: the list's name is a text column of the option table itself
    (``list_id``), the codes text, the status column a number. 'rooms' covers the same codes, but
    its labels are no status words: 'appt_state' is read, 10 'Booked' -> booked, 30 'Did not attend'
    -> noshow, 20 'Left a voicemail' asked."""
    import psycopg

    from clinicsync.sync.discover.sql import discover_sql

    start = datetime.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    with psycopg.connect(database, autocommit=True) as connection:
        for statement in TEXT_LIST_DDL.split(";"):
            connection.execute(statement)
        for list_id, options in {"appt_state": [("10", "Booked"), ("20", "Left a voicemail"), ("30", "Did not attend")],
                                 "rooms": [("10", "Room A"), ("20", "Room B"), ("30", "Room C")]}.items():
            for seq, (option, title) in enumerate(options):
                connection.execute("INSERT INTO list_options VALUES (%s, %s, %s, %s)", (list_id, option, title, seq))
        for c in range(1, 31):
            connection.execute("INSERT INTO clients VALUES (%s, %s, %s, %s)",
                               (c, f"Given{c}", f"Family{c}", f"client{c}@example.de"))
        for b in range(1, 61):
            connection.execute("INSERT INTO bookings VALUES (%s, %s, %s, 30, %s, %s)",
                               (b, 1 + b % 30, start + timedelta(days=b % 15, hours=b % 8), (10, 20, 30)[b % 3],
                                10 * (1 + b % 3)))
    proposal = discover_sql(database, name="c", timezone="Europe/Berlin", region="DE", stored_times="local")
    assert proposal.mapping is not None
    assert proposal.mapping["status_map"] == {"10": "booked", "30": "noshow"}, proposal.mapping["status_map"]
    assert [w.value for w in proposal.status_words if w.status is None] == ["20"]
    assert any("list 'appt_state'" in n and "'20' say no known status" in n for n in proposal.notes), proposal.notes
