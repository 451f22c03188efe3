"""Issue 57 obs 7 on real servers: a column name with a line break (and a ':' SQLAlchemy would
take for a bind parameter) and a status word holding U+2028 followed by ``booked: cancelled``.
Before, the word escaped its YAML comment and mapped every booked visit to cancelled while
`check` said "0 problems". Now `discover --write` keeps both as data: `check` names the unknown
word (its rows would be quarantined), `sync --once` imports the booked visits as booked, and
the commented line, taken as the mapping file says, maps that word and nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from tests.discover import sql_support as data

STATUS_COLUMN = "status\n  :booked cancelled"  # a line break, and ':booked' (a bind parameter to text())
# SQLAlchemy's MySQL reflection reads SHOW CREATE TABLE line by line and drops a column whose
# name holds a line break (SAWarning "Unknown column definition"), and returns a backtick
# doubled (``): on MariaDB the name keeps the other metacharacters.
MARIADB_COLUMN = "status # :booked 'cancelled'"
QUOTED_MARIADB = "`" + MARIADB_COLUMN.replace("`", "``") + "`"
HOSTILE_WORD = "Void\u2028booked: cancelled"
BOOKED = 30
HOSTILE = 3
ZONE = "America/New_York"


def _rows() -> list[tuple[int, int, Any, str]]:
    """(id, patient, local start, status word): the booked visits, then the hostile word's."""
    slots = data.future_slots(ZONE, BOOKED + HOSTILE)
    return [(1 + n, 1 + n % 5, start, "booked" if n < BOOKED else HOSTILE_WORD) for n, start in enumerate(slots)]


def _postgres(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE TABLE patients (id serial PRIMARY KEY, name text, phone text)")
        connection.execute(f'CREATE TABLE appointments (id serial PRIMARY KEY, patient_id integer REFERENCES '
                           f'patients(id), start_time timestamp, "{STATUS_COLUMN}" text)')
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO patients (id, name, phone) VALUES (%s, %s, %s)",
                               [(1 + n, f"Patient{n}", f"+1 617 253 10{n:02d}") for n in range(5)])
            cursor.executemany(f'INSERT INTO appointments (id, patient_id, start_time, "{STATUS_COLUMN}") '
                               "VALUES (%s, %s, %s, %s)", _rows())


def _mariadb(database: dict[str, Any]) -> None:
    connection = data.mysql(database)
    with connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE patients (id int PRIMARY KEY, name varchar(80), phone varchar(40))")
        cursor.execute(f"CREATE TABLE appointments (id int PRIMARY KEY, patient_id int, start_time datetime, "
                       f"{QUOTED_MARIADB} varchar(80), FOREIGN KEY (patient_id) REFERENCES patients(id))")
        cursor.executemany("INSERT INTO patients VALUES (%s, %s, %s)",
                           [(1 + n, f"Patient{n}", f"+1 617 253 10{n:02d}") for n in range(5)])
        cursor.executemany("INSERT INTO appointments VALUES (%s, %s, %s, %s)", _rows())


def _discover_check_sync(url: str, tmp_path: Path, cli: Any, column: str) -> None:
    settings = data.admin_settings(tmp_path, ZONE, agendas=False)
    run = cli(settings)
    code, out, err = run("discover", url, "--name", "desk", "--timezone", ZONE, "--write", expect=None)
    assert code in (0, 1), err
    mapping_file = tmp_path / "mappings" / "desk.yaml"
    mapping = yaml.safe_load(mapping_file.read_text(encoding="utf-8"))
    assert mapping["status_map"] == {"booked": "booked"}  # the word added no entry
    assert mapping["fields"]["status"] == {"from": column}  # the column stayed one name
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    assert column.replace(":", "\\:").replace("`", "``") in connector["query"]  # quoted, ':' escaped for text()
    # check: the unknown word's rows would be quarantined, said so by their field; not "0 problems".
    assert code == 1 and "0 would be quarantined, 0 problems" not in out
    _, out, _ = run("sync", "--once", "--json")
    report = json.loads(out)["connectors"]["desk"]
    assert (report["error"], report["created"], report["quarantined"]) == (None, BOOKED, HOSTILE)
    found = data.stored(run)
    assert len(found) == BOOKED and {a["status"] for a in found.values()} == {"booked"}
    # The admin takes the commented line as the file says: that word is mapped, nothing else.
    text = mapping_file.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if "\\Lbooked" in x)
    assert line.startswith("  # ") and ": ?" in line
    mapping_file.write_text(text.replace("status_map:\n", "status_map:\n  " + line[4:].replace(": ?", ": cancelled",
                                                                                                  1) + "\n", 1))
    assert yaml.safe_load(mapping_file.read_text())["status_map"] == {"booked": "booked", HOSTILE_WORD: "cancelled"}
    _, out, _ = run("check")
    assert "0 would be quarantined, 0 problems" in out


@pytest.mark.postgres
def test_postgres_hostile_names_and_words_stay_data(postgres_url: str, tmp_path: Path, cli: Any) -> None:
    _postgres(postgres_url)
    _discover_check_sync(postgres_url, tmp_path, cli, STATUS_COLUMN)


@pytest.mark.mariadb
def test_mariadb_hostile_names_and_words_stay_data(mariadb_database: dict[str, Any], tmp_path: Path,
                                                  cli: Any) -> None:
    _mariadb(mariadb_database)
    _discover_check_sync(str(mariadb_database["url"]), tmp_path, cli, MARIADB_COLUMN)
