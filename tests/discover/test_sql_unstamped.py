"""An incremental read sees every table that supplies a stored field: a contacts table with no
change stamp (the patient's phones, one row per number, edited in place) makes discover propose
a snapshot, said why, and a phone changed there reaches the store at the next sync. A lookup
table with no stamp that supplies no placed field (the insurers' plan codes) changes nothing: the read
stays incremental. A contacts table stamped only on creation (``created_at``, no updated stamp) is
no better: a number corrected in place moves nothing, so it too makes the read a snapshot, the
reason naming the creation stamp."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from clinicsync.sync.discover.sql import discover_sql
from tests.discover import sql_support as data

ZONE = "America/New_York"
SCHEMA = """
CREATE TABLE patients (id INTEGER PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
                       updated_at DATETIME NOT NULL);
CREATE TABLE phones (id INTEGER PRIMARY KEY, patient_id INTEGER NOT NULL REFERENCES patients (id),
                     number TEXT NOT NULL);
CREATE TABLE insurers (id INTEGER PRIMARY KEY, plan_code TEXT NOT NULL);
CREATE TABLE visits (id INTEGER PRIMARY KEY, patient_id INTEGER NOT NULL REFERENCES patients (id),
                     insurer_id INTEGER REFERENCES insurers (id), start_time DATETIME NOT NULL,
                     end_time DATETIME NOT NULL, status TEXT NOT NULL, updated_at DATETIME NOT NULL);
"""


def _database(path: Path, with_phones: bool = True, created: bool = False) -> str:
    """Twelve patients, each with one mobile number, and 24 visits in the coming weeks; the
    stamps a day old, one minute apart (local wall-clock times, as the clinic's front-desk
    program writes them), so that a cursor on them re-reads only the newest visit."""
    soon = date.today() + timedelta(days=5)
    day = date.today() - timedelta(days=1)
    stamp = f"{day} 09:00:00"
    with sqlite3.connect(path) as connection:
        schema = SCHEMA.replace("number TEXT NOT NULL)", "number TEXT NOT NULL, created_at DATETIME NOT NULL)") \
            if created else SCHEMA
        connection.executescript(schema if with_phones else schema.replace("phones", "unused_phones"))
        connection.executemany("INSERT INTO patients VALUES (?, ?, ?, ?)",
                               [(n, f"Given{n}", f"Family{n}", stamp) for n in range(1, 13)])
        if with_phones:
            connection.executemany(f"INSERT INTO phones VALUES (?, ?, ?{', ?' if created else ''})",
                                   [(n, n, f"617-253-{1000 + n:04d}", *([stamp] if created else []))
                                    for n in range(1, 13)])
        connection.executemany("INSERT INTO insurers VALUES (?, ?)", [(1, "BCBS-PPO"), (2, "AETNA-HMO")])
        connection.executemany(
            "INSERT INTO visits VALUES (?, ?, ?, ?, ?, 'booked', ?)",
            [(n, 1 + n % 12, 1 + n % 2, f"{soon + timedelta(days=n % 7)} {8 + n % 9:02d}:00:00",
              f"{soon + timedelta(days=n % 7)} {8 + n % 9:02d}:30:00", f"{day} 10:{n:02d}:00")
             for n in range(1, 25)])
    return f"sqlite:///{path}"


@pytest.mark.parametrize("created", [False, True], ids=["no-stamp", "creation-stamp-only"])
def test_a_phone_changed_in_a_stampless_child_table_reaches_the_store(tmp_path: Path, cli: Any,
                                                                      created: bool) -> None:
    source = tmp_path / "desk.db"
    url = _database(source, created=created)
    settings = data.admin_settings(tmp_path, ZONE, agendas=False)
    run = cli(settings)
    _, out, _ = run("discover", url, "--name", "desk", "--timezone", ZONE, "--stored-times", "local", "--write")
    assert "0 would be quarantined, 0 problems" in out, out
    assert "table 'phones' supplies patient.phone and has no change stamp" in out  # the summary says why
    assert ("only a creation stamp, 'created_at'" in out) is created
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    assert connector["mode"] == "snapshot"
    assert "has no change stamp" in settings.read_text(encoding="utf-8")  # and so does the settings file
    run("sync", "--once", "--json")
    assert data.stored(run)["1"]["patient"]["phone"] == "+16172531002"

    with sqlite3.connect(source) as connection:  # the desk corrects a number in place: no stamp moves
        connection.execute("UPDATE phones SET number = '617-555-0199' WHERE patient_id = 2")
    _, sync_out, _ = run("sync", "--once", "--json")
    assert json.loads(sync_out)["connectors"]["desk"]["error"] is None
    found = data.stored(run)
    assert {key for key, visit in found.items() if visit["patient"]["phone"] == "+16175550199"} == {"1", "13"}


def test_a_stampless_lookup_that_supplies_no_field_keeps_the_read_incremental(tmp_path: Path) -> None:
    """The insurers list has no stamp, but no placed field reads it: the cursor stays on the
    visits' and patients' stamps."""
    proposal = discover_sql(_database(tmp_path / "desk.db", with_phones=False), name="desk", timezone=ZONE,
                            stored_times="local")
    assert proposal.connector["mode"] == "incremental", proposal.connector_notes["mode"]
    assert not any(g.source.startswith("insurer") for g in proposal.guesses)
