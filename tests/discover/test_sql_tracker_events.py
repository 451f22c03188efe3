"""A public-health tracker's scheduled follow-ups, on a schema built here from the class (no
product's tables), in PostgreSQL:

* the start is the day the follow-up is due, named with its words glued (``duedate``), beside a
  sync stamp every row holds at its epoch default;
* the tracker's status words: ``SCHEDULE`` booked, ``SKIPPED`` cancelled (nobody is to come),
  ``OVERDUE`` a no-show (its day passed with no visit);
* the user a follow-up is assigned to is a login whose person is its extension row (its key is
  the person's key); the glued audit columns of that login (``lastupdatedby``,
  ``creatoruserid``) name the clerk who touched it, never the person it is.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from clinicsync.sync.discover.graph import audit
from clinicsync.sync.discover.sql import discover_sql

ZONE = "Africa/Nairobi"
DDL = """
CREATE TABLE person (personid integer PRIMARY KEY, firstname varchar(80) NOT NULL, surname varchar(80) NOT NULL,
  email varchar(120), lastupdated timestamp NOT NULL, created timestamp NOT NULL);
CREATE TABLE login (loginid integer PRIMARY KEY REFERENCES person(personid), username varchar(60) NOT NULL,
  lastupdatedby integer REFERENCES person(personid), creatoruserid integer REFERENCES person(personid),
  created timestamp NOT NULL, lastupdated timestamp NOT NULL);
CREATE TABLE client (clientid integer PRIMARY KEY, fullname varchar(120), mobile varchar(30),
  created timestamp NOT NULL, lastupdated timestamp NOT NULL);
CREATE TABLE followup (followupid integer PRIMARY KEY, clientid integer NOT NULL REFERENCES client(clientid),
  duedate timestamp, executiondate timestamp, status varchar(25) NOT NULL,
  lastsynchronized timestamp NOT NULL DEFAULT to_timestamp(0), assigneduserid integer REFERENCES login(loginid),
  created timestamp NOT NULL, lastupdated timestamp NOT NULL)
"""


def build(connection: psycopg.Connection[Any]) -> None:
    """Three nurses (logins last touched by the clerk, person 9, whose login the nurses' were
    made by), forty clients, ninety follow-ups due on local days ahead (midnight)."""
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    for statement in DDL.split(";"):
        connection.execute(statement)
    for p, first, last in ((1, "Achieng", "Otieno"), (2, "Baraka", "Mwangi"), (3, "Wanjiru", "Kamau"),
                           (9, "Records", "Clerk")):
        connection.execute("INSERT INTO person VALUES (%s, %s, %s, %s, %s, %s)",
                           (p, first, last, f"{first.lower()}@clinic.example.org", now, now))
    for p in (9, 1, 2, 3):
        connection.execute("INSERT INTO login VALUES (%s, %s, 9, 9, %s, %s)", (p, f"user{p}", now, now))
    for c in range(1, 41):
        connection.execute("INSERT INTO client VALUES (%s, %s, %s, %s, %s)",
                           (c, f"Client{c} Example", f"+2547{c:08d}", now, now))
    for f in range(1, 91):
        day = (now + timedelta(days=1 + f % 20)).date()
        connection.execute("INSERT INTO followup (followupid, clientid, duedate, status, assigneduserid, created, "
                           "lastupdated) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                           (f, 1 + f % 40, datetime(day.year, day.month, day.day),
                            ("SCHEDULE", "SCHEDULE", "SKIPPED", "SCHEDULE", "OVERDUE")[f % 5], 1 + f % 3,
                            now - timedelta(days=30), now - timedelta(minutes=f)))


def test_glued_audit_columns() -> None:
    assert audit("lastupdatedby") and audit("creatoruserid") and audit("last_updated_by")
    assert not audit("lastupdated") and not audit("userid") and not audit("last_visit")


@pytest.mark.postgres
def test_a_tracker_follow_up_due_day_its_words_and_its_assigned_user(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        build(connection)
    proposal = discover_sql(postgres_url, name="tracker", clinic_zone=ZONE)
    mapping = proposal.mapping or {}
    fields, query = mapping["fields"], proposal.connector["query"]
    assert fields["start"] == {"from": "duedate"}, fields
    assert {w: mapping["status_map"].get(w) for w in ("SCHEDULE", "SKIPPED", "OVERDUE")} == {
        "SCHEDULE": "booked", "SKIPPED": "cancelled", "OVERDUE": "noshow"}
    print(query, fields)
    # the nurse: the assigned login's own person row (its key), never the clerk who last touched it
    assert "lastupdatedby" not in query and "creatoruserid" not in query, query
    assert "practitioner.name" in fields, fields
