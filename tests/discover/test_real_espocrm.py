"""`discover` on the real shape of EspoCRM's meetings used as a small practice's calendar, in
MariaDB (tests/fixtures/ehr/espocrm, with its SOURCE note: reconstructed from the product's
entityDefs metadata). What it has: 17-character text keys and references with no declared
foreign key; the patient as a contact, linked as an attendee row (`contact_meeting`, with a
companion on a few meetings and removed attendees kept as deleted rows) and, on most meetings,
as the polymorphic parent (`parent_type` 'Contact' + `parent_id`; others name an 'Account');
`deleted` 0/1 on every row; status words 'Planned', 'Held', 'Not Held'; the doctor as
`assigned_user_id` -> `user`; phones only in the shared `phone_number` table reached through the
polymorphic `entity_phone_number` (`entity_type` 'Contact' / 'User', `entity_id`, `primary`), the
number row carrying `type` ('Mobile', 'Office'), `invalid` and `opt_out`; every date-time in UTC.
Driven as the admin would: six settings lines, ``discover --write`` (which runs ``check``), the
CRM's status words mapped, ``sync --once``, every visit compared."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data

ZONE = "America/Chicago"
REGION = "US"
WORDS = {"Planned": "booked", "Held": "fulfilled", "Not Held": "cancelled"}
DOCTORS = [("Emily", "Carter"), ("Raj", "Patel"), ("Grace", "Nguyen")]
FIRST = ["James", "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Chloe"]
LAST = ["Johnson", "Miller", "Davis", "Garcia", "Rodriguez", "Wilson", "Anderson", "Thomas"]
CONTACTS, VISITS = 60, 130
BACK = timedelta(days=1)


class _Ids:
    """EspoCRM's ids: 17 hex characters that grow with the time they were made (uniqid-like)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng, self.at = rng, 0x6500000000000

    def __call__(self) -> str:
        self.at += 1 + self.rng.randrange(5000)
        return f"{self.at:013x}{self.rng.randrange(16**4):04x}"


def typed(e164: str, style: int) -> str:
    """A US number as the desk types it."""
    d = e164[2:]
    return (f"({d[:3]}) {d[3:6]}-{d[6:]}", f"{d[:3]}-{d[3:6]}-{d[6:]}", f"+1 {d[:3]} {d[3:6]} {d[6:]}",
            f"1{d}")[style % 4]


