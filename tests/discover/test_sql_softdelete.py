"""Soft-delete flags in the forms real schemas write them, on the real PostgreSQL and MariaDB:
a table-prefixed 0/1 active flag on the visit (``vis_active``, 0 = withdrawn) and a text Y/N
deleted flag on the joined patient (``pat_deleted = 'Y'``). `discover` leaves both kinds of
rows out of the query it proposes (a deleted patient's visits are not reminded), and `check`
fails the query once the conditions are taken out, naming each table's column."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from tests.discover import ehr_support as ehr
from tests.discover import sql_support as data

ZONE = "America/New_York"
VISITS = 40
server = ehr.server  # the fixture: an empty database in each of the two servers
DDL = """
CREATE TABLE patients (pat_id INTEGER PRIMARY KEY, pat_first_name VARCHAR(40) NOT NULL,
  pat_last_name VARCHAR(40) NOT NULL, pat_mobile VARCHAR(30), pat_email VARCHAR(80),
  pat_deleted CHAR(1) NOT NULL DEFAULT 'N');
CREATE TABLE visits (vis_id INTEGER PRIMARY KEY, vis_patient_id INTEGER NOT NULL REFERENCES patients(pat_id),
  vis_start {TS} NOT NULL, vis_end {TS} NOT NULL, vis_status VARCHAR(20) NOT NULL,
  vis_active SMALLINT NOT NULL DEFAULT 1)
"""
GONE_VISITS = {7, 19}  # vis_active = 0
GONE_PATIENT = 3  # pat_deleted = 'Y': its visits are withdrawn with it


def _fill(server: ehr.Server) -> set[str]:
    """The schema and its rows; the ids of the visits that are live."""
    _, opener, dialect = server
    with opener() as cursor:
        for statement in DDL.replace("{TS}", ehr.TYPES[dialect]["TS"]).split(";"):
            cursor.execute(statement)
        cursor.executemany("INSERT INTO patients VALUES (%s, %s, %s, %s, %s, %s)",
                           [(n, f"Zelda{n}", f"Quill{n}", f"+1 212 555 {1000 + n}", f"z{n}@example.org",
                             "Y" if n == GONE_PATIENT else "N") for n in range(1, 11)])
        rows = [(n, 1 + n % 10, start, start + timedelta(minutes=30), "booked",
                 0 if n in GONE_VISITS else 1) for n, start in enumerate(data.future_slots(ZONE, VISITS), 1)]
        cursor.executemany("INSERT INTO visits VALUES (%s, %s, %s, %s, %s, %s)", rows)
    return {str(r[0]) for r in rows if r[0] not in GONE_VISITS and r[1] != GONE_PATIENT}


def test_prefixed_and_joined_flags_are_honoured_then_checked(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    url = server[0]
    live = _fill(server)
    settings = data.admin_settings(tmp_path, ZONE, agendas=False)
    run = cli(settings)
    _, out, _ = run("discover", url, "--table", "visits", "--stored-times", "local", "--write")
    assert "0 would be quarantined, 0 problems" in out, out
    assert "visits of a deleted patients row are left out of the query ('pat_deleted' true means deleted)" in out
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    query = connector["query"]
    assert "vis_active" in query and "pat_deleted" in query, query
    run("sync", "--once")
    assert set(data.stored(run)) == live  # 40 visits, 2 withdrawn, 4 of the deleted patient's

    # The admin (or an older proposal) takes the conditions out: check names both columns.
    head, _, conditions = query.partition("\nWHERE ")
    kept = [c for c in conditions.split(" AND COALESCE(") if "vis_active" not in c and "pat_deleted" not in c]
    connector["query"] = head + "\nWHERE " + " AND COALESCE(".join(kept)  # the window stays; the flags go
    written = yaml.safe_load(settings.read_text(encoding="utf-8"))
    written["connectors"][0] = connector
    settings.write_text(yaml.safe_dump(written, sort_keys=False), encoding="utf-8")
    _, report, _ = run("check", "--json", "--offline", expect=1)
    findings = json.loads(report)["connectors"][0]["plausibility"]["findings"]
    soft = [f["message"] for f in findings if f["check"] == "soft_deleted"]
    # the visit's own flag is still selected: the profile finds it on the rows; the patient's is not
    assert any("come from rows the source marks deleted (`vis_active` on 2)" in m for m in soft), soft
    assert any("`patients.pat_deleted` marks 1 row(s) of patients deleted" in m
               and "the visits of these patients rows" in m for m in soft), soft
    assert "Quill" not in report and "+1 212" not in report


SHARED_DDL = """
CREATE TABLE records (record_id INTEGER PRIMARY KEY, module VARCHAR(30) NOT NULL,
  created_time {TS} NOT NULL, modified_time {TS} NOT NULL, deleted SMALLINT NOT NULL DEFAULT 0);
CREATE TABLE patients (patient_id INTEGER PRIMARY KEY REFERENCES records(record_id), first_name VARCHAR(40),
  last_name VARCHAR(40) NOT NULL, mobile VARCHAR(30));
CREATE TABLE visits (visit_id INTEGER PRIMARY KEY REFERENCES records(record_id),
  patient_id INTEGER NOT NULL REFERENCES patients(patient_id), visit_start {TS} NOT NULL, visit_end {TS} NOT NULL,
  visit_status VARCHAR(20) NOT NULL)
"""
GONE_RECORDS = {105, 117, 130}  # the visits whose shared row is marked deleted


def test_deleted_flag_on_the_shared_record_row(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    """A CRM keeps every record's deleted flag on one shared row (the visit's own key is a foreign
    key to that row's key, the same value): a visit deleted there is left out of the query, said so."""
    url, opener, dialect = server
    with opener() as cursor:
        for statement in SHARED_DDL.replace("{TS}", ehr.TYPES[dialect]["TS"]).split(";"):
            cursor.execute(statement)
        slots = data.future_slots(ZONE, VISITS)
        made = slots[0] - timedelta(days=30)
        cursor.executemany("INSERT INTO records VALUES (%s, %s, %s, %s, %s)",
                           [(n, "Patients", made, made, 0) for n in range(1, 11)]
                           + [(100 + n, "Visits", made, made, int(100 + n in GONE_RECORDS))
                              for n in range(1, VISITS + 1)])
        cursor.executemany("INSERT INTO patients VALUES (%s, %s, %s, %s)",
                           [(n, f"Zelda{n}", f"Quill{n}", f"+1 212 555 {1000 + n}") for n in range(1, 11)])
        cursor.executemany("INSERT INTO visits VALUES (%s, %s, %s, %s, %s)",
                           [(100 + n, 1 + n % 10, start, start + timedelta(minutes=30), "booked")
                            for n, start in enumerate(slots, 1)])
    settings = data.admin_settings(tmp_path, ZONE, agendas=False)
    run = cli(settings)
    _, out, _ = run("discover", url, "--table", "visits", "--stored-times", "local", "--write")
    assert "0 would be quarantined, 0 problems" in out, out
    assert "appointments whose records row (the same key: the record's shared row) is deleted are left out" in out
    run("sync", "--once")
    assert set(data.stored(run)) == {str(100 + n) for n in range(1, VISITS + 1)} - {str(g) for g in GONE_RECORDS}
