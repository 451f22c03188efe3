"""A visit's doctor named by the user's LOGIN, on a small MariaDB schema built here (not a
product's): ``assigned_to`` holds an account's ``login`` (text, no key, no foreign key), a few rows
hold a word for the whole practice that is nobody's login; the login is unique in the accounts
table and in their one-to-one profile rows, both naming the user; the user's email is kept as
``email_address``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.discover import sql_support as data

VISITS = 60
DOCTORS = [("ahart", "Anna", "Hart"), ("bcole", "Ben", "Cole"), ("cdiaz", "Carla", "Diaz")]

DDL = """CREATE TABLE person (id INT PRIMARY KEY, given_name VARCHAR(40), family_name VARCHAR(40), mobile VARCHAR(30));
CREATE TABLE account (id INT PRIMARY KEY, login VARCHAR(40), password VARCHAR(100), first_name VARCHAR(40),
  last_name VARCHAR(40), email_address VARCHAR(100), UNIQUE (login));
CREATE TABLE account_profile (id INT PRIMARY KEY, login VARCHAR(40), full_name VARCHAR(80),
  email_address VARCHAR(100), UNIQUE (login));
CREATE TABLE booking (id INT PRIMARY KEY, person_id INT, assigned_to VARCHAR(40), begins DATETIME, ends DATETIME,
  FOREIGN KEY (person_id) REFERENCES person (id))"""


@pytest.mark.mariadb
def test_a_login_kept_as_text_reaches_the_doctor_and_email(mariadb_database: dict[str, Any]) -> None:
    """Nearly every row's ``assigned_to`` is an account's login (a ``to`` that is no time: its
    values are words), 2 of 60 are 'Everyone': the doctor is the account the login names (the
    table whose rows sign in, of the two holding each login once), with its name and its
    ``email_address``; the 'Everyone' rows name no doctor."""
    accounts = [("desk", "Front", "Desk"), *DOCTORS]
    visits, want = [], {}
    for v in range(1, VISITS + 1):
        login = "Everyone" if v % 30 == 0 else DOCTORS[v % 3][0]
        visits.append((v, 1 + v % 40, login, data.visit_at(v), data.visit_at(v) + timedelta(minutes=30)))
        want[v] = None if login == "Everyone" else f"{login}@practice.example"
    data.load_tables(mariadb_database, DDL, [
        ("INSERT INTO person VALUES (%s, %s, 'Lang', %s)", [(p, f"Eva{p}", f"+49 151 {20000000 + p}")
                                                           for p in range(1, 41)]),
        ("INSERT INTO account VALUES (%s, %s, 'x', %s, %s, %s)",
         [(i, login, given, family, f"{login}@practice.example") for i, (login, given, family) in enumerate(accounts)]),
        ("INSERT INTO account_profile VALUES (%s, %s, %s, %s)",
         [(i, login, f"{given} {family}", f"{login}@practice.example")
          for i, (login, given, family) in enumerate(accounts)]),
        ("INSERT INTO booking VALUES (%s, %s, %s, %s, %s)", visits)])
    fields, query, proposal = data.berlin_proposal(mariadb_database)
    print(fields, query, proposal.notes)
    assert "JOIN account AS" in query and "= a.assigned_to" in query, query
    assert "practitioner.email" in fields, fields
    rows = data.proposed_rows(mariadb_database, query)
    got = {r["id"]: r[fields["practitioner.email"]["from"]] for r in rows}
    assert got == want, got