def build(cursor: Any, attendees: bool = True) -> dict[str, real.Want]:
    """The CRM's rows: doctors as users, patients as contacts with their phone rows, visits as
    meetings; what the store must then hold per visit in the window. Not ``attendees``: the desk
    files each meeting under its patient (the parent) and invites no one; an Account's meeting
    then names no patient."""
    real.load_schema(cursor, "espocrm")
    rng = random.Random(8316)
    new_id = _Ids(rng)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0, second=0)
    old = now - timedelta(days=600)
    admin = new_id()
    doctor_ids = [new_id() for _ in DOCTORS]
    users = [(admin, "admin", "admin", None, "Admin")]
    users += [(u, f"{f[0].lower()}{last.lower()}", "regular", f, last)
              for u, (f, last) in zip(doctor_ids, DOCTORS, strict=True)]
    real.insert_rows(cursor, "INSERT INTO `user` (id, user_name, type, first_name, last_name, created_at, "
                             "modified_at, deleted, is_active) VALUES (%s, %s, %s, %s, %s, %s, %s, 0, 1)",
                     [(*u, old, old) for u in users])
    numbers, owners = [], []  # phone_number rows; entity_phone_number rows
    for u in doctor_ids:  # the doctors' office lines: a User's, never a patient's
        pid, office = new_id(), real.valid_number(rng, "+1312", 12)
        numbers.append((pid, typed(office, 0), "Office", office[1:], 0, 0))
        owners.append((u, pid, "User", 1, 0))
    contact_ids, people, contacts = [], {}, []
    for c in range(CONTACTS):
        cid = new_id()
        contact_ids.append(cid)
        first, last = FIRST[c % len(FIRST)], LAST[c * 3 % len(LAST)]
        contacts.append((cid, "Mr." if c % 2 else "Ms.", first, last, doctor_ids[c % len(doctor_ids)],
                         old + timedelta(days=c), old + timedelta(days=c + 2), admin, admin))
        mobile, office = real.valid_number(rng, "+1773", 12), real.valid_number(rng, "+1312", 12)
        rows = [(new_id(), typed(mobile, c), "Mobile", mobile[1:], int(c % 17 == 5), int(c % 13 == 7))]
        if c % 3 == 0:  # an office line beside it; on some contacts it is the primary
            rows.append((new_id(), typed(office, c + 1), "Office", office[1:], 0, 0))
        primary = 1 if len(rows) == 2 and c % 2 == 0 else 0
        numbers += rows
        owners += [(cid, r[0], "Contact", int(i == primary), 0) for i, r in enumerate(rows)]
        if c % 10 == 4:  # a number removed from the contact: its link row stays, deleted
            gone = real.valid_number(rng, "+1773", 12)
            numbers.append((pid := new_id(), typed(gone, 0), "Mobile", gone[1:], 0, 0))
            owners.append((cid, pid, "Contact", 0, 1))
        first_pick = rows[primary]
        usable = [r for r in [first_pick, *rows] if not r[4] and not r[5]]
        phone = "+" + usable[0][3] if usable else None  # never an invalid or opted-out number
        people[cid] = (f"{first} {last}", phone)
    real.insert_rows(cursor, "INSERT INTO contact (id, salutation_name, first_name, last_name, assigned_user_id, "
                             "created_at, modified_at, created_by_id, modified_by_id, deleted, do_not_call) "
                             "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 0, 0)", contacts)
    real.insert_rows(cursor, "INSERT INTO phone_number (id, name, type, `numeric`, invalid, opt_out, deleted) "
                             "VALUES (%s, %s, %s, %s, %s, %s, 0)", numbers)
    real.insert_rows(cursor, "INSERT INTO entity_phone_number (entity_id, phone_number_id, entity_type, `primary`, "
                             "deleted) VALUES (%s, %s, %s, %s, %s)", owners)
    meetings, links, invitees, expected = [], [], [], {}
    held = [at for h in range(1, 23) if 8 <= (at := now - timedelta(hours=h)).replace(tzinfo=UTC).astimezone(
        ZoneInfo(ZONE)).hour < 17 and at - (now - BACK) > timedelta(minutes=45)]  # the past day's office hours
    for v in range(VISITS):
        mid = new_id()
        doctor = doctor_ids[v % len(doctor_ids)]
        patient = contact_ids[rng.randrange(CONTACTS)]
        word = "Planned" if v % 6 else ("Held", "Not Held")[v // 6 % 2]
        start = (held[v % len(held)] if word == "Held" else
                 now.replace(hour=14, minute=0) + timedelta(days=1 + v % 28, minutes=30 * (v % 16)))
        minutes = 30 if v % 4 else 60
        deleted = int(v % 19 == 18)  # removed in the CRM: in the table, never imported
        made = now - timedelta(days=1 + v % 10, minutes=v)
        parent = ("Contact", patient) if v % 5 else ("Account", new_id())
        meetings.append((mid, f"Visit {people[patient][0].split()[0]}", deleted, word, start,
                         start + timedelta(minutes=minutes), start.date(), parent[1], parent[0], doctor, admin,
                         admin, made, made + timedelta(hours=v % 5)))
        links.append((patient, mid, "Accepted" if v % 3 else "None", 0))
        if v % 15 == 0:  # a companion (a child's parent) invited too
            links.append((contact_ids[(contact_ids.index(patient) + 1) % CONTACTS], mid, "None", 0))
        if v % 11 == 0:  # an attendee removed later: its row stays, deleted
            links.append((contact_ids[(contact_ids.index(patient) + 2) % CONTACTS], mid, "None", 1))
        invitees.append((doctor, mid, "Accepted", 0))
        if not deleted and (attendees or parent[0] == "Contact"):
            name, phone = people[patient]
            expected[mid] = (start.isoformat() + "Z", WORDS[word], patient, name, phone, doctor)
    real.insert_rows(cursor, "INSERT INTO meeting (id, name, deleted, status, date_start, date_end, date_start_date, "
                             "parent_id, parent_type, assigned_user_id, created_by_id, modified_by_id, created_at, "
                             f"modified_at, is_all_day) VALUES ({', '.join(['%s'] * 14)}, 0)", meetings)
    real.insert_rows(cursor, "INSERT INTO contact_meeting (contact_id, meeting_id, status, deleted) "
                             "VALUES (%s, %s, %s, %s)", links if attendees else [])
    real.insert_rows(cursor, "INSERT INTO meeting_user (user_id, meeting_id, status, deleted) "
                             "VALUES (%s, %s, %s, %s)", invitees)
    return expected


@pytest.mark.mariadb
def test_espocrm_meetings_text_ids_parent_and_typed_phone_links(mariadb_database: dict[str, Any], tmp_path: Path,
                                                                cli: Any) -> None:
    """The patient from the attendee rows, the one the meeting's polymorphic parent names first
    (never the parent itself: on an Account's meeting it is no contact, and its joined name read
    as a guardian's); the phone through the typed link, the primary first, never an invalid or
    opted-out number; a deleted meeting or attendee row left out; the doctor the assigned user.
    The status words are asked (as SuiteCRM's and Vtiger's), the UTC clock is given."""
    expected, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    before = settings.read_text(encoding="utf-8")
    command = [str(mariadb_database["url"]), "--stored-times", "utc"]  # EspoCRM keeps UTC: nothing says so
    _, out, _ = run("discover", *command, "--write", expect=1)  # 1: the unknown words' visits would be quarantined
    print(out)
    assert "'Held'" in out and "'Not Held'" in out and "unknown: give it a status" in out  # asked, never guessed
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    query = connector["query"]
    fields = real.written_mapping(tmp_path)["fields"]
    # the patient: the live attendee row, the parent's contact first where the parent is a Contact
    assert "FROM contact_meeting AS cs_l WHERE cs_l.meeting_id = a.id AND COALESCE(cs_l.deleted, 0) = 0" in query
    assert "ORDER BY CASE WHEN (a.parent_type = 'Contact' AND a.parent_id = cs_l.contact_id) THEN 0" in query
    assert "'parent_id' names a row of the table its 'parent_type' says (a polymorphic reference)" in out
    assert fields["patient.name"] == {"concat": ["patient_first_name", "patient_last_name"]}
    assert "parent_first_name" not in query  # the parent is not joined as a person
    # the phone: the contact's rows of entity_phone_number, none invalid or opted out, the primary first
    assert "COALESCE(cs_h.invalid, 0) = 0 AND COALESCE(cs_h.opt_out, 0) = 0" in query, query
    assert "none marked unusable (phone_number.'invalid', phone_number.'opt_out')" in out
    assert fields["practitioner.name"] == {"concat": ["doctor_first_name", "doctor_last_name"]}
    assert "COALESCE(a.deleted, 0) = 0" in query
    edits = real.words_mapped(real.mapping_file(tmp_path), WORDS)
    # getting-started's six settings lines, the URL, the clock answer, a line a word
    assert data.admin_lines(before, command, edits) == 10
    _, checked, _ = run("check")
    assert "0 would be quarantined, 0 problems" in checked and "(100%) have a doctor" in checked, checked
    found = real.sync_and_compare(run, connector, expected, ZONE)
    wrong = {k for k, want in expected.items() if real.wrong_fields(found.get(k), want, ZONE)}
    assert not wrong, sorted(wrong)[:5]  # every visit right, the companions' meetings too


@pytest.mark.mariadb
def test_espocrm_meetings_filed_under_their_contact_only(mariadb_database: dict[str, Any], tmp_path: Path,
                                                         cli: Any) -> None:
    """No attendee rows: the polymorphic parent is the patient, joined only where `parent_type`
    is 'Contact' (an Account's meeting names no patient and is never imported as one), its
    contact's name taken as the patient's (not a guardian's by the column's word 'parent')."""
    expected, settings, run = real.admin_start(mariadb_database, lambda cursor: build(cursor, attendees=False),
                                               tmp_path, ZONE, REGION, cli)
    command = [str(mariadb_database["url"]), "--stored-times", "utc"]
    _, out, _ = run("discover", *command, "--write", expect=1)
    print(out)
    query = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]["query"]
    assert "LEFT JOIN contact AS t1 ON t1.id = a.parent_id AND a.parent_type = 'Contact'" in query, query
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["patient.external_id"] == {"from": "patient_id"}
    assert fields["patient.name"] == {"concat": ["contact_first_name", "contact_last_name"]}, fields
    real.words_mapped(real.mapping_file(tmp_path), WORDS)
    _, checked, _ = run("check", expect=None)
    print(checked)
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    real.sync_and_compare(run, connector, expected, ZONE)
