"""Who a visit is about as link rows typed by a role code, where no role word says who delivers
the visit, on a schema built here from the class (no product's tables), in SQLite: every party an
``actor`` row with no name, a person's names on a ``human`` row keyed by the actor; a
``meeting`` per visit; a ``meeting_member`` row per actor taking part, keyed by (meeting, actor,
role, since), its role a code of the ``role_code`` lookup (``EV_HOST``, ``EV_ATTENDEE``) and a
validity range (``since``/``until``: a host replaced keeps a row that has ended). The host is the
doctor (three actors host every meeting), the attendee the patient, the host the one still
assigned, each named from the ``human`` row."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE actor (actor_id VARCHAR(20) PRIMARY KEY, kind VARCHAR(20));
CREATE TABLE human (actor_id VARCHAR(20) PRIMARY KEY REFERENCES actor(actor_id), given_name VARCHAR(100),
  family_name VARCHAR(100));
CREATE TABLE role_code (code VARCHAR(20) PRIMARY KEY, label VARCHAR(100));
CREATE TABLE meeting (meeting_id VARCHAR(20) PRIMARY KEY, title VARCHAR(100), begins DATETIME, finishes DATETIME);
CREATE TABLE meeting_member (meeting_id VARCHAR(20) NOT NULL REFERENCES meeting(meeting_id),
  actor_id VARCHAR(20) NOT NULL REFERENCES actor(actor_id), role_code VARCHAR(20) NOT NULL REFERENCES role_code(code),
  since DATETIME NOT NULL, until DATETIME, PRIMARY KEY (meeting_id, actor_id, role_code, since))
"""
HOSTS = [("H1", "Ann", "Host"), ("H2", "Ben", "Host"), ("H3", "Cy", "Host")]


def build(path: Path) -> dict[str, tuple[str, str, str, str]]:
    """The rows; per meeting: the attendee's id and name, the current host's id and name."""
    connection = sqlite3.connect(path)
    connection.executescript(DDL)
    connection.executemany("INSERT INTO role_code VALUES (?, ?)", [("EV_HOST", "Host"), ("EV_ATTENDEE", "Attendee")])
    people = [*HOSTS, *((f"A{n}", f"Given{n}", f"Family{n}") for n in range(30))]
    connection.executemany("INSERT INTO actor VALUES (?, 'PERSON')", [(p[0],) for p in people])
    connection.executemany("INSERT INTO human VALUES (?, ?, ?)", people)
    now = datetime.now().replace(microsecond=0)
    expected = {}
    for m in range(60):
        start, booked = now + timedelta(days=1 + m // 5, hours=m % 5), now - timedelta(days=10)
        meeting, host, attendee = f"M{m}", HOSTS[m % 3], people[3 + (m * 7) % 30]
        connection.execute("INSERT INTO meeting VALUES (?, 'Visit', ?, ?)", (meeting, start,
                                                                             start + timedelta(minutes=30)))
        if m % 4 == 1:  # the host first booked was replaced: that row ended
            gone = HOSTS[(m + 1) % 3]
            connection.execute("INSERT INTO meeting_member VALUES (?, ?, 'EV_HOST', ?, ?)",
                               (meeting, gone[0], booked, booked + timedelta(days=1)))
        connection.execute("INSERT INTO meeting_member VALUES (?, ?, 'EV_HOST', ?, NULL)",
                           (meeting, host[0], booked + timedelta(days=1)))
        connection.execute("INSERT INTO meeting_member VALUES (?, ?, 'EV_ATTENDEE', ?, NULL)",
                           (meeting, attendee[0], booked))
        expected[meeting] = (attendee[0], f"{attendee[1]} {attendee[2]}", host[0], f"{host[1]} {host[2]}")
    connection.commit()
    connection.close()
    return expected


def test_the_role_whose_few_parties_are_on_every_visit_delivers_it(tmp_path: Path) -> None:
    """Before, a link table with a reference beside the party's (its role's lookup) was never
    read as role links: no patient, no doctor."""
    expected = build(tmp_path / "store.db")
    proposal = discover_sql(f"sqlite:///{tmp_path / 'store.db'}", name="store", clinic_zone="Europe/London",
                            stored_times="local")
    fields, query = (proposal.mapping or {})["fields"], proposal.connector["query"]
    assert "FROM meeting AS a" in query, query
    assert fields["patient.external_id"] == {"from": "patient_id"}, fields
    assert fields["practitioner.external_id"] == {"from": "doctor_id"}, fields
    patient_name, doctor_name = fields["patient.name"]["concat"], fields["practitioner.name"]["concat"]
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as connection:
        rows = connection.execute(text(query), {"window_start": datetime(2000, 1, 1),
                                                "window_end": datetime(2100, 1, 1)}).mappings().all()
    got = {r["meeting_id"]: (r["patient_id"], " ".join(r[c] for c in patient_name), r["doctor_id"],
                             " ".join(r[c] for c in doctor_name)) for r in rows}
    assert got == expected  # the replaced host's ended row is never the doctor
