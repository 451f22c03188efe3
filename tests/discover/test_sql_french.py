"""A French practice's own schema in MariaDB, written for this test and unseen by the scorer's
authors: `rendez_vous` with text dates (dd/mm/yyyy), `prenom` + `nom`, a `motif`, French status
words, a `modifie_le` stamp on every table, and an admin whose settings file ends in an empty `connectors:`.
`discover --write` then `sync --once` must import every row as a person would have mapped it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.discover import sql_support as data

ZONE = "Europe/Paris"
STATUS = {"réservé": "booked", "confirmé": "booked", "annulé": "cancelled", "absent": "noshow"}
DDL = """
CREATE TABLE praticiens (id INT PRIMARY KEY, nom VARCHAR(80), courriel VARCHAR(120), modifie_le DATETIME);
CREATE TABLE patients (id INT PRIMARY KEY, prenom VARCHAR(60), nom VARCHAR(60), telephone_portable VARCHAR(30),
                       courriel VARCHAR(120), modifie_le DATETIME);
CREATE TABLE rendez_vous (id INT PRIMARY KEY, patient_id INT NOT NULL, praticien_id INT, date_rdv VARCHAR(10),
                          heure_debut VARCHAR(5), duree_minutes INT, statut VARCHAR(20), motif VARCHAR(80),
                          modifie_le DATETIME,
                          FOREIGN KEY (patient_id) REFERENCES patients(id),
                          FOREIGN KEY (praticien_id) REFERENCES praticiens(id));
"""


@pytest.fixture
def french(mariadb_database: dict[str, Any]) -> tuple[str, list[data.Expected]]:
    connection = data.mysql(mariadb_database)
    data.run_sql(connection, DDL)
    words = list(STATUS)
    with connection.cursor() as cursor:
        long_ago = data.future_slots(ZONE, 1)[0] - timedelta(days=150)
        cursor.executemany("INSERT INTO praticiens VALUES (%s, %s, %s, %s)",
                           [(p, f"Dr Martin{p}", f"dr{p}@cabinet.example.fr", long_ago) for p in (1, 2, 3)])
        cursor.executemany("INSERT INTO patients VALUES (%s, %s, %s, %s, %s, %s)",
                           [(n, f"Prenom{n}", f"Nom{n}", f"06 12 34 {n // 10:02d} {n % 10}0", f"p{n}@exemple.fr",
                             long_ago) for n in range(1, 31)])
        rows, expected = [], []
        for n, start in enumerate(data.future_slots(ZONE, 80), start=1):
            word = words[n % len(words)]
            # changed weeks ago: a stamp no nearer now than 18 days, so nothing in the database says
            # how it keeps time (start - 30 days fell within minutes of now at some hours of some days,
            # and discover rightly read the convention off it: the test failed by the clock)
            rows.append((n, 1 + n % 30, 1 + n % 3, start.strftime("%d/%m/%Y"), start.strftime("%H:%M"), 20, word,
                         "Consultation", start - timedelta(days=120)))
            expected.append(data.Expected(str(n), data.utc(start, ZONE), STATUS[word], str(1 + n % 30),
                                          str(1 + n % 3)))
        cursor.executemany("INSERT INTO rendez_vous VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    connection.close()
    return str(mariadb_database["url"]), expected


@pytest.mark.mariadb
def test_a_french_schema_imports_as_a_person_would_map_it(french: tuple[str, list[data.Expected]],
                                                          tmp_path: Path, cli: Any) -> None:
    url, expected = french
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"clinic:\n  timezone: {ZONE}\n  default_region: FR\nstore:\n"
                        f"  url: sqlite:///{tmp_path / 'store.db'}\nconnectors:\n", encoding="utf-8")
    run = cli(settings)
    # A UTC server and no fresh stamps say nothing of how times are kept, but the dates are text
    # as people write them (dd/mm/yyyy): typed at the desk, the clinic's wall clock. No question.
    _, out, _ = run("discover", url, "--name", "cabinet", "--write")
    assert "starts are text written as people read them ('%d/%m/%Y %H:%M')" in out
    assert "checked: 1 sources, 80 records sampled, 0 would be quarantined, 0 problems" in out
    mapping = yaml.safe_load((tmp_path / "mappings" / "cabinet.yaml").read_text(encoding="utf-8"))
    fields = mapping["fields"]
    assert fields["patient.name"] == {"concat": ["patient_prenom", "patient_nom"]}  # first name, then surname
    assert fields["type"] == {"from": "motif"}
    assert fields["patient.phone"]["from"] == "patient_telephone_portable"  # French numbers, read in FR
    assert mapping["status_map"] == STATUS
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    # Each table read carries its `modifie_le`: the cursor is the latest of the three, so a changed
    # phone in `patients` moves it too.
    assert (connector["mode"], connector["cursor_column"]) == ("incremental", "changed_at")
    assert connector["query"].count("modifie_le") >= 3
    assert fields["source_updated_at"] == {"from": "modifie_le", "on_invalid": "drop"}  # French, read as the stamp

    _, sync_out, _ = run("sync", "--once", "--json")
    report = json.loads(sync_out)["connectors"]["cabinet"]
    assert (report["error"], report["created"], report["quarantined"]) == (None, 80, 0)
    data.assert_imported(data.stored(run), expected)
