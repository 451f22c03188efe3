"""A diary that keeps its day and time as text (SQLite, a PHP app's VARCHAR) under names in the
clinic's own language: discover found "no table with dates" unless the names were English or
Spanish (``date``, ``fecha``, ``hora``), though its vocabulary reads ``datum``, ``uhrzeit``,
``data_consulta`` everywhere else. Two practices built here in SQLite, discover run on each and
its proposal checked: a German one (``termine``: ``datum`` as dd.mm.yyyy or ISO text,
``uhrzeit``, status ``geplant``/``erschienen``/``abgesagt``, ``grund`` the reason, a patient
``geloescht`` flag) and a Portuguese one (``consultas``: ``data_consulta``, ``hora``, a patient
``ativo`` flag); a blob called ``dados``/``form_data`` beside them is no date."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from clinicsync.sync.discover.sql import discover_sql
from tests.discover.files_support import check_proposal

VISITS, PATIENTS = 120, 40


def _german(path: Path, day_format: str) -> None:
    start = (datetime.now() + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    with sqlite3.connect(path) as connection:
        connection.executescript("""
            CREATE TABLE patienten (pat_nr INTEGER PRIMARY KEY, vorname TEXT NOT NULL, nachname TEXT, handy TEXT,
                                    geloescht INTEGER DEFAULT 0);
            CREATE TABLE aerzte (arzt_nr INTEGER PRIMARY KEY, vorname TEXT, nachname TEXT NOT NULL, email TEXT);
            CREATE TABLE termine (termin_nr INTEGER PRIMARY KEY, pat_nr INTEGER, arzt_nr INTEGER, datum TEXT,
                                  uhrzeit TEXT, dauer INTEGER, status TEXT NOT NULL, grund TEXT, form_data TEXT);
            CREATE TABLE rechnungen (re_nr INTEGER PRIMARY KEY, pat_nr INTEGER, betrag REAL);
        """)
        connection.executemany("INSERT INTO aerzte (vorname, nachname, email) VALUES (?, ?, ?)",
                               [(f"Anna{n}", "Weber", f"a{n}@praxis.example") for n in range(3)])
        connection.executemany("INSERT INTO patienten (vorname, nachname, handy, geloescht) VALUES (?, ?, ?, ?)",
                               [(f"Lena{n}", "Schmidt", f"0151 2345{n:04d}", int(n == 7)) for n in range(PATIENTS)])
        connection.executemany(
            "INSERT INTO termine (pat_nr, arzt_nr, datum, uhrzeit, dauer, status, grund, form_data) "
            "VALUES (?, ?, ?, ?, 15, ?, ?, '{\"x\": 1}')",
            [(1 + n % PATIENTS, 1 + n % 3, f"{start + timedelta(days=n // 8):{day_format}}",
              f"{start + timedelta(hours=n % 8):%H:%M}", ("geplant", "abgesagt", "erschienen")[n % 3],
              ("Kontrolle", "Impfung")[n % 2]) for n in range(VISITS)])
        connection.executemany("INSERT INTO rechnungen (pat_nr, betrag) VALUES (?, ?)",
                               [(1 + n % PATIENTS, 12.5) for n in range(200)])


@pytest.mark.parametrize("day_format", ["%d.%m.%Y", "%Y-%m-%d"])
def test_a_german_diary_kept_as_text(tmp_path: Path, day_format: str) -> None:
    path = tmp_path / "praxis.db"
    _german(path, day_format)
    proposal = discover_sql(f"sqlite:///{path}", name="praxis", timezone="Europe/Berlin", stored_times="local")
    assert proposal.mapping is not None and "FROM termine" in proposal.connector["query"]
    fields = proposal.mapping["fields"]
    assert "datum" in str(fields["start"]) and "uhrzeit" in str(fields["start"])
    assert fields["type"] == {"from": "grund"}
    assert proposal.mapping["status_map"] == {"geplant": "booked", "abgesagt": "cancelled", "erschienen": "arrived"}
    assert "geloescht" in proposal.connector["query"]  # the deleted patient's visits are left out
    result = check_proposal(proposal, tmp_path, "Europe/Berlin", "DE")
    kept = VISITS - VISITS // PATIENTS  # patient 8 (geloescht) has one visit in each round of 40
    assert result.sampled == kept and result.mapped == kept, result.quarantined


def test_a_portuguese_diary_kept_as_text(tmp_path: Path) -> None:
    path = tmp_path / "clinica.db"
    start = (datetime.now() + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    with sqlite3.connect(path) as connection:
        connection.executescript("""
            CREATE TABLE pacientes (id INTEGER PRIMARY KEY, nome TEXT NOT NULL, celular TEXT, ativo INTEGER);
            CREATE TABLE medicos (id INTEGER PRIMARY KEY, nome TEXT NOT NULL, email TEXT);
            CREATE TABLE consultas (id INTEGER PRIMARY KEY, paciente_id INTEGER REFERENCES pacientes(id),
                                    medico_id INTEGER REFERENCES medicos(id), data_consulta TEXT, hora TEXT,
                                    situacao TEXT, dados TEXT);
        """)
        connection.executemany("INSERT INTO medicos (nome, email) VALUES (?, ?)",
                               [(f"Dra. Ana{n} Souza", f"ana{n}@clinica.example") for n in range(3)])
        connection.executemany("INSERT INTO pacientes (nome, celular, ativo) VALUES (?, ?, ?)",
                               [(f"João{n} Silva", f"(11) 9{n:04d}-1234", int(n != 7)) for n in range(PATIENTS)])
        connection.executemany(
            "INSERT INTO consultas (paciente_id, medico_id, data_consulta, hora, situacao, dados) "
            "VALUES (?, ?, ?, ?, ?, '{}')",
            [(1 + n % PATIENTS, 1 + n % 3, f"{start + timedelta(days=n // 8):%Y-%m-%d}",
              f"{start + timedelta(hours=n % 8):%H:%M}", ("marcada", "cancelada", "realizada")[n % 3])
             for n in range(VISITS)])
    proposal = discover_sql(f"sqlite:///{path}", name="clinica", timezone="America/Sao_Paulo", stored_times="local")
    assert proposal.mapping is not None and "FROM consultas" in proposal.connector["query"]
    assert proposal.mapping["fields"]["start"] == {"date": "data_consulta", "time": "hora"}
    assert "ativo" in proposal.connector["query"]
    result = check_proposal(proposal, tmp_path, "America/Sao_Paulo", "BR")
    kept = VISITS - VISITS // PATIENTS
    assert result.sampled == kept and result.mapped == kept, result.quarantined
