"""Shared by the tests that run discover on the real shape of open-source EHRs and booking
tools (first issue 57's held-out schemas: Bahmni on OpenMRS, GNU Health on Tryton): the
product's rows built and the admin's settings file, the fixture's DDL run statement by
statement, and the per-visit comparison with the store."""

from __future__ import annotations

import json
import random
import re
import textwrap
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import phonenumbers
import yaml

from tests.discover import sql_support as data

ADMIN_LIMIT = 10  # lines the admin types: the goal for a schema no preset knows
FIXTURES = Path(__file__).parents[1] / "fixtures" / "ehr"
Want = tuple[str, str, str, str, str | None, str]  # UTC start, status, patient id, name, E.164 phone, doctor id
T = TypeVar("T")


def settings_file(folder: Path, zone: str, region: str) -> Path:
    """What the admin writes before `discover` (getting-started's six lines): the clinic's name,
    zone and region, the store; discover adds the connectors key."""
    path = folder / "settings.yaml"
    path.write_text(textwrap.dedent(f"""\
        clinic:
          name: Riverside Family Practice
          timezone: {zone}
          default_region: {region}
        store:
          url: "sqlite:///{folder / 'store.db'}"
        """), encoding="utf-8")
    return path


def built(database: dict[str, Any], build: Callable[[Any], T]) -> T:
    """``build`` run on a cursor of the test's MariaDB database, its rows committed as one
    transaction before discover reads them: what the store must then hold. (Row by row in
    autocommit, each INSERT waited for its own flush of InnoDB's log to the disk: ~7 ms each,
    four of a test's seconds for a few hundred rows; the DDL commits itself as it runs.)"""
    connection = data.mysql(database)
    try:
        connection.autocommit(False)
        with connection.cursor() as cursor:
            truth = build(cursor)
        connection.commit()
        return truth
    finally:
        connection.close()


def admin_start(database: dict[str, Any], build: Callable[[Any], T], folder: Path, zone: str, region: str,
                cli: Any) -> tuple[T, Path, Any]:
    """What every test of a product's real shape in MariaDB starts with: the product's rows
    built, the admin's settings file written, and the CLI that runs on it."""
    truth = built(database, build)
    settings = settings_file(folder, zone, region)
    return truth, settings, cli(settings)


# Whether a product's DDL is run with its foreign keys (tests/discover/test_real_without_keys.py
# runs the products' tests again without them: many installs never declare them).
KEYS = {"declared": True}
_FOREIGN_ITEM = re.compile(r"^\s*(CONSTRAINT\s+(\S+\s+)?)?FOREIGN\s+KEY\b", re.I)
_INLINE_REFERENCE = re.compile(r"\s+REFERENCES\s+[\w.\"`]+\s*\([^)]*\)(\s+(ON\s+(DELETE|UPDATE)\s+"
                               r"(CASCADE|RESTRICT|NO\s+ACTION|SET\s+NULL|SET\s+DEFAULT)|DEFERRABLE"
                               r"|INITIALLY\s+(DEFERRED|IMMEDIATE)))*", re.I)


def _items(body: str) -> list[str]:
    """A CREATE TABLE body's top-level comma-separated items (columns, keys, constraints)."""
    items, depth, start = [], 0, 0
    for at, char in enumerate(body):
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            items.append(body[start:at])
            start = at + 1
    return [*items, body[start:]]


def without_keys(statement: str) -> str | None:
    """``statement`` with its foreign keys taken out (None for a statement that only adds one):
    the same tables and columns, nothing that tells which table a column refers to."""
    if re.match(r"\s*ALTER\s+TABLE\b", statement, re.I) and re.search(r"FOREIGN\s+KEY|REFERENCES", statement, re.I):
        return None
    opening = statement.find("(")
    if not re.match(r"\s*CREATE\s+TABLE\b", statement, re.I) or opening < 0:
        return statement
    closing = statement.rfind(")")
    kept = [_INLINE_REFERENCE.sub("", item) for item in _items(statement[opening + 1:closing])
            if not _FOREIGN_ITEM.match(item)]
    return statement[:opening + 1] + ",".join(kept) + statement[closing:]


