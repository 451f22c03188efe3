"""A client's contact rows whose relationship is a key into a lookup table (``relation_id`` ->
a shared ``lookup_values`` row typed by its ``domain``: 'Mother', 'Spouse', 'Self'): the words of
the rows it points at say whose the numbers are. Where they are all a relative's, no phone of
the client is read from them; where some rows are the client's own ('Self'), only those are.
Schemas built here (PostgreSQL), no product's tables."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, text

from clinicsync.sync.discover.sql import discover_sql

ZONE = "Europe/London"
CLIENTS = range(1, 31)

DDL = """
CREATE TABLE lookup_values (id INT PRIMARY KEY, domain VARCHAR(40) NOT NULL, code VARCHAR(40) NOT NULL,
  label VARCHAR(80) NOT NULL);
CREATE TABLE clients (id INT PRIMARY KEY, given_name VARCHAR(60), family_name VARCHAR(60), birth_date DATE);
CREATE TABLE client_contacts (id INT PRIMARY KEY, client_id INT NOT NULL REFERENCES clients(id),
  relation_id INT NOT NULL REFERENCES lookup_values(id), full_name VARCHAR(80), phone VARCHAR(32),
  email VARCHAR(80), created_at TIMESTAMP NOT NULL);
CREATE TABLE appointments (id INT PRIMARY KEY, client_id INT NOT NULL REFERENCES clients(id),
  reason_id INT REFERENCES lookup_values(id), start_time TIMESTAMP, end_time TIMESTAMP, status VARCHAR(16));
"""
# One lookup table for many kinds: the relationships beside the visit reasons and the towns.
LOOKUP = [(1, "visitReason", "checkup", "Check-up"), (2, "visitReason", "followup", "Follow-up"),
          (3, "town", "ely", "Ely"), (4, "relation", "mother", "Mother"), (5, "relation", "spouse", "Spouse"),
          (6, "relation", "self", "Self"), (7, "relation", "son", "Son")]


def mother(c: int) -> str:
    return f"07842 3{c:05d}"


def spouse(c: int) -> str:
    return f"07911 2{c:05d}"


def own(c: int) -> str:
    return f"07911 1{c:05d}"


def _contacts(with_self: bool) -> list[tuple[Any, ...]]:
    """(id, client, relation, name, phone, email, created): each client's mother and spouse, with
    their phones and emails, the newest rows; with ``with_self``, an older row of the client's
    own for every other client."""
    made = datetime(2024, 1, 1)
    rows: list[tuple[Any, ...]] = []
    for c in CLIENTS:
        if with_self and c % 2:
            rows.append((len(rows) + 1, c, 6, f"Given{c} Family{c}", own(c), f"client{c}@mail.example",
                         made + timedelta(days=c)))
        rows.append((len(rows) + 1, c, 4, f"Mother{c} Family{c}", mother(c), f"mother{c}@mail.example",
                     made + timedelta(days=100 + c)))
        rows.append((len(rows) + 1, c, 5, f"Partner{c}", spouse(c), f"partner{c}@mail.example",
                     made + timedelta(days=200 + c)))
    return rows


def _visits() -> list[tuple[Any, ...]]:
    now = datetime.now().replace(microsecond=0, second=0, minute=0)
    return [(n, CLIENTS[n % len(CLIENTS)], 1 + n % 2, now + timedelta(days=1 + n % 9, hours=n % 5),
             now + timedelta(days=1 + n % 9, hours=n % 5, minutes=30), "booked") for n in range(1, 61)]


def _load(database: str, with_self: bool) -> None:
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute(DDL)
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO lookup_values VALUES (%s, %s, %s, %s)", LOOKUP)
            cursor.executemany("INSERT INTO clients VALUES (%s, %s, %s, '1970-01-01')",
                               [(c, f"Given{c}", f"Family{c}") for c in CLIENTS])
            cursor.executemany("INSERT INTO client_contacts VALUES (%s, %s, %s, %s, %s, %s, %s)",
                               _contacts(with_self))
            cursor.executemany("INSERT INTO appointments VALUES (%s, %s, %s, %s, %s, %s)", _visits())


def _read(database: str, proposal: Any, field: str) -> dict[int, Any]:
    """Each client's value of ``field`` as the proposal's query reads it."""
    spec = proposal.mapping["fields"][field]["from"]
    columns = [spec] if isinstance(spec, str) else spec
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(proposal.connector["query"]), {
                "window_start": "2000-01-01", "window_end": "2100-01-01", "cursor": "1970-01-01"}).mappings().all()
    finally:
        engine.dispose()
    key = next(k for k in rows[0] if k.endswith("client_id"))
    return {int(r[key]): next((r[c] for c in columns if r[c]), None) for r in rows}


@pytest.mark.postgres
def test_contact_rows_of_relatives_by_a_looked_up_relationship_give_no_phone(database: str) -> None:
    """Every contact row a mother's or a spouse's (told only by the lookup row its key points
    at): no phone or email of the client from them, and the proposal says why."""
    _load(database, with_self=False)
    proposal = discover_sql(database, stored_times="local", clinic_zone=ZONE, region="GB")
    fields = (proposal.mapping or {})["fields"]
    placed = {f: _read(database, proposal, f) for f in ("patient.phone", "patient.email") if f in fields}
    assert not any(v for values in placed.values() for v in values.values()), placed
    said = " ".join(proposal.notes + [g.why for g in proposal.guesses])
    assert "'client_contacts' left out" in said and "'relation_id'" in said, said


@pytest.mark.postgres
def test_only_the_self_rows_of_contacts_by_a_looked_up_relationship(database: str) -> None:
    """Some rows the client's own ('Self', older than the relatives' rows): the client's phone
    and email from those only; a client without one has none."""
    _load(database, with_self=True)
    proposal = discover_sql(database, stored_times="local", clinic_zone=ZONE, region="GB")
    phones, emails = (_read(database, proposal, f) for f in ("patient.phone", "patient.email"))
    assert phones == {c: own(c) if c % 2 else None for c in phones}, phones
    assert emails == {c: f"client{c}@mail.example" if c % 2 else None for c in emails}, emails
    why = next(g.why for g in proposal.guesses if g.field == "patient.phone")
    assert "'self'" in why and "'relation_id'" in why, why
