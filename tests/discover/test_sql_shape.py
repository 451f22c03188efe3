"""`discover` on schemas no product matches: the appointment-like table is found by its dates and
its references to person-like tables (declared or only named), joined with them, sampled, and
placed by the column scorer; nothing it could not place goes unsaid. The Spanish schema with
text dates is the issue's own case, in the real PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from clinicsync.sync.discover.sql import DiscoverError, discover_sql
from tests.discover import sql_support as data

# What a person reading the Spanish schema would map, field -> the column(s) it reads.
HUMAN = {
    "external_id": {"id"}, "start": {"fecha", "hora"}, "status": {"estado"}, "type": {"motivo"},
    "patient.external_id": {"paciente_id"}, "patient.name": {"paciente_nombre", "paciente_apellidos"},
    "patient.phone": {"paciente_telefono"}, "patient.email": {"paciente_correo"},
    "practitioner.external_id": {"medico_id"}, "practitioner.name": {"medico_nombre"},
}


def _reads(spec: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for key in ("from", "column", "concat", "date", "time"):
        value = spec.get(key)
        out.update(value if isinstance(value, list) else [value] if value else [])
    return out


@pytest.fixture
def spanish(postgres_url: str) -> tuple[str, list[data.Expected]]:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        expected = data.spanish(connection, "Europe/Madrid")
    return postgres_url, expected


@pytest.mark.postgres
def test_spanish_schema_is_joined_sampled_and_nothing_is_left_unsaid(spanish: tuple[str, Any]) -> None:
    url, _ = spanish
    proposal = discover_sql(url, name="clinica", timezone="Europe/Madrid")
    assert (proposal.product, proposal.kind) == (None, "sql")
    query = proposal.connector["query"]
    assert "FROM citas AS a" in query
    assert "LEFT JOIN pacientes" in query and "LEFT JOIN medicos" in query
    # Text dates cannot bound a window, and nothing stamps updates: the whole table, snapshot.
    assert proposal.connector["mode"] == "snapshot" and ":window_start" not in query
    columns = {"id", "paciente_id", "medico_id", "fecha", "hora", "estado", "motivo", "paciente_nombre",
               "paciente_apellidos", "paciente_telefono", "paciente_correo", "medico_nombre", "medico_especialidad"}
    placed = set().union(*((_reads(g.spec) or {g.source}) for g in proposal.guesses))
    assert columns <= placed | set(proposal.unplaced)  # every column: placed, or listed as not placed
    assert set(proposal.unplaced) <= columns
    assert all(0.0 <= g.confidence <= 1.0 and g.why for g in proposal.guesses)


@pytest.mark.postgres
def test_spanish_schema_maps_every_field_a_human_would(spanish: tuple[str, Any], tmp_path: Path, cli: Any) -> None:
    url, expected = spanish
    proposal = discover_sql(url, name="clinica", timezone="Europe/Madrid")
    by_field = {g.field: g for g in proposal.guesses}
    corrected = sorted(f for f, columns in HUMAN.items()
                       if f not in by_field or not _reads(by_field[f].spec or {"from": by_field[f].source}) <= columns
                       or not _reads(by_field[f].spec or {"from": by_field[f].source}))
    assert corrected == []  # the fields the admin would have to correct by hand (goal: none)
    assert {w.value: w.status for w in proposal.status_words} == data.SPANISH_STATUS
    settings = data.admin_settings(tmp_path, "Europe/Madrid")
    run = cli(settings)
    run("discover", url, "--name", "clinica", "--timezone", "Europe/Madrid", "--write")
    _, out, _ = run("sync", "--once", "--json")
    report = json.loads(out)["connectors"]["clinica"]
    assert (report["error"], report["created"], report["quarantined"]) == (None, len(expected), 0)
    data.assert_imported(data.stored(run), expected)


@pytest.mark.postgres
def test_spanish_schema_written_and_checked(spanish: tuple[str, Any], tmp_path: Path, cli: Any) -> None:
    """Whatever the scorer placed, the files load with the real loaders and `check` runs on them;
    the exit code says whether it passed."""
    url, _ = spanish
    settings = data.admin_settings(tmp_path, "Europe/Madrid")
    code, out, _ = cli(settings)("discover", url, "--name", "clinica", "--timezone", "Europe/Madrid", "--write",
                                 expect=None)
    assert out.rstrip().splitlines()[-1].startswith("checked: 1 sources")
    assert code == (0 if "0 would be quarantined, 0 problems" in out else 1)
    mapping = (tmp_path / "mappings" / "clinica.yaml").read_text()
    assert "# Not placed (no field took these columns):" in mapping
    assert yaml.safe_load(settings.read_text())["connectors"][0]["query"].startswith("SELECT")


def _sqlite(path: Path, script: str) -> str:
    with sqlite3.connect(path) as connection:
        connection.executescript(script)
    return f"sqlite:///{path}"


def test_references_named_but_not_declared_are_joined(tmp_path: Path) -> None:
    url = _sqlite(tmp_path / "s.db", """
        CREATE TABLE clients (id INTEGER PRIMARY KEY, name TEXT, phone TEXT);
        CREATE TABLE bookings (id INTEGER PRIMARY KEY, client_id INTEGER, start DATETIME, status TEXT,
                               updated_at DATETIME);
        INSERT INTO clients VALUES (1, 'A', '+1 617 253 1000');
        INSERT INTO bookings VALUES (1, 1, '2030-01-02 10:00:00', 'booked', '2029-12-01 10:00:00');
        """)
    proposal = discover_sql(url, timezone="Europe/Madrid")
    query = proposal.connector["query"]
    assert "LEFT JOIN clients AS t1 ON t1.id = a.client_id" in query
    assert "t1.phone AS client_phone" in query and "  a.status,\n" in query
    # An updated-at stamp on the booking, none on the client whose phone the mapping reads: a cursor
    # would never see a new phone, so the window is re-read (snapshot), said why; it bounds the window.
    assert proposal.connector["mode"] == "snapshot" and "cursor_column" not in proposal.connector
    assert "no column stamps the changes of 'clients'" in proposal.connector_notes["mode"]
    assert "a.start BETWEEN :window_start AND :window_end" in query
    assert proposal.name == "s"


def test_several_appointment_like_tables_ask_for_table(tmp_path: Path) -> None:
    url = _sqlite(tmp_path / "two.db", """
        CREATE TABLE visits_a (id INTEGER PRIMARY KEY, start DATETIME);
        CREATE TABLE visits_b (id INTEGER PRIMARY KEY, start DATETIME);
        """)
    with pytest.raises(DiscoverError, match=r"\(visits_(a|b), visits_(a|b)\): pick one with --table"):
        discover_sql(url, timezone="UTC")
    assert "FROM visits_b AS a" in discover_sql(url, timezone="UTC", table="visits_b").connector["query"]
    with pytest.raises(DiscoverError, match="--table: no table 'nope'"):
        discover_sql(url, timezone="UTC", table="nope")


def test_a_password_in_the_url_becomes_a_placeholder(tmp_path: Path) -> None:
    url = _sqlite(tmp_path / "p.db", "CREATE TABLE appointments (id INTEGER PRIMARY KEY, start DATETIME);")
    from clinicsync.sync.discover.sql import secret_url

    written, env = secret_url("postgresql://reader:s3cr%40t@db.clinic.lan:5432/pm", "front-desk")
    assert written == "postgresql://reader@db.clinic.lan:5432/pm"
    assert list(env) == ["FRONT_DESK_DB_PASSWORD"] and "s3cr" not in str(env)
    assert secret_url(url, "x") == (url, {})
    with pytest.raises(DiscoverError, match="--timezone: 'Mars/Olympus' is not an IANA time zone"):
        discover_sql(url, timezone="Mars/Olympus")
