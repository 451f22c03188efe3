"""`discover` on the real shape of OpenClinica 3.x in PostgreSQL (tests/fixtures/ehr/openclinica, with
its SOURCE note), the clinical-trial data system research clinics run: a participant's visit is a
`study_event` of an event definition (`date_start`, `date_end`), its progress in
`subject_event_status_id` -> `subject_event_status` ("scheduled", "data entry started",
"completed", "stopped", "skipped", ...), its record status in `status_id` -> `status` (5, "removed":
a soft delete). The participant (`study_subject`: a study label; `subject`: a person id, sex and
birth date) has no name, phone or email: trial data are kept de-identified. `owner_id` is the
study coordinator who entered the row, no doctor. Besides the events, a real install keeps the
case report forms filled at past visits (`event_crf`, with their dates).

What discover must do: read the visits (start, status, the participant's id found by its
demographics: a birth date and a sex), take the visit's kind from its definition's name (not the
definitions' constant ``type``, "scheduled" on every row), leave out the visits whose record status is removed, take
no form's interviewer as the participant's name, and `check` must fail, saying nobody can be
reminded and no doctor is reached: a setup that cannot work."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.discover import real_ehr_support as real

ZONE = "Europe/Amsterdam"
FIXTURE = Path(__file__).parents[1] / "fixtures" / "ehr" / "openclinica" / "schema.sql"
EVENT_STATUS = [(1, "scheduled"), (2, "not_scheduled"), (3, "data_entry_started"), (4, "completed"),
                (5, "stopped"), (6, "skipped"), (7, "locked"), (8, "signed")]
DEFINITIONS = ((1, "Screening"), (2, "Baseline"), (3, "Month 3 visit"), (4, "Month 6 visit"))
WORDS = {"scheduled": "booked", "data_entry_started": "arrived", "completed": "fulfilled", "stopped": "cancelled",
         "skipped": "cancelled"}  # stopped: the admin's one typed line


def build(connection: psycopg.Connection[Any]) -> dict[str, tuple[str, str, str]]:
    """Three coordinators, one study with four event definitions, 60 participants, 150 events
    (most ahead, scheduled; some stopped or skipped; a few removed), forms at past events."""
    real.run_ddl(connection, FIXTURE)
    ex = connection.execute
    rng = random.Random(317)
    today = date.today()
    for sid, name in ((1, "available"), (5, "removed"), (7, "auto-removed")):
        ex("INSERT INTO status (status_id, name, description) VALUES (%s, %s, %s)", (sid, name, name))
    for sid, name in EVENT_STATUS:
        ex("INSERT INTO subject_event_status (subject_event_status_id, name, description) VALUES (%s, %s, %s)",
           (sid, name, name.replace("_", " ")))
    for uid, first, last in ((1, "Root", "User"), (2, "Sanne", "de Vries"), (3, "Pieter", "Bakker")):
        ex("INSERT INTO user_account (user_id, user_name, passwd, first_name, last_name, email, status_id, "
           "owner_id, date_created, phone, user_type_id) VALUES (%s, %s, 'x', %s, %s, %s, 1, 1, %s, %s, 2)",
           (uid, f"{first.lower()}", first, last, f"{first.lower()}@trialsite.example.org", today - timedelta(days=500),
            f"+3120555{uid:04d}"))
    ex("INSERT INTO study (study_id, name, unique_identifier, status_id, owner_id, date_created, oc_oid) "
       "VALUES (1, 'Heart Failure Follow-up', 'HF-2025', 1, 1, %s, 'S_HF2025')", (today - timedelta(days=400),))
    for did, name in DEFINITIONS:
        ex("INSERT INTO study_event_definition (study_event_definition_id, study_id, name, repeating, type, "
           "owner_id, status_id, date_created, ordinal, oc_oid) VALUES (%s, 1, %s, false, 'scheduled', 1, 1, %s, "
           "%s, %s)", (did, name, today - timedelta(days=400), did, f"SE_{did}"))
    for p in range(1, 61):
        ex("INSERT INTO subject (subject_id, status_id, date_of_birth, gender, unique_identifier, date_created, "
           "owner_id, dob_collected) VALUES (%s, 1, %s, %s, %s, %s, 2, true)",
           (p, date(1950 + p % 30, 1 + p % 12, 1 + p % 27), "mf"[p % 2], f"NL-{900000 + p}",
            today - timedelta(days=300 - p)))
        ex("INSERT INTO study_subject (study_subject_id, label, subject_id, study_id, status_id, enrollment_date, "
           "date_created, owner_id, oc_oid) VALUES (%s, %s, %s, 1, 1, %s, %s, 2, %s)",
           (p, f"HF-{p:03d}", p, today - timedelta(days=300 - p), today - timedelta(days=300 - p), f"SS_HF{p:03d}"))
    expected: dict[str, tuple[str, str, str]] = {}
    now = datetime.now(UTC).replace(tzinfo=None)
    for e in range(1, 151):
        p = 1 + e % 60
        ahead = e % 5 != 0
        day = today + timedelta(days=1 + e % 30) if ahead else today - timedelta(days=3 + e % 80)
        start = datetime(day.year, day.month, day.day, 8 + e % 8, 30 * (e % 2))
        word = rng.choices(["scheduled", "stopped", "skipped"], [85, 8, 7])[0] if ahead else "completed"
        removed = e % 23 == 0
        ex("INSERT INTO study_event (study_event_id, study_event_definition_id, study_subject_id, location, "
           "sample_ordinal, date_start, date_end, owner_id, status_id, date_created, date_updated, update_id, "
           "subject_event_status_id, start_time_flag, end_time_flag) VALUES (%s, %s, %s, %s, 1, %s, %s, %s, %s, %s, "
           "%s, %s, %s, true, true)",
           (e, 1 + e % 4, p, "Cardiology outpatient clinic", start, start + timedelta(minutes=45), 2 + e % 2,
            5 if removed else 1, today - timedelta(days=40), today - timedelta(days=e % 7), 2,
            dict((n, i) for i, n in EVENT_STATUS)[word], ))
        if not ahead:
            ex("INSERT INTO event_crf (study_event_id, crf_version_id, date_interviewed, interviewer_name, "
               "completion_status_id, status_id, owner_id, date_created, study_subject_id, date_completed) "
               "VALUES (%s, 1, %s, 'Sanne de Vries', 2, 1, 2, %s, %s, %s)",
               (e, day, day, p, start + timedelta(hours=1)))
        utc = start.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC).replace(tzinfo=None)
        if ahead and not removed and utc > now:
            expected[str(e)] = (utc.isoformat() + "Z", WORDS[word], str(p))
    return expected


@pytest.mark.postgres
def test_openclinica_de_identified_participants_cannot_be_reminded(postgres_url: str, tmp_path: Path,
                                                                   cli: Any) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        expected = build(connection)
    settings = real.settings_file(tmp_path, ZONE, "NL")
    run = cli(settings)
    # discover asks whether times are UTC (no change stamp has a clock): a Java server's local time
    _, out, _ = run("discover", postgres_url, "--stored-times", "local", "--write", expect=1)
    print(out)
    errors = [line for line in out.splitlines() if ": error: " in line]
    assert any("error: patient.phone, patient.email: only 0 of" in e for e in errors), out
    assert any("error: practitioner.external_id: none of the" in e for e in errors), out  # a coordinator is no doctor
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["patient.external_id"] == {"from": "study_subject_id"} and "patient.name" not in fields, fields
    # the admin's answer to discover's one question: a stopped visit (the participant left) is called off
    assert real.words_mapped(real.mapping_file(tmp_path), {"stopped": "cancelled"}) == 1
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    assert set(found) == set(expected), sorted(set(found) ^ set(expected))
    wrong = {k: (found[k]["start"], found[k]["status"], (found[k].get("patient") or {}).get("id"))
             for k, want in expected.items()
             if (found[k]["start"], found[k]["status"], (found[k].get("patient") or {}).get("id")) != want}
    assert not wrong, list(wrong.items())[:5]
    # the visit's kind is its definition's name; the definitions' constant ``type`` ("scheduled") is no kind
    assert fields["type"] == {"from": "study_event_definition_name"}, fields.get("type")
    kinds = dict(DEFINITIONS)
    assert [k for k in expected if found[k].get("type") != kinds[1 + int(k) % 4]] == []
