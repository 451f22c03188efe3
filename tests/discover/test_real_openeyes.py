"""`discover` on the real shape of OpenEyes's operation booking in MariaDB (tests/fixtures/ehr/openeyes,
with its SOURCE note; rows from tests/discover/openeyes_data.py), an NHS ophthalmology EHR
clinicsync had never met. What it has: a patient's visit is a place on a theatre list (a booking
row naming the list, with the patient's own ``admission_time`` and a copy of the list's date and
times); the booking names no person: it books an operation element, the element belongs to an
event, the event to an episode, the episode to the patient, the patient's name and phone on its
contact row; events and episodes entered in error are soft-deleted, as is a merged patient; a
cancelled or moved booking keeps its row with ``booking_cancellation_date`` set; the surgeon is
the list's firm's consultant (a user, named on the user row and its contact); every row names who
typed it (``created_user_id``). Driven as the admin would: ``discover --write`` (which runs
``check``), then ``sync --once``, every visit ahead compared field by field (by booking id)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.discover import openeyes_data as openeyes
from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data


@pytest.mark.mariadb
def test_on_mariadb(mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    """With the settings' six lines and the URL alone: the bookings (not the lists), the start the
    list's day with the booking's own admission time, the length the operation's, the patient
    followed up four rows to its contact (phone as typed, mobile or landline), a booking whose event,
    episode or patient is deleted left out, the cancellation date the status, the list's firm's
    consultant the doctor; `check` passes and every visit ahead is right on every field.
    Before: discover took the theatre lists for the visits (the list's 08:30 to 12:30, each
    list's 'patient' the clerk who typed its first booking, the theatre as the doctor): `check`
    failed (one patient for every visit) and 0 of 98 visits were right on start, patient, name or
    doctor."""
    truth, settings, run = real.admin_start(mariadb_database, openeyes.build, tmp_path, openeyes.ZONE,
                                            openeyes.REGION, cli)
    command = [str(mariadb_database["url"])]
    before = settings.read_text(encoding="utf-8")
    code, out, err = run("discover", *command, "--write", expect=None)
    print(code, out, err, settings.read_text(encoding="utf-8"),
          *(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")))
    assert code == 0, out + err
    assert "0 would be quarantined, 0 problems" in out + err, out + err
    assert data.admin_lines(before, command) <= 7  # six lines of settings, the URL
    fields = real.written_mapping(tmp_path)["fields"]
    assert "session_start_time" not in str(fields["start"]) and "admission_time" in str(fields["start"]), fields
    run("sync", "--once", "--json")
    found = data.stored(run)
    scores = real.scores(found, truth)
    print("fields right of", len(truth), scores, "stored", len(found))
    assert set(found) == set(truth), sorted(set(found) ^ set(truth))[:5]
    assert all(right == len(truth) for right in scores.values()), scores


@pytest.mark.mariadb
def test_check_fails_when_no_visit_can_be_reminded(mariadb_database: dict[str, Any], tmp_path: Path,
                                                   cli: Any) -> None:
    """The same hospital with no phone typed on any contact (nor an email on any address): the
    proposal still finds the visits, the patients and the doctors, but `check` fails on the one
    thing that makes it useless, saying so: no upcoming visit can be reminded."""

    def build(cursor: Any) -> dict[str, dict[str, Any]]:
        truth = openeyes.build(cursor)
        cursor.execute("UPDATE contact SET primary_phone = NULL")
        return truth

    _, _, run = real.admin_start(mariadb_database, build, tmp_path, openeyes.ZONE, openeyes.REGION, cli)
    code, out, err = run("discover", str(mariadb_database["url"]), "--write", expect=None)
    print(code, out, err)
    errors = [line for line in out.splitlines() if ": error: " in line]
    assert code == 1 and len(errors) == 1, out + err
    assert "error: patient.phone, patient.email: only 0 of" in errors[0], errors
    assert "100%) have a doctor" in out, out
