"""A calendar owned by a user without a name, the user's name and email on rows of its own, on a
small MariaDB schema built here (not a product's): ``calendar.account_id`` -> ``app_user`` (a login
only), ``account_identity`` (a display name, an email, a ``standard`` flag; two for one user, the
standard one second) and ``address_book`` (the user's contacts: many names per user)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.discover import sql_support as data

VISITS = 60
DOCTORS = [("Anna Hart", "hart@practice.example"), ("Ben Cole", "cole@practice.example"),
           ("Carla Diaz", "diaz@practice.example")]

DDL = """CREATE TABLE app_user (id INT PRIMARY KEY, login VARCHAR(80), mail_host VARCHAR(80));
CREATE TABLE account_identity (id INT PRIMARY KEY, account_id INT, standard TINYINT, name VARCHAR(80),
  email VARCHAR(80), FOREIGN KEY (account_id) REFERENCES app_user (id));
CREATE TABLE address_book (id INT PRIMARY KEY, account_id INT, name VARCHAR(80), email VARCHAR(80),
  FOREIGN KEY (account_id) REFERENCES app_user (id));
CREATE TABLE calendar (id INT PRIMARY KEY, account_id INT, name VARCHAR(80), colour VARCHAR(8),
  FOREIGN KEY (account_id) REFERENCES app_user (id));
CREATE TABLE person (id INT PRIMARY KEY, given_name VARCHAR(40), family_name VARCHAR(40), mobile VARCHAR(30));
CREATE TABLE booking (id INT PRIMARY KEY, calendar_id INT, person_id INT, starts_at DATETIME, ends_at DATETIME,
  FOREIGN KEY (calendar_id) REFERENCES calendar (id), FOREIGN KEY (person_id) REFERENCES person (id))"""


@pytest.mark.mariadb
def test_the_calendar_owner_s_name_and_email_are_on_its_own_rows(mariadb_database: dict[str, Any]) -> None:
    """The doctor is the calendar's user, named by its standard identity row (not the
    calendar's label, not an address book entry): each visit's doctor email is that row's."""
    identities, book = [], []
    for d, (name, email) in enumerate(DOCTORS, start=1):
        identities.append((10 * d, d, 0, f"{name} (private)", f"{name.split()[0].lower()}@home.example"))
        identities.append((10 * d + 1, d, 1, name, email))
        book += [(100 * d + n, d, f"Contact {n}", f"contact{n}@mail.example") for n in range(12)]
    visits, want = [], {}
    for v in range(1, VISITS + 1):
        visits.append((v, 1 + v % 3, 1 + v % 40, data.visit_at(v), data.visit_at(v) + timedelta(minutes=20)))
        want[v] = DOCTORS[v % 3][1]
    data.load_tables(mariadb_database, DDL, [
        ("INSERT INTO app_user VALUES (%s, %s, 'localhost')", [(d, f"user{d}") for d in range(1, 4)]),
        ("INSERT INTO account_identity VALUES (%s, %s, %s, %s, %s)", identities),
        ("INSERT INTO address_book VALUES (%s, %s, %s, %s)", book),
        ("INSERT INTO calendar VALUES (%s, %s, %s, 'cc0000')", [(d, d, f"Agenda {n}") for d, (n, _) in
                                                                 enumerate(DOCTORS, start=1)]),
        ("INSERT INTO person VALUES (%s, %s, 'Lang', %s)", [(p, f"Eva{p}", f"+49 151 {20000000 + p}")
                                                           for p in range(1, 41)]),
        ("INSERT INTO booking VALUES (%s, %s, %s, %s, %s)", visits)])
    fields, query, proposal = data.berlin_proposal(mariadb_database)
    print(fields, query, proposal.notes)
    assert "practitioner.email" in fields, fields
    rows = data.proposed_rows(mariadb_database, query)
    assert {r["id"]: r[fields["practitioner.email"]["from"]] for r in rows} == want
