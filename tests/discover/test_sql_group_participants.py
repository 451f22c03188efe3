"""A shape built here in both servers from the class (not a product's tables): a visit whose people are
participant rows naming one ``member`` table, where a ``kind`` column tells a person from a group (a
team invited as one), the doctors told apart only by how many visits they are on: beside the
patients' visits, the team's own meetings list the doctors and the group. A group is never the
patient, and a meeting of staff (and groups) alone is no visit: left out of the query by a subquery,
said with counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow

server = ehr.server

MEMBERS = """
CREATE TABLE member (member_id INTEGER PRIMARY KEY, kind VARCHAR(12) NOT NULL, first_name VARCHAR(40),
  last_name VARCHAR(40), email VARCHAR(80));
CREATE TABLE gathering (gathering_id INTEGER PRIMARY KEY, starts_at {TS} NOT NULL, minutes INTEGER NOT NULL,
  state VARCHAR(12) NOT NULL);
CREATE TABLE gathering_member (row_id INTEGER PRIMARY KEY, gathering_id INTEGER NOT NULL REFERENCES gathering,
  member_id INTEGER NOT NULL REFERENCES member)
"""
DOCTORS = {1: ("Mia", "Lee"), 2: ("Tunde", "Okafor"), 3: ("Lena", "Bauer")}
GROUP = 4


def _members(cursor: Any, dialect: str) -> follow.Want:
    follow.create(cursor, dialect, MEMBERS)
    for key, (first, last) in DOCTORS.items():
        cursor.execute("INSERT INTO member VALUES (%s, 'person', %s, %s, %s)",
                       (key, first, last, f"{first.lower()}@clinic.example.org"))
    cursor.execute("INSERT INTO member VALUES (%s, 'group', 'Front', 'Desk', '')", (GROUP,))
    for p in range(10, 50):
        cursor.execute("INSERT INTO member VALUES (%s, 'person', %s, %s, %s)",
                       (p, f"Given{p}", f"Family{p}", f"given{p}@mail.example.org"))
    want: follow.Want = {}
    row = 0
    for n, start in enumerate(follow.slots(86, seed=71), 1):
        doctor = 1 + n % 3
        people = [doctor, *DOCTORS] if n > 80 else [doctor, 10 + (n * 7) % 40]
        people = list(dict.fromkeys(people + ([GROUP] if n > 80 else [])))
        cursor.execute("INSERT INTO gathering VALUES (%s, %s, 30, 'booked')", (n, start))
        for who in people:
            row += 1
            cursor.execute("INSERT INTO gathering_member VALUES (%s, %s, %s)", (row, n, who))
        if n <= 80:
            p = people[1]
            first, last = DOCTORS[doctor]
            want[str(n)] = {"status": "booked", "patient": str(p), "name": f"Given{p} Family{p}", "phone": None,
                            "email": f"given{p}@mail.example.org", "doctor": str(doctor),
                            "doctor_name": f"{first} {last}", "doctor_email": f"{first.lower()}@clinic.example.org"}
    return want


def test_a_group_is_no_patient_and_a_meeting_of_staff_no_visit(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    url, opener, dialect = server
    with opener() as cursor:
        want = _members(cursor, dialect)
    _, out, found = follow.discover_and_sync(url, tmp_path, cli)
    connector = yaml.safe_load((tmp_path / "settings.yaml").read_text(encoding="utf-8"))["connectors"][0]
    assert "6 of 86 rows have no 'gathering_member' row naming a person" in out, out
    assert "IN ('group')" in connector["query"], connector["query"]
    assert sorted(found, key=int) == sorted(want, key=int)
    assert follow.wrong(found, want, follow.PEOPLE_FIELDS) == {}
