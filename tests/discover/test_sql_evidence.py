"""`discover` places a field only where the sampled values carry it, picks the visit table by its
rows as well as its shape, and proves the visit's id unique — on a schema built here from the
classes real products showed, in the real PostgreSQL and MariaDB:

- an empty look-alike table (``appointment_archive``, 0 rows) beside the populated one;
- no primary key: the id is a server id and an object id read together, object ids repeat
  across servers and every start is shared by two doctors' visits;
- a 0/1 SMS-consent flag named like a phone beside the visit, the real phone in the joined
  patient table under a table-prefixed name (``pat_mobile``);
- the patient row's last-modified stamp beside the name parts (``pat_lastname_modified``);
- type and location columns empty on every row;
- a joined visit-type row whose settings look like an answer (``requires_confirmation``), a
  visit mode (``booking_mode``) and a join link (``redirect_url``), shared by every visit of
  that type.

Driven as the admin would: ``discover --write`` (which runs ``check``), then ``sync --once``,
every visit compared."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from clinicsync.sync.discover.sql import discover_sql
from tests.discover import ehr_support as ehr
from tests.discover import sql_support as data

ZONE = "America/New_York"
ADMIN_LIMIT = 7  # getting-started's six lines (the clinic's name among them), and the URL
PATIENTS, DOCTORS, VISITS = 40, 3, 120
STATUS = {"booked": "booked", "cancelled": "cancelled", "fulfilled": "fulfilled"}

server = ehr.server  # the fixture: an empty database in each of the two servers

DDL = """
CREATE TABLE doctor (doc_id INT PRIMARY KEY, doc_name VARCHAR(80) NOT NULL);
CREATE TABLE patient (pat_id INT PRIMARY KEY, pat_firstname VARCHAR(40) NOT NULL, pat_lastname VARCHAR(40) NOT NULL,
  pat_mobile VARCHAR(30), pat_lastname_modified {TS} NOT NULL);
CREATE TABLE visit_type (type_id INT PRIMARY KEY, type_name VARCHAR(40) NOT NULL,
  requires_confirmation {FLAG} NOT NULL, booking_mode VARCHAR(20) NOT NULL, redirect_url VARCHAR(120));
CREATE TABLE {TABLE} (
  server_id INT NOT NULL,
  object_id INT NOT NULL,
  patient_id INT NOT NULL REFERENCES patient (pat_id),
  doctor_id INT NOT NULL REFERENCES doctor (doc_id),
  type_id INT REFERENCES visit_type (type_id),
  starts_at {TS} NOT NULL,
  ends_at {TS} NOT NULL,
  status VARCHAR(20) NOT NULL,
  sms_phone {FLAG} NOT NULL,
  visit_kind VARCHAR(40),
  location VARCHAR(40));
