"""`discover` on the real shape of Indico's room booking in PostgreSQL (tests/fixtures/ehr/indico,
with its SOURCE note; rows from tests/discover/indico_data.py), a medical service booking its
consulting rooms in it, a product it had never met. What it has: tables in the PostgreSQL schemas
``roombooking`` and ``users`` (none in ``public``), a booking spanning all the weeks of its series
with one occurrence row per date (keyed by the booking and its start, a state of its own), the
room owned by its doctor, patients and doctors in one users table, the patient the user the room
is booked for (``booked_for_id``), phones typed free, emails in a table of their own (one primary,
a partial unique index), int state codes, naive local start times beside naive UTC stamps.
Driven as the admin would: ``discover --stored-times local --write`` (which runs ``check``: it
fails until the four state numbers are given, as discover asks), then ``sync --once``, every field
of every visit ahead compared with the truth (matched by its start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from tests.discover import indico_data as indico
from tests.discover import real_ehr_support as real

# what the admin types for the state numbers discover lists (ReservationState: 1 pending, 2 accepted,
# 3 cancelled, 4 rejected; an occurrence's 2 valid, 3 cancelled, 4 rejected)
NUMBERS = {"1": "pending", "2": "booked", "3": "cancelled", "4": "cancelled"}


@pytest.mark.postgres
def test_on_postgresql(database: str, tmp_path: Path, cli: Any) -> None:
    """Every field of all 82 visits ahead right: the occurrence's own state (a date cancelled alone
    is cancelled), the patient's name beside the stamp word 'booked', the primary email (not a
    secondary one, no visit read twice), the room's owner as the doctor with the email from the
    users' emails, the room as the place. The staff's colloquium (booked for a doctor, a room's
    owner) is left out: no visit more than the truth."""
    with psycopg.connect(database, autocommit=True) as connection:
        truth, meetings = indico.build(connection)
    settings = real.settings_file(tmp_path, indico.ZONE, indico.REGION)
    run = cli(settings)
    code, out, err = run("discover", database, "--stored-times", "local", "--write", expect=None)
    out_discover = out
    print(code, out, err, *(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")))
    assert code == 1 and "'state' holds numbers (1, 2, 3, 4)" in out, out
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    assert "CASE WHEN o.state = 2 THEN a.state ELSE o.state END AS state" in connector["query"], connector["query"]
    assert real.words_mapped(real.mapping_file(tmp_path), NUMBERS) == 4
    code, out, _ = run("check", expect=None)
    print("CHECK", code, out)
    assert code == 0 and "0 would be quarantined, 0 problems" in out, out
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    by_start = {v["start"]: v for v in found.values()}
    scores = real.scores({k: by_start[k] for k in truth if k in by_start},
                         {k: {**t, "start": k} for k, t in truth.items()})
    print("fields right of", len(truth), scores, "stored", len(found), "staff meetings", meetings)
    assert scores == dict.fromkeys(scores, len(truth)), scores
    assert len(found) == len(truth) and f"{meetings} booking(s) made for an owner of a 'rooms' row" in out_discover
