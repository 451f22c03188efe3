"""`discover` on the real shape of SuiteCRM 7's meetings used as a clinic's calendar, in MariaDB
(tests/fixtures/ehr/suitecrm, with its SOURCE note: reconstructed from the product's vardefs).
What it has that nothing else here had: char(36) uuid keys and references with NO declared
foreign key (found by values); the patient only as an attendee row of the meeting
(`meetings_contacts`; a meeting with a companion too has two, and with random uuid keys no key
says which is the patient: discover takes the lowest contact id and says so, and the visits where
that is the companion count as wrong here); the length as
`duration_hours` + `duration_minutes` beside `date_end`; `deleted` 0/1 on every row (meetings,
attendee rows); the doctor as `assigned_user_id` -> `users`; the contact's email only through the
polymorphic `email_addr_bean_rel` (`bean_module` + `bean_id`: followed by its values); the product stores every
date-time in UTC. Driven as the admin would: ``discover --write``, the CRM's status words mapped,
``sync --once``, every visit compared."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data

ZONE = "Europe/Madrid"
WORDS = {"Planned": "booked", "Held": "fulfilled", "Not Held": "cancelled"}
DOCTORS = [("Lucía", "Romero"), ("Javier", "Navarro"), ("Marta", "Gil"), ("Pablo", "Serrano")]
FIRST = ["Ana", "Carlos", "Elena", "Diego", "Laura", "Miguel", "Sofía", "Jorge", "Paula"]
LAST = ["García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Fernández"]
CONTACTS, VISITS = 60, 150


def _ids(rng: random.Random, n: int) -> list[str]:
    """``n`` uuids as SuiteCRM writes them (create_guid: 36 characters), in key order."""
    return sorted(str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n))


def build(cursor: Any, phones: bool = True) -> dict[str, real.Want]:
    """The CRM's rows: doctors as users, patients as contacts, visits as meetings; not
    ``phones``: the desk kept only the contacts' emails (in email_addr_bean_rel)."""
    real.load_schema(cursor, "suitecrm")
    rng = random.Random(7)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0, second=0)
    old = now - timedelta(days=700)
    admin, *doctor_ids = _ids(rng, 1 + len(DOCTORS))
    users = [(admin, "admin", None, "Administrator", None, 1, "Active")]
    users += [(u, f"{f[0].lower()}{last.lower()}", f, last, f"+34 91 555 01 {i:02d}", 0, "Active")
              for i, (u, (f, last)) in enumerate(zip(doctor_ids, DOCTORS, strict=True))]
    real.insert_rows(cursor, "INSERT INTO users (id, user_name, first_name, last_name, phone_work, is_admin, status, "
                             "employee_status, date_entered, date_modified, deleted) "
                             "VALUES (%s, %s, %s, %s, %s, %s, %s, 'Active', %s, %s, 0)",
                     [(*u, old, old) for u in users])
    contact_ids = _ids(rng, CONTACTS)
    rng.shuffle(contact_ids)
    people: dict[str, tuple[str, str | None]] = {}
    contacts = []
    for c, cid in enumerate(contact_ids):
        first, last = FIRST[c % len(FIRST)], LAST[c * 5 % len(LAST)]
        digits = f"6{10000000 + c * 7919 % 89999999:08d}"
        mobile = (f"{digits[:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}", f"+34 {digits}", digits)[c % 3] \
            if c % 8 and phones else None
        people[cid] = (f"{first} {last}", "+34" + digits if mobile else None)
        contacts.append((cid, old, old + timedelta(days=c), admin, 0, doctor_ids[c % len(doctor_ids)], "Sr." if c % 2
                         else "Sra.", first, last, mobile, "+34 91 000 00 00" if c % 5 == 0 and phones else None))
    real.insert_rows(cursor, "INSERT INTO contacts (id, date_entered, date_modified, created_by, deleted, "
                             "assigned_user_id, salutation, first_name, last_name, phone_mobile, phone_work) "
                             "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", contacts)
    email_ids, rel_ids = _ids(rng, CONTACTS + len(users)), _ids(rng, CONTACTS + len(users))
    owners = [(cid, "Contacts", f"{people[cid][0].split()[0].lower()}.{i}@correo.es") for i, cid in
              enumerate(contact_ids)] + [(u[0], "Users", f"{u[1]}@clinica.es") for u in users]
    real.insert_rows(cursor, "INSERT INTO email_addresses (id, email_address, email_address_caps, invalid_email, "
                             "opt_out, date_created, date_modified, deleted) VALUES (%s, %s, %s, 0, 0, %s, %s, 0)",
                     [(e, mail, mail.upper(), old, old) for e, (_, _, mail) in zip(email_ids, owners, strict=True)])
    real.insert_rows(cursor, "INSERT INTO email_addr_bean_rel (id, email_address_id, bean_id, bean_module, "
                             "primary_address, reply_to_address, date_created, date_modified, deleted) "
                             "VALUES (%s, %s, %s, %s, 1, 0, %s, %s, 0)",
                     [(r, e, bean, module, old, old)
                      for r, e, (bean, module, _) in zip(rel_ids, email_ids, owners, strict=True)])
    meeting_ids = _ids(rng, VISITS)
    rng.shuffle(meeting_ids)
    meetings, links, invitees, expected = [], [], [], {}
    shuffled = _ids(rng, 3 * VISITS)
    rng.shuffle(shuffled)
    link_ids = iter(shuffled)  # random uuids, as the CRM's: no key order says who was invited first
    for v, mid in enumerate(meeting_ids):
        doctor = doctor_ids[v % len(doctor_ids)]
        patient = contact_ids[rng.randrange(CONTACTS)]
        word = "Planned" if v % 6 else ("Held", "Not Held")[v // 6 % 2]
        start = (now - timedelta(hours=3 + v % 10) if word == "Held" else
                 now.replace(hour=8, minute=0) + timedelta(days=1 + v % 28, minutes=30 * (v % 16)))
        hours, minutes = (0, 30) if v % 4 else (1, 0)
        deleted = int(v % 25 == 24)  # removed in the CRM: in the table, never imported
        made = now - timedelta(days=1 + v % 10, minutes=v)  # the desk booked it in the last days
        meetings.append((mid, f"Consulta {people[patient][0].split()[0]}", made, made + timedelta(hours=v % 5), admin,
                         admin, deleted, doctor, "Consulta 2", hours, minutes, start,
                         start + timedelta(hours=hours, minutes=minutes), word))
        links.append((next(link_ids), mid, patient, "accept" if v % 3 else "none", made, 0))
        if v % 15 == 0:  # a companion (a child's parent) invited too: which is the patient no key says
            links.append((next(link_ids), mid, contact_ids[(contact_ids.index(patient) + 1) % CONTACTS], "none",
                          made, 0))
        if v % 11 == 0:  # an attendee removed later: its row stays, deleted
            links.append((next(link_ids), mid, contact_ids[(contact_ids.index(patient) + 2) % CONTACTS], "none",
                          made, 1))
        invitees.append((next(link_ids), mid, doctor, "accept", made, 0))
        if not deleted:
            name, phone = people[patient]
            expected[mid] = (start.isoformat() + "Z", WORDS[word], patient, name, phone, doctor)
    real.insert_rows(cursor, "INSERT INTO meetings (id, name, date_entered, date_modified, modified_user_id, "
                             "created_by, deleted, assigned_user_id, location, duration_hours, duration_minutes, "
                             f"date_start, date_end, status, type) VALUES ({', '.join(['%s'] * 14)}, 'Sugar')",
                     meetings)
    real.insert_rows(cursor, "INSERT INTO meetings_contacts (id, meeting_id, contact_id, required, accept_status, "
                             "date_modified, deleted) VALUES (%s, %s, %s, '1', %s, %s, %s)", links)
    real.insert_rows(cursor, "INSERT INTO meetings_users (id, meeting_id, user_id, required, accept_status, "
                             "date_modified, deleted) VALUES (%s, %s, %s, '1', %s, %s, %s)", invitees)
    return expected



@pytest.mark.mariadb
def test_suitecrm_meetings_uuid_attendees_and_deleted_rows(mariadb_database: dict[str, Any], tmp_path: Path,
                                                           cli: Any) -> None:
    expected, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, "ES", cli)
    # SuiteCRM keeps every date-time in UTC, which nothing in the database says: the admin answers
    command = [str(mariadb_database["url"]), "--stored-times", "utc"]
    _, out, _ = run("discover", *command, "--write", expect=1)
    print(out)
    assert "'Held'" in out and "'Not Held'" in out and "unknown: give it a status" in out  # asked, never guessed
    mapping_path = next((tmp_path / "mappings").glob("*.yaml"))
    mapping = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))
    fields = mapping["fields"]
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    query = connector["query"]
    assert fields["start"] == {"from": "date_start"} and fields["end"] == {"from": "date_end"}
    assert fields["duration_minutes"] == {"from": "length_minutes"}  # duration_hours x 60 + duration_minutes
    assert "duration_hours: a time with no date" not in out  # a part of the length, no clock time
    assert "COALESCE(a.deleted, 0) = 0" in query  # a meeting deleted in the CRM is never imported
    # the patient: the first live attendee row; a removed attendee's row (deleted 1) is passed over
    assert "FROM meetings_contacts AS cs_l WHERE cs_l.meeting_id = a.id AND COALESCE(cs_l.deleted, 0) = 0" in query
    assert fields["patient.phone"] == {"from": "patient_phone"} and "t1.phone_mobile AS patient_phone" in query
    # the doctor: the user each meeting is assigned to, found by its uuid values (no foreign key)
    assert "assigned_user_id" in str(fields["practitioner.external_id"]) or "assigned_user_id" in query
    assert fields["practitioner.name"] == {"concat": ["doctor_first_name", "doctor_last_name"]}
    # the email, only in email_addr_bean_rel: its 'Contacts' rows name the contact (by bean_id), primary first
    assert fields["patient.email"] == {"from": "patient_email"}
    assert "cs_r.bean_module = 'Contacts'" in query and "CASE WHEN COALESCE(cs_r.primary_address, 0) <> 0" in query
    assert "table 'email_addr_bean_rel' links rows of any table by 'bean_module' and 'bean_id'" in out
    edits = real.words_mapped(mapping_path, WORDS)
    # beyond getting-started's six-line settings file: the URL, the clock answer, a line a word
    assert data.admin_lines("", command, edits) == 4
    _, checked, _ = run("check")
    assert "0 would be quarantined, 0 problems" in checked, checked
    found = real.sync_and_compare(run, connector, expected, ZONE)
    assert {k for k, v in found.items() if v["status"] == "cancelled"} == \
        {k for k, want in expected.items() if want[1] == "cancelled"}


@pytest.mark.mariadb
def test_suitecrm_with_emails_only_reminds_by_email(mariadb_database: dict[str, Any], tmp_path: Path,
                                                   cli: Any) -> None:
    """The same CRM where contacts have no phone: their emails sit only behind the polymorphic
    email_addr_bean_rel, which discover follows (its 'Contacts' rows, by bean_id): no empty
    phone column is placed, every visit can be reminded by email, and `check` passes."""
    _, _, run = real.admin_start(mariadb_database, lambda cursor: build(cursor, phones=False), tmp_path, ZONE, "ES",
                                 cli)
    run("discover", str(mariadb_database["url"]), "--stored-times", "utc", "--write", expect=1)
    mapping_path = next((tmp_path / "mappings").glob("*.yaml"))
    fields = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))["fields"]
    assert "patient.phone" not in fields  # no values: left out
    assert fields["patient.email"] == {"from": "patient_email"}
    real.words_mapped(mapping_path, WORDS)
    _, checked, _ = run("check")
    assert "0 problems" in checked and "(100%) upcoming visits can be reminded" in checked, checked
