"""The catalogue products' tests (Open Dental, ERPNext Healthcare, Odoo) share the admin's path:
a fresh settings file of four lines, `clinicsync discover URL --write`, `clinicsync check`, then
`clinicsync sync --once`; and what every imported visit must hold afterwards (its UTC instant,
its end, its zone, status, patient with an E.164 phone, doctor). The lines the admin typed are
counted here: the settings they wrote plus each value on discover's command line."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml

from tests.discover import sql_support as data

ADMIN_LIMIT = 6  # the clinic (name, zone, region), the URL and the zone; messages need the name


@dataclass(frozen=True)
class Visit:
    """One appointment as the store must hold it after the first sync."""

    external_id: str
    start_utc: str  # 2026-01-02T15:00:00Z
    end_utc: str
    zone: str
    status: str
    patient: str | None
    phone: str | None  # E.164
    practitioner: str | None


def fresh_settings(folder: Path, zone: str, region: str) -> Path:
    """What a new admin writes before discover: the clinic's name, zone and phone region (the
    store's default is a SQLite file beside the settings; discover adds the connectors key)."""
    path = folder / "settings.yaml"
    path.write_text(textwrap.dedent(f"""\
        clinic:
          name: Riverside Family Practice
          timezone: {zone}
          default_region: {region}
        """), encoding="utf-8")
    return path


def admin_path(cli: Any, settings: Path, command: Sequence[str]) -> tuple[str, str, dict[str, Any], Any]:
    """`discover … --write`, `check`, `sync --once --json`, each as the admin runs it and each
    expected to succeed: discover's output, check's output, the sync report of the connector
    discover added (named after the database) and the CLI runner (to list what was stored)."""
    before = settings.read_text(encoding="utf-8")
    run = cli(settings)
    _, discovered, _ = run("discover", *command, "--write", expect=0)
    connectors = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"]
    assert len(connectors) == 1, discovered
    _, checked, _ = run("check", expect=0)
    _, synced, _ = run("sync", "--once", "--json", expect=0)
    report = json.loads(synced)["connectors"][connectors[0]["name"]]
    assert data.admin_lines(before, command) <= ADMIN_LIMIT, (before, command)
    return discovered, checked, report, run


def assert_visits(found: dict[str, dict[str, Any]], expected: Sequence[Visit]) -> None:
    """Every expected visit and no other, each with its instant, end, zone, status, patient,
    phone and doctor."""
    assert set(found) == {v.external_id for v in expected}, sorted(set(found) ^ {v.external_id for v in expected})[:5]
    wrong = []
    for visit in expected:
        got = found[visit.external_id]
        seen = Visit(visit.external_id, got["start"], got["end"], got["timezone"], got["status"],
                     (got.get("patient") or {}).get("id"), (got.get("patient") or {}).get("phone"),
                     (got.get("practitioner") or {}).get("id"))
        if seen != visit:
            wrong.append((visit, seen))
    assert not wrong, f"{len(wrong)} of {len(expected)} wrong, e.g. {wrong[:3]}"


@contextmanager
def root_connection(database: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Any]]:
    """The test's MariaDB database and an autocommit connection to it as root, to build it."""
    connection = data.mysql(database)
    try:
        yield database, connection
    finally:
        connection.close()


@contextmanager
def mariadb_reader(connection: Any, database: dict[str, Any], tables: Sequence[str]) -> Iterator[str]:
    """A login that may SELECT ``tables`` and nothing else (what the product's docs tell the
    admin to grant), and its URL; dropped afterwards."""
    user, name = f"ro_{database['database'][2:14]}", database["database"]
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE USER '{user}'@'%'")
        for table in tables:
            cursor.execute(f"GRANT SELECT ON `{name}`.`{table}` TO '{user}'@'%'")
    try:
        yield f"mysql://{user}@127.0.0.1:{database['port']}/{name}?charset=utf8mb4"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP USER '{user}'@'%'")


@contextmanager
def postgres_reader(admin_url: str, tables: Sequence[str]) -> Iterator[str]:
    """A role that may SELECT ``tables`` of the test's schema and nothing else, and its URL
    (same schema); its grants and the role are dropped afterwards."""
    match = re.search(r"search_path%3D(\w+)", admin_url)
    assert match is not None, "the test's URL names its schema"
    schema = match.group(1)
    role = f"ro_{schema}"
    plain = re.sub(r"\+psycopg", "", admin_url.split("?", 1)[0])
    with psycopg.connect(plain, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        for table in tables:
            admin.execute(f'GRANT SELECT ON "{schema}"."{table}" TO "{role}"')
    try:
        yield re.sub(r"//[^@/]+@", f"//{role}@", admin_url, count=1)
    finally:
        with psycopg.connect(plain, autocommit=True) as admin:
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')
