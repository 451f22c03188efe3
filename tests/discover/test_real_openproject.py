"""`discover` on the real shape of OpenProject's meetings in PostgreSQL (tests/fixtures/ehr/openproject,
with its SOURCE note; rows from tests/discover/openproject_data.py), a physiotherapy practice keeping
its appointments as meetings, a product it had never met. What it has: a meeting's length as a
float in hours, its people as participant rows (the author among them) that also carry a guest's
empty name and email columns, everybody in one users table told apart by its STI ``type``, no
phone anywhere, the state as the model's enum numbers, series templates beside the meetings, the
team's own meetings with staff only. Driven as the admin would: ``discover --stored-times utc
--write`` (Rails keeps UTC; discover asks), the five state numbers typed, ``check``, ``sync
--once``, every field of every visit ahead compared with the truth (matched by its start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from tests.discover import openproject_data as op
from tests.discover import real_ehr_support as real

# what the admin types for Meeting's state enum (0 open, 1 draft, 3 in progress, 4 cancelled, 5 closed)
NUMBERS = {"0": "booked", "1": "pending", "3": "arrived", "4": "cancelled", "5": "fulfilled"}


@pytest.mark.postgres
def test_on_postgresql(postgres_url: str, tmp_path: Path, cli: Any) -> None:
    """Every field OpenProject keeps right on all 80 visits ahead: the end from the hours (never
    1-minute visits), the patient as the participant who is not staff, named from the users table,
    the therapist on each meeting as the doctor; the team's six staff meetings (the group invited
    beside them no patient) and their series template left out of the query, said with counts. Not
    right: the type (the meeting's title is not placed)."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        truth, staff = op.build(connection)
    settings = real.settings_file(tmp_path, op.ZONE, op.REGION)
    run = cli(settings)
    code, out, err = run("discover", postgres_url, "--stored-times", "utc", "--write", expect=None)
    print(code, out, err, *(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")))
    assert code == 1 and "'state' holds numbers (0, 1, 4, 5)" in out, out
    assert "7 of 103 rows have no 'meeting_participants' row naming a person" in out, out  # 6 staff, 1 model
    assert "1 of 103 rows have 'template' true: a series' template" in out, out
    fields = yaml.safe_load(real.mapping_file(tmp_path).read_text(encoding="utf-8"))["fields"]
    assert fields["duration_minutes"] == {"from": "duration", "type": "duration_hours"}, fields
    assert real.words_mapped(real.mapping_file(tmp_path), NUMBERS) == 5
    code, out, _ = run("check", expect=None)
    print("CHECK", code, out)
    assert code == 0 and "0 would be quarantined, 0 problems" in out, out
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    by_start = {v["start"]: v for v in found.values()}
    scores = real.scores({k: by_start[k] for k in truth if k in by_start},
                         {k: {**t, "start": k} for k, t in truth.items()})
    print("fields right of", len(truth), scores, "stored", len(found), "staff meetings", staff)
    assert scores == {**dict.fromkeys(scores, len(truth)), "type": 0}, scores
    assert staff == 6 and len(found) == len(truth)  # no staff meeting, no series template, no group as patient
    assert "Team Physio" not in {real.stored_fields(v)["name"] for v in found.values()}, found