def run_ddl(cursor: Any, path: Path) -> None:
    """A fixture's DDL run statement by statement, its ``--`` comment lines aside (and its
    foreign keys, when ``KEYS["declared"]`` is off)."""
    ddl = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("--"))
    for statement in ddl.split(";"):
        if not KEYS["declared"] and statement.strip():
            statement = without_keys(statement) or ""
        if statement.strip():
            cursor.execute(statement)


def load_schema(cursor: Any, product: str) -> None:
    """The product's trimmed DDL (tests/fixtures/ehr/<product>/schema.sql), comments aside."""
    run_ddl(cursor, FIXTURES / product / "schema.sql")


def mapping_file(folder: Path) -> Path:
    """The mapping file ``discover --write`` wrote under ``folder``/mappings (there is one)."""
    return next((folder / "mappings").glob("*.yaml"))


def written_mapping(folder: Path) -> dict[str, Any]:
    """The mapping ``discover --write`` wrote under ``folder``/mappings, as read back."""
    mapping: dict[str, Any] = yaml.safe_load(mapping_file(folder).read_text(encoding="utf-8"))
    return mapping


def valid_number(rng: Any, head: str, length: int) -> str:
    """A random number of ``length`` characters in E.164 that begins with ``head`` and that the
    country's numbering plan holds valid (``+336``, 12: a French mobile; ``+44208``, 13: a London
    line): test data a phone column's evidence reads as it would a clinic's."""
    digits = length - len(head)
    while True:
        number = f"{head}{rng.randrange(10**digits):0{digits}d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number


