"""A kind or place that is only the column's declared default says nothing about one visit
(defaultvalues.py): a CRM's meeting ``type`` is 'Sugar' on every row because the table gives
every row that, and no patient should be told their visit is a 'Sugar'. A column the product
fills (several kinds), or one word on every row where the table declares no default, stays."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from clinicsync.sync.discover.defaultvalues import declared_defaults
from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE patients (id INTEGER PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40), phone VARCHAR(20));
CREATE TABLE meetings (id INTEGER PRIMARY KEY, date_start TIMESTAMP NOT NULL, date_end TIMESTAMP NOT NULL,
    status VARCHAR(20) NOT NULL, patient_id INTEGER NOT NULL REFERENCES patients(id), type VARCHAR(40) {default});
"""


def _rows(kinds: list[str]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    start = (datetime.now() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    patients = [(p, f"Given{p}", f"Family{p}", f"+1312555{p:04d}") for p in range(1, 31)]
    meetings = [(n, start + timedelta(days=n % 20, minutes=30 * (n % 8)),
                 start + timedelta(days=n % 20, minutes=30 * (n % 8) + 30), "Planned", 1 + n % 30,
                 kinds[n % len(kinds)]) for n in range(1, 81)]
    return patients, meetings


def _sqlite(path: Path, default: str, kinds: list[str]) -> str:
    connection = sqlite3.connect(path)
    connection.executescript(DDL.format(default=default))
    patients, meetings = _rows(kinds)
    connection.executemany("INSERT INTO patients VALUES (?, ?, ?, ?)", patients)
    connection.executemany("INSERT INTO meetings VALUES (?, ?, ?, ?, ?, ?)", meetings)
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def _fields(url: str) -> tuple[dict[str, Any], list[str]]:
    proposal = discover_sql(url, name="meetings", clinic_zone="America/Chicago", stored_times="local")
    return (proposal.mapping or {})["fields"], proposal.notes


def test_the_default_on_every_row_is_no_kind(tmp_path: Path) -> None:
    fields, notes = _fields(_sqlite(tmp_path / "m.db", "DEFAULT 'Sugar'", ["Sugar"]))
    assert "type" not in fields, fields["type"]
    assert any("'type' holds 'Sugar' on all" in n and "by default" in n for n in notes), notes


def test_kinds_the_product_fills_and_one_word_without_a_default_stay(tmp_path: Path) -> None:
    filled, _ = _fields(_sqlite(tmp_path / "a.db", "DEFAULT 'Sugar'", ["Check-up", "Follow-up", "Sugar"]))
    assert filled["type"] == {"from": "type"}, filled.get("type")
    one_word, _ = _fields(_sqlite(tmp_path / "b.db", "", ["Consultation"]))
    assert one_word["type"] == {"from": "type"}, one_word.get("type")


@pytest.mark.postgres
def test_the_default_on_postgresql(postgres_url: str) -> None:
    """PostgreSQL's catalogue writes the default with its cast: 'Sugar'::character varying."""
    patients, meetings = _rows(["Sugar"])
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(DDL.format(default="DEFAULT 'Sugar'"))
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO patients VALUES (%s, %s, %s, %s)", patients)
            cursor.executemany("INSERT INTO meetings VALUES (%s, %s, %s, %s, %s, %s)", meetings)
    fields, _ = _fields(postgres_url)
    assert "type" not in fields, fields["type"]


def test_the_catalogues_ways_of_writing_a_default() -> None:
    written = [("a", "'Sugar'::character varying"), ("b", "'Main office'"), ("c", "(N'Room 1')"), ("d", "0"),
               ("e", "now()"), ("g", "''"), ("h", "'Dr O''Brien'")]
    assert declared_defaults(written) == {"a": "Sugar", "b": "Main office", "c": "Room 1", "h": "Dr O'Brien"}
