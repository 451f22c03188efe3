"""`discover` v2 on a party-model schema (issue 57), shaped after GNU Health on Tryton and written
for this test, in the real PostgreSQL and MariaDB: the appointment names a patient and a health professional,
each of them a party; the party holds the names (``name`` + ``lastname``); phones and emails are
rows of ``party_contact_mechanism`` typed by a text code ('mobile', 'phone', 'fax', 'email') with
an ``active`` flag and the number twice (``value``, ``value_compact``); the columns are named
without ``_id`` (``patient``, ``healthprof``, ``party``), the rows stamped by
``create_date``/``write_date`` and ``create_uid`` (who entered them)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from tests.discover import ehr_support as ehr
from tests.discover import sql_support as data

ZONE = "America/Chicago"
STATUS = {"confirmed": "booked", "checked_in": "checked-in", "done": "fulfilled", "user_cancelled": "cancelled",
          "center_cancelled": "cancelled", "no_show": "noshow"}
DDL = """
CREATE TABLE res_user (id INT PRIMARY KEY, login VARCHAR(100) NOT NULL, create_date {TS} NOT NULL);
CREATE TABLE party_party (id INT PRIMARY KEY, name VARCHAR(100), lastname VARCHAR(100), code VARCHAR(100),
                          active {BOOL}, create_uid INT REFERENCES res_user (id), create_date {TS} NOT NULL,
                          write_uid INT REFERENCES res_user (id), write_date {TS} NULL);
CREATE TABLE party_contact_mechanism (id INT PRIMARY KEY, party INT NOT NULL REFERENCES party_party (id),
                                      type VARCHAR(100) NOT NULL, value VARCHAR(100), active {BOOL}, sequence INT,
                                      create_uid INT REFERENCES res_user (id), create_date {TS} NOT NULL,
                                      write_date {TS} NULL, name VARCHAR(100), value_compact VARCHAR(100),
                                      comment TEXT);
CREATE TABLE gnuhealth_patient (id INT PRIMARY KEY, name INT NOT NULL REFERENCES party_party (id),
                                puid VARCHAR(100), create_uid INT REFERENCES res_user (id),
                                create_date {TS} NOT NULL, write_date {TS} NULL);
CREATE TABLE gnuhealth_healthprofessional (id INT PRIMARY KEY, name INT NOT NULL REFERENCES party_party (id),
                                           code VARCHAR(100), create_date {TS} NOT NULL, write_date {TS} NULL);
CREATE TABLE gnuhealth_appointment (
  id INT PRIMARY KEY,
  name VARCHAR(100),
  patient INT REFERENCES gnuhealth_patient (id),
  healthprof INT REFERENCES gnuhealth_healthprofessional (id),
  appointment_date {TS} NOT NULL,
  appointment_date_end {TS} NULL,
  state VARCHAR(100) NOT NULL,
  create_uid INT NOT NULL REFERENCES res_user (id),
  create_date {TS} NOT NULL,
  write_uid INT REFERENCES res_user (id),
  write_date {TS} NULL)
"""


server = ehr.server  # the fixture: an empty database in each of the two servers


def test_a_party_model_is_followed_to_names_and_typed_contacts(server: ehr.Server, tmp_path: Path,
                                                                cli: Any) -> None:
    url, opener, dialect = server
    made = datetime.now().replace(microsecond=0) - timedelta(days=9)
    expected: dict[str, tuple[str, str, str, str | None, str, str]] = {}
    with opener() as cursor:
        ddl = DDL
        for key, value in ehr.TYPES[dialect].items():
            ddl = ddl.replace("{" + key + "}", value)
        for statement in ddl.split(";"):
            cursor.execute(statement)
        cursor.executemany("INSERT INTO res_user VALUES (%s, %s, %s)", [(1, "admin", made), (2, "desk", made)])
        parties = [(p, f"Given{p}", f"Family{p}", f"PTY{p}", True, 1, made, None, None) for p in range(1, 44)]
        cursor.executemany("INSERT INTO party_party VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", parties)
        contacts: list[tuple[Any, ...]] = []
        phone: dict[int, str | None] = {}
        for p in range(1, 41):
            def add(kind: str, value: str, active: bool = True, party: int = p) -> None:
                compact = "".join(c for c in value if c.isalnum() or c in "@.")
                contacts.append((len(contacts) + 1, party, kind, value, active, 10, 1, made, None, None, compact,
                                 "old number" if not active else None))
            add("fax", f"312-555-{2000 + p:04d}")  # a fax number: a phone number nobody texts
            phone[p] = None
            if p % 2 == 0:
                add("phone", f"617-324-{2000 + p:04d}")
                phone[p] = f"+1617324{2000 + p:04d}"
            if p % 3 != 0:
                add("mobile", f"617-253-{1000 + p:04d}")
                phone[p] = f"+1617253{1000 + p:04d}"
            if p % 4 == 0:
                add("mobile", f"617-253-{8000 + p:04d}", active=False)  # an old mobile, switched off
            add("email", f"given{p}@example.org")
        cursor.executemany("INSERT INTO party_contact_mechanism VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                           "%s)", contacts)
        cursor.executemany("INSERT INTO gnuhealth_patient VALUES (%s, %s, %s, 1, %s, NULL)",
                           [(100 + p, p, f"PUID{p}", made) for p in range(1, 41)])
        cursor.executemany("INSERT INTO gnuhealth_healthprofessional VALUES (%s, %s, %s, %s, NULL)",
                           [(d, 40 + d, f"HP{d}", made) for d in (1, 2, 3)])
        rows = []
        words = list(STATUS)
        for n, start in enumerate(data.future_slots(ZONE, 90, seed=11), start=1):
            p, d, word = 1 + n % 40, 1 + n % 3, words[n % len(words)]
            rows.append((n, f"APP2026/{n:06d}", 100 + p, d, start, start + timedelta(minutes=20), word,
                         1 + n % 2, made + timedelta(minutes=n), None, None))
            expected[str(n)] = (data.utc(start, ZONE), STATUS[word], str(100 + p), phone[p], str(d),
                                f"Given{40 + d} Family{40 + d}")
        for n, start in enumerate(data.future_slots(ZONE, 6, seed=12), start=901):  # free slots: no patient yet
            rows.append((n, f"APP2026/{n:06d}", None, 1, start, start + timedelta(minutes=20), "free", 1, made,
                         None, None))
        cursor.executemany("INSERT INTO gnuhealth_appointment VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                           rows)
    settings = data.admin_settings(tmp_path, ZONE)
    run = cli(settings)
    _, out, _ = run("discover", url, "--timezone", ZONE, "--write")
    assert "0 would be quarantined, 0 problems" in out, out
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    assert connector["cursor_column"] == "changed_at"  # write_date is NULL until a row is changed
    query = connector["query"].replace("`", "")
    assert query.count("cs_r.type = 'mobile'") == query.count("cs_r.type = 'phone'") == 1  # one column per code
    assert "'fax'" not in query and "a.patient IS NOT NULL" in query  # the free slots are no visits
    _, sync_out, _ = run("sync", "--once", "--json")
    assert json.loads(sync_out)["connectors"][connector["name"]]["quarantined"] == 0
    found = data.stored(run)
    assert set(found) == set(expected)
    got = {k: (v["start"], v["status"], v["patient"]["id"], v["patient"]["phone"], v["practitioner"]["id"],
               v["practitioner"]["name"]) for k, v in found.items()}
    assert got == expected
    names = {v["patient"]["id"]: v["patient"]["name"] for v in found.values()}
    assert names["101"] == "Given1 Family1"
