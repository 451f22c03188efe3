"""A person's phones kept as rows of their own, a type code on each (CiviCRM's ``civicrm_phone``:
``phone_type_id`` 1 phone, 2 mobile, and ``is_primary``), on a schema built here (SQLite): the
row whose type holds mobiles goes before the primary landline, so the reminder is a text that
arrives. Where the numbering plan does not tell (North America), the primary row stands."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE contacts (id INTEGER PRIMARY KEY, first_name VARCHAR(60), last_name VARCHAR(60));
CREATE TABLE contact_phones (id INTEGER PRIMARY KEY, contact_id INTEGER REFERENCES contacts (id),
  phone VARCHAR(32), phone_type_id INTEGER, is_primary TINYINT);
CREATE TABLE appointments (id INTEGER PRIMARY KEY, contact_id INTEGER REFERENCES contacts (id),
  start_at DATETIME, end_at DATETIME, status VARCHAR(16));
"""


def _database(folder: Path, landline: str, mobile: str) -> str:
    path = folder / "phones.db"
    now = datetime.now().replace(microsecond=0, second=0, minute=0)
    with sqlite3.connect(path) as connection:
        connection.executescript(DDL)
        connection.executemany("INSERT INTO contacts VALUES (?, ?, ?)",
                               [(c, f"Given{c}", f"Family{c}") for c in range(1, 31)])
        phones = [(c, c, landline.format(c), 1, 1) for c in range(1, 31)]  # the primary: a landline
        phones += [(100 + c, c, mobile.format(c), 2, 0) for c in range(1, 31) if c % 5]  # most keep a mobile too
        connection.executemany("INSERT INTO contact_phones VALUES (?, ?, ?, ?, ?)", phones)
        connection.executemany("INSERT INTO appointments VALUES (?, ?, ?, ?, 'booked')",
                               [(n, 1 + n % 30, str(now + timedelta(days=1 + n % 9, hours=n % 5)),
                                 str(now + timedelta(days=1 + n % 9, hours=n % 5, minutes=30))) for n in range(1, 61)])
    return f"sqlite:///{path}"


def _phones(url: str, query: str, columns: list[str]) -> dict[int, str]:
    """Each contact's phone as the mapping reads it: the first of ``columns`` with a value."""
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text(query), {"window_start": "2000-01-01", "window_end": "2100-01-01",
                                                "cursor": "1970-01-01"}).mappings().all()
    engine.dispose()
    return {int(r["contact_id"]): next(r[c] for c in columns if r[c]) for r in rows}


@pytest.mark.parametrize(("zone", "region", "landline", "mobile", "mobiles_first"), [
    ("Europe/London", "GB", "020 7946 {:04d}", "07911 1{:05d}", True),
    ("America/Chicago", "US", "(312) 555-{:04d}", "(773) 555-{:04d}", False),  # the plan does not tell
])
def test_the_mobile_row_before_the_primary_landline(tmp_path: Path, zone: str, region: str, landline: str,
                                                    mobile: str, mobiles_first: bool) -> None:
    url = _database(tmp_path, landline, mobile)
    proposal = discover_sql(url, stored_times="local", clinic_zone=zone, region=region)
    spec = (proposal.mapping or {})["fields"]["patient.phone"]["from"]
    phones = _phones(url, proposal.connector["query"], [spec] if isinstance(spec, str) else spec)
    for contact, phone in phones.items():
        expected = mobile.format(contact) if mobiles_first and contact % 5 else landline.format(contact)
        assert phone == expected, (contact, phone)