def seeded_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng``: a table keyed by UUIDs is sampled in key order, so
    ids drawn afresh on each run would give discover a different sample each time."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def words_mapped(path: Path, words: dict[str, str]) -> int:
    """The admin's answer to discover's question: each unknown status word of ``words`` given its
    status in the mapping file at ``path``, one typed line a word. The lines typed."""
    mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
    unknown = {w: s for w, s in words.items() if w not in (mapping.get("status_map") or {})}
    mapping["status_map"] = {**(mapping.get("status_map") or {}), **unknown}
    path.write_text(yaml.safe_dump(mapping, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return len(unknown)


def wrong_fields(got: dict[str, Any] | None, want: Want, zone: str) -> list[str]:
    """Which of a visit's fields the store holds differently (field names, never values)."""
    if got is None:
        return ["missing"]
    patient, doctor = got.get("patient") or {}, got.get("practitioner") or {}
    have = (got["start"], got["status"], patient.get("id"), patient.get("name"), patient.get("phone"),
            doctor.get("id"))
    names = ("start", "status", "patient", "name", "phone", "doctor")
    bad = [f for f, h, w in zip(names, have, want, strict=True) if h != w]
    return bad + (["zone"] if got.get("timezone") != zone else [])


def discover_then_check(run: Any, settings: Path, command: list[str], no_doctor: bool = False) -> dict[str, Any]:
    """The admin's first step: `discover <url> --write` (which runs `check`), counted lines; the
    connector written. What discover proposed is printed (pytest -s shows it, as the admin sees it).
    ``no_doctor``: the proposal reaches no doctor's name or email, so with agendas on (the
    default) `check` fails on that alone, and says so."""
    before = settings.read_text(encoding="utf-8")
    _, out, err = run("discover", *command, "--write", expect=1 if no_doctor else 0)
    print(out, err, settings.read_text(encoding="utf-8"),
          *(p.read_text(encoding="utf-8") for p in (settings.parent / "mappings").glob("*")))
    if no_doctor:
        errors = [line for line in out.splitlines() if ": error: " in line]
        assert len(errors) == 1 and "error: practitioner.name, practitioner.email: none of the" in errors[0], out
        assert "0 would be quarantined, 1 problem\n" in out + "\n", out
    else:
        assert "0 would be quarantined, 0 problems" in out, out
    assert data.admin_lines(before, command) <= ADMIN_LIMIT
    connector: dict[str, Any] = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    return connector


def sync_and_compare(run: Any, connector: dict[str, Any], expected: dict[str, Want], zone: str) -> dict[str, Any]:
    """`sync --once`, then every visit compared field by field: none imported that should not be,
    at least 95 % right (the issue's bar). The store's visits, by id."""
    _, sync_out, _ = run("sync", "--once", "--json")
    report = json.loads(sync_out)["connectors"][connector["name"]]
    assert report["error"] is None, report
    found = data.stored(run)
    wrong = {k: w for k, want in expected.items() if (w := wrong_fields(found.get(k), want, zone))}
    print("wrong:", len(wrong), "of", len(expected), sorted({f for w in wrong.values() for f in w}))
    assert not set(found) - set(expected), sorted(set(found) - set(expected))[:5]
    assert len(wrong) <= 0.05 * len(expected), list(wrong.items())[:5]
    return found


def insert_row(cursor: Any, table: str, row: dict[str, Any]) -> int:
    """One row of a MariaDB ``table`` inserted as a product writes it (its columns named, each
    quoted: products name columns ``key`` or ``status``); its AUTO_INCREMENT id, 0 for none."""
    columns = ", ".join(f"`{c}`" for c in row)
    cursor.execute(f"INSERT INTO `{table}` ({columns}) VALUES ({', '.join(['%s'] * len(row))})", list(row.values()))
    return int(cursor.lastrowid or 0)


def insert_rows(cursor: Any, sql: str, rows: list[tuple[Any, ...]] | list[Any]) -> None:
    """``executemany`` as one multi-row INSERT: pymysql batches only a VALUES clause of bare
    ``%s`` and runs one statement per row otherwise (``UUID()``, a constant), which made the
    Bahmni fill take seconds. ``sql``'s VALUES tuple is repeated once per row."""
    if not rows:
        return
    head, values = sql.split(" VALUES ", 1)
    cursor.execute(f"{head} VALUES {', '.join([values] * len(rows))}", [v for row in rows for v in row])


def openmrs_history(cursor: Any, patients: Sequence[int], base: datetime, identifier: Callable[[int], str]) -> None:
    """Beside the appointments, what every OpenMRS keeps: the patients' identifiers, and 120 past
    visits with an encounter each (more rows than the appointments, with dates and a patient)."""
    cursor.execute("INSERT INTO patient_identifier_type (patient_identifier_type_id, name, date_created, uuid) "
                   "VALUES (3, 'Patient Identifier', %s, UUID())", (base,))
    insert_rows(cursor, "INSERT INTO patient_identifier (patient_id, identifier, identifier_type, preferred, "
                        "location_id, creator, date_created, uuid) VALUES (%s, %s, 3, 1, 1, 1, %s, UUID())",
                [(p, identifier(p), base) for p in patients])
    past = [(v, patients[v % len(patients)], base - timedelta(days=v % 300, hours=v % 7)) for v in range(1, 121)]
    insert_rows(cursor, "INSERT INTO visit (visit_id, patient_id, visit_type_id, date_started, date_stopped, "
                        "location_id, creator, date_created, uuid) VALUES (%s, %s, 1, %s, %s, 1, 2, %s, UUID())",
                [(v, p, when, when + timedelta(hours=2), when) for v, p, when in past])
    insert_rows(cursor, "INSERT INTO encounter (encounter_type, patient_id, location_id, encounter_datetime, "
                        "creator, date_created, visit_id, uuid) VALUES (1, %s, 1, %s, 2, %s, %s, UUID())",
                [(p, when + timedelta(minutes=20), when, v) for v, p, when in past])


def want(truth: dict[str, Any]) -> Want:
    """The fields every real-product test compares, of a visit's truth by field name."""
    return (truth["start"], truth["status"], truth["patient"], truth["name"], truth["phone"], truth["doctor"])


def stored_fields(visit: dict[str, Any] | None) -> dict[str, Any]:
    """A stored visit's fields by the names a truth uses."""
    visit = visit or {}
    patient, doctor = visit.get("patient") or {}, visit.get("practitioner") or {}
    return {"start": visit.get("start"), "end": visit.get("end"), "status": visit.get("status"),
            "patient": patient.get("id"), "name": patient.get("name"), "phone": patient.get("phone"),
            "email": patient.get("email"), "doctor": doctor.get("id"), "doctor_name": doctor.get("name"),
            "doctor_email": doctor.get("email"), "zone": visit.get("timezone"), "location": visit.get("location"),
            "type": visit.get("type")}


def scores(found: dict[str, dict[str, Any]], truth: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Per field the truth holds, how many visits the store holds right."""
    fields = [f for f in stored_fields(None) if any(f in t for t in truth.values())]
    return {f: sum(stored_fields(found.get(k)).get(f) == t.get(f) for k, t in truth.items()) for f in fields}
