"""`discover` prints what it read from the source — table and column names, status words — and
those are data (issue 57 obs 7): a line break, U+2028/2029, a carriage return or an escape
sequence in them is printed as its escape, never as a new line or a terminal command. And on
MariaDB a column whose name holds a line break (which SQLAlchemy's MySQL reflection drops) is
still read, from information_schema: no column is silently missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect

from clinicsync.sync.discover.graph import read_schema
from tests.discover import sql_support as data

ZONE = "America/New_York"
BROKEN = "notes\nfor the desk"  # a column name with a line break
WORD = "Void\u2028\x1b[2Jbooked\r"  # U+2028, an escape sequence that clears the screen, a carriage return
_RAW = ("\u2028", "\u2029", "\x1b", "\r", "\x85")


def _fill(database: dict[str, Any]) -> None:
    connection = data.mysql(database)
    try:
        data.run_sql(connection, """
            CREATE TABLE patients (id INT PRIMARY KEY, full_name VARCHAR(80), mobile VARCHAR(30));
            CREATE TABLE visits (id INT PRIMARY KEY, patient_id INT NOT NULL, starts_at DATETIME NOT NULL,
                                 status VARCHAR(40) NOT NULL, `notes
for the desk` VARCHAR(80) NULL, FOREIGN KEY (patient_id) REFERENCES patients (id));
            """)
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO patients VALUES (%s, %s, %s)",
                               [(p, f"Client {p}", f"617-253-{1000 + p}") for p in range(1, 11)])
            cursor.executemany("INSERT INTO visits VALUES (%s, %s, %s, %s, NULL)",
                               [(n, 1 + n % 10, start, WORD if n % 5 == 0 else "booked")
                                for n, start in enumerate(data.future_slots(ZONE, 30), 1)])
    finally:
        connection.close()


@pytest.mark.mariadb
def test_a_column_with_a_line_break_is_read_from_information_schema(mariadb_database: dict[str, Any]) -> None:
    _fill(mariadb_database)
    engine = create_engine(str(mariadb_database["url"]))
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            schema = read_schema(inspector, inspector.get_table_names())
    finally:
        engine.dispose()
    visits = schema.tables["visits"]
    assert list(visits.columns) == ["id", "patient_id", "starts_at", "status", BROKEN]  # in the table's order
    assert visits.columns[BROKEN] == "VARCHAR(80)" and BROKEN in visits.nullable
    assert visits.key == "id"


@pytest.mark.mariadb
def test_discover_prints_source_names_and_words_escaped(mariadb_database: dict[str, Any], tmp_path: Path,
                                                        cli: Any) -> None:
    _fill(mariadb_database)
    run = cli(data.admin_settings(tmp_path, ZONE))
    _, out, err = run("discover", str(mariadb_database["url"]), "--timezone", ZONE)
    assert not [c for c in _RAW if c in out + err], (out, err)
    assert "notes\\nfor the desk" in out  # the column is seen (not placed), its line break written as \n
    assert "\\u2028" in out and "\\x1b[2J" in out  # the status word, escaped
    assert all(line.startswith(("discover:", "  ", "status words:", "not placed:", "note:")) for line in
               out.splitlines() if line), out  # no line begun by a source's text
