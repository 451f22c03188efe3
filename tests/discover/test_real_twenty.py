"""`discover` on the real shape of Twenty CRM in PostgreSQL (tests/fixtures/ehr/twenty, reconstructed
from its entity definitions, with its SOURCE note), a CRM a clinic can keep its calendar in: the
tables live in one schema per workspace (`workspace_<id>`) beside `core`, with quoted camelCase
columns. A visit is a `calendarEvent` (`startsAt` timestamptz, `isCanceled` a boolean, `deletedAt`
a soft delete); its people are `calendarEventParticipant` child rows: the organizer
(`isOrganizer`) is a `workspaceMember`, the doctor; the other participant a `person`, the patient,
whose phone is split in `phonesPrimaryPhoneNumber` (national) and `phonesPrimaryPhoneCallingCode`.
A few events have two patients (the one with the lowest person key is the one reminded). No foreign keys declared.
Driven as the admin would: ``discover --write`` (which runs ``check``), then ``sync --once``.

What discover must read (asserted below): every visit right (119 of 119, was 0): the doctor
the member the organizer's participant row names; the patient's participant reply
(`responseStatus`: ACCEPTED, TENTATIVE, NEEDS_ACTION) as the patient's answer, never the visit's
status; a cancelled event (`isCanceled`) kept as cancelled, a trashed one (`deletedAt`) never
stored; `check` passes with nothing to ask."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data

ZONE = "Europe/London"
REGION = "GB"
WS = "workspace_1wgvd1injqtife6y4rvfbu3h5"
DOCTORS = [("Imogen", "Hart"), ("Rahul", "Mehta"), ("Siobhan", "Kelly")]
FIRST = ["Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Mia", "Noah", "Freya"]
LAST = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Davies", "Evans"]
PATIENTS, EVENTS = 50, 130


def key(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build(connection: psycopg.Connection[Any]) -> tuple[dict[str, real.Want], set[str]]:
    """The workspace's rows; what the store must hold (by event id) and the events it must not."""
    real.run_ddl(connection, real.FIXTURES / "twenty" / "schema.sql")
    rng = random.Random(2026)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    members = []
    for first, last in DOCTORS:
        member = key(rng)
        connection.execute(f'INSERT INTO {WS}."workspaceMember" (id, "nameFirstName", "nameLastName", "userEmail", '
                           '"userId", "timeZone") VALUES (%s, %s, %s, %s, %s, %s)',
                           (member, first, last, f"{first.lower()}@riverside.example.org", key(rng), ZONE))
        members.append((member, f"{first} {last}", f"{first.lower()}@riverside.example.org"))
    people = []
    for n in range(PATIENTS):
        person, first, last = key(rng), FIRST[n % len(FIRST)], LAST[(n * 3) % len(LAST)]
        mobile = real.valid_number(rng, "+447911", 13)
        deleted = now - timedelta(days=3) if n % 23 == 22 else None
        connection.execute(f'INSERT INTO {WS}.person (id, "nameFirstName", "nameLastName", "emailsPrimaryEmail", '
                           '"phonesPrimaryPhoneNumber", "phonesPrimaryPhoneCountryCode", '
                           '"phonesPrimaryPhoneCallingCode", "phonesAdditionalPhones", "deletedAt", "createdAt") '
                           "VALUES (%s, %s, %s, %s, %s, 'GB', '+44', '[]', %s, %s)",
                           (person, first, last, f"{first.lower()}{n}@mail.example.org", mobile[3:], deleted,
                            now - timedelta(days=200 + n)))
        people.append((person, f"{first} {last}", mobile, deleted is not None))
    truth: dict[str, real.Want] = {}
    gone: set[str] = set()
    for n in range(EVENTS):
        event = key(rng)
        start = (now + timedelta(days=1 + n % 20)).replace(hour=9 + n % 8, minute=30 * (n % 2))
        cancelled, trashed = n % 9 == 0, n % 17 == 16
        member, doctor_name, doctor_email = members[n % 3]
        connection.execute(f'INSERT INTO {WS}."calendarEvent" (id, title, "isCanceled", "startsAt", "endsAt", '
                           '"externalCreatedAt", location, "conferenceLinkPrimaryLinkUrl", "deletedAt", '
                           '"createdAt", "updatedAt") VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)',
                           (event, "Consultation", cancelled, start, start + timedelta(minutes=20),
                            now - timedelta(days=10), "Room 2", "" if n % 4 else "https://meet.example.org/x",
                            now - timedelta(days=1) if trashed else None, now - timedelta(days=10),
                            now - timedelta(days=n % 9)))
        connection.execute(f'INSERT INTO {WS}."calendarEventParticipant" ("calendarEventId", handle, "displayName", '
                           '"isOrganizer", "responseStatus", "workspaceMemberId") VALUES (%s, %s, %s, true, '
                           "'ACCEPTED', %s)", (event, doctor_email, doctor_name, member))
        chosen = rng.sample(range(PATIENTS), 2 if n % 10 == 5 else 1)
        rows = sorted(((key(rng), people[p]) for p in chosen), key=lambda r: r[0])
        for participant, (person, name, _, _) in rows:
            connection.execute(f'INSERT INTO {WS}."calendarEventParticipant" (id, "calendarEventId", handle, '
                               '"displayName", "isOrganizer", "responseStatus", "personId") VALUES (%s, %s, %s, %s, '
                               "false, %s, %s)", (participant, event, f"p{person[:6]}@mail.example.org", name,
                                                  rng.choice(["NEEDS_ACTION", "ACCEPTED", "TENTATIVE"]), person))
        person, name, phone, deleted = min((r[1] for r in rows), key=lambda p: p[0])  # the lowest person key
        if trashed or deleted:
            gone.add(event)
            continue
        truth[event] = (start.strftime("%Y-%m-%dT%H:%M:%SZ"), "cancelled" if cancelled else "booked", person, name,
                        phone, member)
    return truth, gone


