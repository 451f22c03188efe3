"""A person's phone numbers kept as rows of a table WITHOUT a key (an address book's numbers: the
contact, a type word, the number), built here on the real PostgreSQL and MariaDB: the patient's
phone must be read from them, the mobile first, a work number where no mobile is kept, never the fax."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow

server = ehr.server
DDL = """
CREATE TABLE contacts (contact_id INTEGER PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40),
  modified {TS});
CREATE TABLE contact_numbers (contact_id INTEGER NOT NULL REFERENCES contacts(contact_id), kind VARCHAR(20),
  num VARCHAR(40) NOT NULL);
CREATE TABLE therapists (therapist_id INTEGER PRIMARY KEY, full_name VARCHAR(60) NOT NULL, email VARCHAR(80));
CREATE TABLE sessions (session_id INTEGER PRIMARY KEY, contact_id INTEGER NOT NULL REFERENCES contacts(contact_id),
  therapist_id INTEGER NOT NULL REFERENCES therapists(therapist_id), starts {TS} NOT NULL, ends {TS} NOT NULL,
  status VARCHAR(20) NOT NULL, modified {TS})
"""


def _fill(cursor: Any, dialect: str) -> follow.Want:
    follow.create(cursor, dialect, DDL)
    stamp = follow.stamp()
    cursor.execute("INSERT INTO therapists VALUES (1, 'Dr. Ines Vidal', 'vidal@clinic.example.org')")
    phones = {}
    for c in range(1, 21):
        cursor.execute("INSERT INTO contacts VALUES (%s, %s, %s, %s)", (c, f"Rosa{c}", f"Prieto{c}", stamp))
        cursor.execute("INSERT INTO contact_numbers VALUES (%s, 'fax', %s)", (c, f"+1 212 555 {7000 + c}"))
        if c % 4:
            cursor.execute("INSERT INTO contact_numbers VALUES (%s, 'mobile', %s)", (c, f"+1 917 555 {2000 + c}"))
            phones[c] = f"+1917555{2000 + c}"
        if c % 3 == 0 or c % 4 == 0:
            cursor.execute("INSERT INTO contact_numbers VALUES (%s, 'work', %s)", (c, f"+1 646 555 {3000 + c}"))
            phones.setdefault(c, f"+1646555{3000 + c}")
    want: follow.Want = {}
    for n, start in enumerate(follow.slots(40, seed=19), 1):
        contact = 1 + (n * 3) % 20
        cursor.execute("INSERT INTO sessions VALUES (%s, %s, 1, %s, %s, 'booked', %s)",
                       (n, contact, start, start + timedelta(minutes=45), stamp))
        want[str(n)] = {"phone": phones[contact]}
    return want


def test_phone_rows_without_a_key(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    want, _, found = follow.built_and_synced(server, _fill, tmp_path, cli)
    assert follow.wrong(found, want, ["phone"]) == {}