"""
TYPES = {"postgresql": {"TS": "TIMESTAMP", "FLAG": "SMALLINT"}, "mariadb": {"TS": "DATETIME", "FLAG": "TINYINT"}}
Want = tuple[str, str, str, str, str, str]  # UTC start, status, patient id, name, phone, doctor id


def _build(cursor: Any, dialect: str) -> dict[str, Want]:
    look_alike = "CREATE TABLE {TABLE}" + DDL.split("CREATE TABLE {TABLE}")[1]  # the visit table's shape, empty
    for table, ddl in (("appointment", DDL), ("appointment_archive", look_alike)):
        for key, value in {**TYPES[dialect], "TABLE": table}.items():
            ddl = ddl.replace("{" + key + "}", value)
        for statement in ddl.split(";"):
            if statement.strip():
                cursor.execute(statement)
    stamp = datetime(2023, 8, 29, 13, 10)
    cursor.executemany("INSERT INTO doctor VALUES (%s, %s)", [(d, f"Doctor{d} Surname") for d in range(1, DOCTORS + 1)])
    cursor.executemany("INSERT INTO patient VALUES (%s, %s, %s, %s, %s)",
                       [(p, f"Given{p}", f"Family{p}", f"(212) 555-{p:04d}", stamp + timedelta(minutes=p))
                        for p in range(1, PATIENTS + 1)])
    cursor.executemany("INSERT INTO visit_type VALUES (%s, %s, %s, %s, %s)",
                       [(1, "Checkup", 1, "phone", "https://example.org/thanks"),
                        (2, "Follow-up", 0, "phone", "https://example.org/next")])
    base = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    rows, expected = [], {}
    for n in range(VISITS):
        server_id, object_id = 1 + n % 2, 100 + n // 2  # object ids repeat across the two servers
        start = base + timedelta(days=2 + n // 16, hours=8 + (n // 2) % 8)  # two doctors' visits share each start
        patient, doctor, status = 1 + n % PATIENTS, 1 + n % DOCTORS, list(STATUS)[n % 3]
        rows.append((server_id, object_id, patient, doctor, 1 + n % 2, start, start + timedelta(minutes=20), status,
                     n % 2, None, None))
        start_utc = start.replace(tzinfo=ZoneInfo(ZONE)).astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
        name = f"Given{patient} Family{patient}"
        expected[f"{server_id} {object_id}"] = (start_utc, STATUS[status], str(patient), name,
                                                f"+1212555{patient:04d}", str(doctor))
    cursor.executemany("INSERT INTO appointment VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    return expected


def _wrong(got: dict[str, Any] | None, want: Want) -> list[str]:
    if got is None:
        return ["missing"]
    patient, doctor = got.get("patient") or {}, got.get("practitioner") or {}
    have = (got["start"], got["status"], patient.get("id"), patient.get("name"), patient.get("phone"), doctor.get("id"))
    return [f for f, h, w in zip(("start", "status", "patient", "name", "phone", "doctor"), have, want, strict=True)
            if h != w]


def test_evidence_decides_the_table_the_id_and_every_field(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    url, opener, dialect = server
    with opener() as cursor:
        expected = _build(cursor, dialect)
    settings = data.admin_settings(tmp_path, ZONE)
    before = settings.read_text(encoding="utf-8")
    command = [url]
    run = cli(settings)
    _, out, err = run("discover", *command, "--write")
    assert "0 would be quarantined, 0 problems" in out, (out, err)
    assert data.admin_lines(before, command) <= ADMIN_LIMIT
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    mapping = yaml.safe_load((tmp_path / "mappings" / f"{connector['name']}.yaml").read_text(encoding="utf-8"))
    fields = mapping["fields"]
    assert "FROM appointment AS a" in connector["query"]  # not the empty look-alike
    assert fields["external_id"] == {"concat": ["server_id", "object_id"]}  # proven unique, not the start
    assert fields["patient.phone"] == {"from": "patient_pat_mobile"}  # not the 0/1 flag named like a phone
    assert fields["patient.name"] == {"concat": ["patient_pat_firstname", "patient_pat_lastname"]}
    # empty columns and a visit type's shared settings are no visit's type, location, answer, mode or link
    for field in ("location", "answer", "visit_mode", "join_url"):
        assert field not in fields, (field, fields.get(field))
    assert fields.get("type", {}).get("from") in (None, "type_type_name")
    notes = settings.read_text(encoding="utf-8") + out
    assert "server_id" in notes and "object_id" in notes  # the proposal says which columns make the key
    _, sync_out, _ = run("sync", "--once", "--json")
    report = json.loads(sync_out)["connectors"][connector["name"]]
    assert report["error"] is None, report
    found = data.stored(run)
    wrong = {k: w for k, want in expected.items() if (w := _wrong(found.get(k), want))}
    print("wrong:", len(wrong), "of", len(expected), sorted({f for w in wrong.values() for f in w}))
    assert not set(found) - set(expected), sorted(set(found) - set(expected))[:5]
    assert len(wrong) <= 0.05 * len(expected), list(wrong.items())[:5]


def test_without_a_primary_key_the_id_is_a_proven_pair_never_the_start(server: ehr.Server) -> None:
    """Named with --table (the shape alone), the table without a primary key: object ids repeat
    across servers and starts across doctors, so only the pair identifies a visit, and the
    proposal says which columns make the key."""
    url, opener, dialect = server
    with opener() as cursor:
        _build(cursor, dialect)
    proposal = discover_sql(url, table="appointment", timezone=ZONE)
    assert proposal.mapping["fields"]["external_id"] == {"concat": ["server_id", "object_id"]}
    assert any("'server_id' and 'object_id' make one" in n for n in proposal.notes), proposal.notes
