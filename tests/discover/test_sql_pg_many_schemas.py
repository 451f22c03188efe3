"""A PostgreSQL database that splits its tables over several schemas: the visits in
``scheduling``, the patients in ``people`` (or ``"People"``, a name that needs quoting), the
doctors in ``staff``; ``public`` holds an unrelated table. Patients and doctors are keyed by text
UIDs the visit's ``client_uid`` and ``provider_uid`` hold: with declared foreign keys across the
schemas, and without any (the references found by their values, valuerefs.py). The
admin runs discover --write, check and sync --once; every visit is compared with what the source
means (patient id, name, phone, doctor). Each test runs in a database of its own."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from sqlalchemy.engine import make_url

from clinicsync.sync.discover.pg_schemas import path_entry, with_search_path
from tests.discover import follow_support as follow

VISITS = 90
DOCTORS = {1: ("Dr. Ines Varga", "i.varga@clinic.example"), 2: ("Dr. Tomas Reyes", "t.reyes@clinic.example"),
           3: ("Dr. Mei Tanaka", None)}


def _uid(kind: str, n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://clinic.example/{kind}/{n}"))


def _fill(url: str, people: str, declared: bool, visits: str = "scheduling") -> follow.Want:
    """The three schemas and their rows; what the store must hold for each visit."""
    q = path_entry(people)
    patient_ref = f" REFERENCES {q}.patients(uid)" if declared else ""
    doctor_ref = " REFERENCES staff.doctors(uid)" if declared else ""
    want: follow.Want = {}
    with psycopg.connect(url, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"""
CREATE SCHEMA {q}; CREATE SCHEMA staff; CREATE SCHEMA IF NOT EXISTS {visits};
CREATE TABLE {q}.patients (uid varchar(36) PRIMARY KEY, given_name text NOT NULL, family_name text NOT NULL,
  mobile text);
CREATE TABLE staff.doctors (uid varchar(36) PRIMARY KEY, full_name text NOT NULL, email text);
CREATE TABLE {visits}.visits (id serial PRIMARY KEY, client_uid varchar(36) NOT NULL{patient_ref},
  provider_uid varchar(36) NOT NULL{doctor_ref}, starts_at timestamp NOT NULL, ends_at timestamp NOT NULL,
  status text NOT NULL);""")
        cursor.executemany("INSERT INTO staff.doctors VALUES (%s, %s, %s)",
                           [(_uid("doctor", n), name, email) for n, (name, email) in DOCTORS.items()])
        cursor.executemany(f"INSERT INTO {q}.patients (uid, given_name, family_name, mobile) "
                           "VALUES (%s, %s, %s, %s)",
                           [(_uid("patient", p), f"Given{p}", f"Family{p}", f"617 555 {1000 + p}" if p % 5 else None)
                            for p in range(45)])
        rows = []
        for n, start in enumerate(follow.slots(VISITS, seed=23)):
            p, doctor = (n * 7) % 45, 1 + n % 3
            patient = _uid("patient", p)
            rows.append((patient, _uid("doctor", doctor), start, start + timedelta(minutes=20), "booked"))
            want[str(n + 1)] = {"status": "booked", "patient": patient, "name": f"Given{p} Family{p}",
                                "phone": f"+1617555{1000 + p}" if p % 5 else None,
                                "doctor": _uid("doctor", doctor)}
        cursor.executemany(f"INSERT INTO {visits}.visits (client_uid, provider_uid, starts_at, ends_at, status) "
                           "VALUES (%s, %s, %s, %s, %s)", rows)
    return want


def _run(url: str, tmp_path: Path, cli: Any, want: follow.Want) -> tuple[str, str]:
    fields, out, found = follow.discover_and_sync(url, tmp_path, cli)
    assert fields["patient.external_id"] == {"from": "client_uid"}
    assert fields["practitioner.external_id"] == {"from": "provider_uid"}
    assert follow.wrong(found, want, ["status", "patient", "name", "phone", "doctor"]) == {}
    assert set(found) == set(want)
    connector = yaml.safe_load((tmp_path / "settings.yaml").read_text(encoding="utf-8"))["connectors"][0]
    return str(make_url(connector["url"]).query["options"]), out


@pytest.mark.postgres
def test_declared_references_across_three_schemas(database: str, tmp_path: Path, cli: Any) -> None:
    want = _fill(database, "people", declared=True)
    options, out = _run(database, tmp_path, cli, want)
    assert options == "-csearch_path=scheduling,people,staff"  # public is read by nothing: left off
    assert "the query reads tables of schemas 'scheduling', 'people', 'staff'" in " ".join(out.split())


@pytest.mark.postgres
def test_visits_in_the_default_schema_refer_to_two_others(database: str, tmp_path: Path, cli: Any) -> None:
    want = _fill(database, "people", declared=True, visits="public")
    options, _ = _run(database, tmp_path, cli, want)
    assert options == "-csearch_path=public,people,staff"


@pytest.mark.postgres
def test_references_found_by_values_across_schemas(database: str, tmp_path: Path, cli: Any) -> None:
    want = _fill(database, "people", declared=False)
    options, _ = _run(database, tmp_path, cli, want)
    assert options == "-csearch_path=scheduling,people,staff"


@pytest.mark.postgres
def test_a_schema_named_in_mixed_case_is_quoted(database: str, tmp_path: Path, cli: Any) -> None:
    want = _fill(database, "People", declared=True)
    options, _ = _run(database, tmp_path, cli, want)
    assert options == '-csearch_path=scheduling,"People",staff'


def test_the_search_path_quotes_and_escapes_names() -> None:
    url = with_search_path("postgresql://u@h/db", ["scheduling", "People", "front desk"])
    assert make_url(url).query["options"] == '-csearch_path=scheduling,"People","front\\ desk"'