@pytest.mark.postgres
def test_twenty_calendar_events_through_discover_check_and_sync(database: str, tmp_path: Path, cli: Any) -> None:
    """Records where discover stands on this shape: the admin's lines, check's exit, and how many
    of the window's visits the store holds right (printed: BEFORE/AFTER figures of the report)."""
    with psycopg.connect(database, autocommit=True) as connection:
        truth, gone = build(connection)
    settings = real.settings_file(tmp_path, ZONE, REGION)
    before = settings.read_text(encoding="utf-8")
    run = cli(settings)
    code, out, err = run("discover", database, "--write", expect=None)
    print("CHECK:", *[line for line in out.splitlines() if ": error: " in line or "problem" in line])
    print(out, err, settings.read_text(encoding="utf-8"),
          *(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")))
    lines = data.admin_lines(before, [database])
    run("sync", "--once", "--json", expect=None)
    found = data.stored(run)
    wrong = {k: real.wrong_fields(found.get(k), want, ZONE) for k, want in truth.items()}
    right = sum(1 for w in wrong.values() if not w)
    fields: dict[str, int] = {}
    for w in wrong.values():
        for f in w:
            fields[f] = fields.get(f, 0) + 1
    print(f"FIGURES: right {right}/{len(truth)}, admin lines {lines}, discover/check exit {code}, "
          f"stored {len(found)}, stored-but-gone {len(set(found) & gone)}, wrong fields {fields}")
    assert lines <= real.ADMIN_LIMIT  # six settings lines and the URL
    assert code == 0 and "0 would be quarantined, 0 problems" in out, out
    assert not set(found) & gone  # a soft-deleted event (deletedAt) or a trashed patient is never stored
    assert set(found) <= set(truth)
    # what it stores is right: time, patient, phone and the organizer's member as the doctor
    assert all(not wrong[k] for k in found), {k: wrong[k] for k in found if wrong[k]}
    assert right == len(truth), right  # was 0 of 119 (no doctor on any visit), then 73 (the RSVP as status)
    fields = yaml.safe_load(next((tmp_path / "mappings").glob("*.yaml")).read_text(encoding="utf-8"))["fields"]
    assert fields["answer"]["map"] == {"ACCEPTED": "confirmed", "TENTATIVE": None, "NEEDS_ACTION": None}, fields
