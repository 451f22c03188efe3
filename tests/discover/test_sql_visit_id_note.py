"""The proposal's word on the visit's id matches what it placed: a primary key whose name and
values the scorer does not read as an id (``cle``, hashes) is the id, and then no note says the
table has no appointment id column, nor that the key was chosen over "a number made up"; a table
with no key and no unique column keeps the made-up id and says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.discover import sql_support as data

ROWS = ("SELECT {id}, now()::date + (g % 20) + time '08:00' + (g % 9) * interval '1 hour', 30, "
        "'Patient' || g || ' Family', '+3247012' || lpad(g::text, 4, '0'), now() - interval '3 min' "
        "FROM generate_series(1, 60) AS g")
COLUMNS = "starts_at timestamp NOT NULL, minutes integer, patient_name varchar(80), patient_phone varchar(30), " \
          "updated_at timestamp"


@pytest.mark.postgres
def test_a_key_the_scorer_does_not_read_as_an_id_gets_no_missing_id_note(postgres_url: str, tmp_path: Path,
                                                                           cli: Any) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f"CREATE TABLE visits (cle varchar(40) PRIMARY KEY, {COLUMNS})")
        connection.execute("INSERT INTO visits " + ROWS.format(id="md5(g::text)"))
        connection.execute(f"CREATE TABLE diary ({COLUMNS})")  # no key, and every row repeated: no unique column
        connection.execute("INSERT INTO diary " + ROWS.format(id="").replace("SELECT ,", "SELECT"))
        connection.execute("INSERT INTO diary SELECT * FROM diary")
    run = cli(data.admin_settings(tmp_path, "Europe/Brussels"))
    _, out, _ = run("discover", postgres_url, "--table", "visits", "--stored-times", "local")
    line = next(x for x in out.splitlines() if x.strip().startswith("external_id "))
    assert "<- cle  (0.95: the table's primary key)" in line, out
    assert "no appointment id column" not in out and "made up" not in out, out
    _, out, _ = run("discover", postgres_url, "--table", "diary", "--stored-times", "local")
    line = next(x for x in out.splitlines() if x.strip().startswith("external_id "))
    assert "no appointment id column: a visit is known by" in line, out
    assert "note: no appointment id column: each visit" in out, out
