"""`discover` on the real shape of Vtiger CRM 5.4's calendar used as a clinic's diary, in MariaDB
(tests/fixtures/ehr/vtiger, with its SOURCE note). What it has that nothing else here had: a
SHARED ENTITY ROW. Every record (activity, contact) has a row of `vtiger_crmentity` with the
same key value (`crmid` = `activityid`, a declared foreign key from the activity), and that row,
not the activity, holds the record's `deleted` flag, its owner (`smownerid` -> `vtiger_users`:
the doctor), its change stamps (`createdtime`/`modifiedtime`) and its module (`setype`). The
activity table holds visits beside phone calls and tasks (`activitytype` Meeting/Call/Task);
its start is a DATE (`date_start`) with a varchar clock (`time_start` 'HH:MM'); the status is
`eventstatus` ('Planned', 'Held', 'Not Held'; a task's words in `status`); the patient is a
contact reached through link rows (`vtiger_cntactivityrel`). Driven as the admin would:
``discover --write``, the CRM's status words mapped, ``sync --once``, every visit compared."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data

ZONE = "Europe/Berlin"
REGION = "DE"
WORDS = {"Planned": "booked", "Held": "fulfilled", "Not Held": "cancelled"}
DOCTORS = [(5, "Anna", "Keller"), (6, "Jonas", "Weber"), (7, "Miriam", "Schulz"), (8, "Tobias", "Wagner")]
FIRST = ["Lena", "Paul", "Mia", "Felix", "Hannah", "Lukas", "Emma", "Ben", "Sophie"]
LAST = ["Müller", "Schmidt", "Fischer", "Becker", "Hoffmann", "Koch", "Richter"]
CONTACTS, ACTIVITIES = 60, 150
BACK = timedelta(days=1)
HASH = "$1$ad000000$hzXFXvL3XVlnUE/Cw5YNC/"


def typed(digits: str, style: int) -> str:
    """A German mobile number (without its leading 0) as people type it."""
    return (f"0{digits[:3]} {digits[3:]}", f"+49 {digits[:3]} {digits[3:]}", f"0{digits[:3]}/{digits[3:]}",
            f"0049{digits}", f"0{digits}")[style % 5]


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The CRM's rows: doctors as users, patients as contacts, visits as Meeting activities beside
    calls and tasks; what the store must then hold per activity (visits only)."""
    real.load_schema(cursor, "vtiger")
    rng = random.Random(5413)
    now = datetime.now(ZoneInfo(ZONE)).replace(second=0, microsecond=0)
    wall = now.replace(tzinfo=None)  # the CRM's default_timezone is the clinic's
    old = wall - timedelta(days=500)
    users = [(1, "admin", "", "Administrator", "admin@praxis.example.de", "", "on")]
    users += [(u, f"{f[0].lower()}{last.lower()}", f, last, f"{f.lower()}.{last.lower()}@praxis.example.de",
               f"030 5550 {u:02d}", "off") for u, f, last in DOCTORS]
    real.insert_rows(cursor, "INSERT INTO vtiger_users (id, user_name, user_password, first_name, last_name, email1, "
                             "phone_work, is_admin, status, date_entered, date_modified, crypt_type, time_zone) "
                             "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'Active', %s, %s, 'PHP5.3MD5', %s)",
                     [(u, name, HASH, f, last, mail, phone, admin, old, old, ZONE)
                      for u, name, f, last, mail, phone, admin in users])
    crmid = iter(range(1, 10**6))
    entities, contacts = [], []
    people: dict[int, tuple[str, str | None, str]] = {}
    for c in range(CONTACTS):
        cid = next(crmid)
        first, last = FIRST[c % len(FIRST)], LAST[c * 3 % len(LAST)]
        digits = f"17{rng.randrange(10)}{rng.randrange(10**7):07d}"  # 0170-0179 and seven digits
        mobile = typed(digits, c) if c % 9 else None
        email = f"{first.lower()}.{last.lower()}{c}@mail.example.de"
        people[cid] = (f"{first} {last}", "+49" + digits if mobile else None, email)
        owner = DOCTORS[c % len(DOCTORS)][0]
        entities.append((cid, 1, owner, 1, "Contacts", old + timedelta(days=c), old + timedelta(days=c + 3), 0))
        contacts.append((cid, f"CON{c + 1}", "Frau" if c % 2 else "Herr", first, last, email,
                         f"030 {rng.randrange(10**7):07d}" if c % 4 == 0 else None, mobile))
    activities, links, truth = [], [], {}
    contact_ids = sorted(people)
    for v in range(ACTIVITIES):
        aid = next(crmid)
        kind = "Call" if v % 7 == 3 else "Task" if v % 11 == 5 else "Meeting"
        doctor = DOCTORS[v % len(DOCTORS)][0]
        patient = contact_ids[rng.randrange(CONTACTS)]
        word = "Planned" if v % 6 else ("Held", "Not Held")[v // 6 % 2]
        past = word == "Held"
        day = (wall - timedelta(days=v % 3)).date() if past else (wall + timedelta(days=1 + v % 28)).date()
        start = datetime(day.year, day.month, day.day, 8 + v % 9, 15 * (v % 4))
        minutes = 15 if kind == "Call" else 30 if v % 3 else 60
        end = start + timedelta(minutes=minutes)
        deleted = int(v % 23 == 22)  # removed in the CRM: its crmentity row says so, the activity row does not
        made = wall - timedelta(days=2 + v % 10, minutes=v)
        entities.append((aid, 1, doctor, doctor, "Calendar", made, made + timedelta(hours=v % 5), deleted))
        activities.append((aid, f"Termin {people[patient][0].split()[0]}" if kind == "Meeting" else
                           f"Rückruf {people[patient][0].split()[0]}" if kind == "Call" else "Befunde prüfen",
                           kind, day, end.date(), start.strftime("%H:%M"), end.strftime("%H:%M"),
                           str(minutes // 60), str(minutes % 60),
                           ("Completed" if past else "Not Started") if kind == "Task" else None,
                           None if kind == "Task" else word, "Praxis, Raum 2"))
        if kind != "Task":
            links.append((patient, aid))
        moment = start.replace(tzinfo=ZoneInfo(ZONE))
        name, phone, _ = people[patient]
        truth[str(aid)] = {"visit": kind == "Meeting" and not deleted, "kind": kind, "deleted": deleted,
                           "start": moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "status": WORDS[word], "in_window": moment >= now - BACK + timedelta(minutes=30),
                           "in_day_window": day >= (now - BACK).date(), "patient_id": str(patient),
                           "name": name, "phone": phone, "doctor_id": str(doctor)}
    real.insert_rows(cursor, "INSERT INTO vtiger_crmentity (crmid, smcreatorid, smownerid, modifiedby, setype, "
                             "createdtime, modifiedtime, deleted, presence, version) "
                             "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 1, 0)", entities)
    real.insert_rows(cursor, "INSERT INTO vtiger_contactdetails (contactid, contact_no, salutation, firstname, "
                             "lastname, email, phone, mobile, donotcall, emailoptout) "
                             "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '0', '0')", contacts)
    real.insert_rows(cursor, "INSERT INTO vtiger_contactsubdetails (contactsubscriptionid, leadsource) "
                     "VALUES (%s, 'Empfehlung')", [(c,) for c in contact_ids])
    real.insert_rows(cursor, "INSERT INTO vtiger_activity (activityid, subject, activitytype, date_start, due_date, "
                             "time_start, time_end, duration_hours, duration_minutes, status, eventstatus, location, "
                             "sendnotification, priority, notime, visibility) VALUES (%s, %s, %s, %s, %s, %s, %s, "
                             "%s, %s, %s, %s, %s, '0', 'Medium', '0', 'Public')", activities)
    real.insert_rows(cursor, "INSERT INTO vtiger_activitycf (activityid) VALUES (%s)", [(a[0],) for a in activities])
    real.insert_rows(cursor, "INSERT INTO vtiger_cntactivityrel (contactid, activityid) VALUES (%s, %s)", links)
    return truth


def expected(truth: dict[str, dict[str, Any]], window: str) -> dict[str, real.Want]:
    return {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], t["doctor_id"])
            for k, t in truth.items() if t["visit"] and t[window]}



@pytest.mark.mariadb
def test_vtiger_meetings_deleted_on_their_shared_entity_row(mariadb_database: dict[str, Any], tmp_path: Path,
                                                             cli: Any) -> None:
    """The activity deleted in the CRM (its crmentity row's `deleted` = 1, the activity row
    untouched) is left out of the query and never imported; every stored Meeting has its start
    (the DATE with the 'HH:MM' text), its patient through the link rows, the name and the phone
    in E.164. Not reached yet (the test allows it and `check` must say so): the doctor, the shared
    row's owner (`smownerid`), which no rule follows; the calls, which name their contact through
    the link rows like a visit, may be imported. The
    tasks (no link row) are left out by their kind, a column whose name glues the kind word
    to another (`activitytype`)."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    url = str(mariadb_database["url"])
    command = [url]  # a day and a time of day kept apart: read as the clinic's wall clock, not asked
    _, out, _ = run("discover", *command, "--write", expect=1)
    assert "kept apart, as a diary keeps them" in out, out
    print(out)
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    query = connector["query"]
    assert "LEFT JOIN vtiger_crmentity AS e2 ON e2.crmid = a.activityid" in query, query
    assert "COALESCE(e2.deleted, 0) = 0" in query, query
    assert "appointments whose vtiger_crmentity row (the same key: the record's shared row) is deleted" in out
    # the owner on the shared row is not followed yet: check must then fail, saying visits reach no doctor
    assert "error: practitioner.external_id: none of the" in out
    edits = real.words_mapped(real.mapping_file(tmp_path), WORDS)
    assert data.admin_lines(settings.read_text(encoding="utf-8").split("connectors:")[0], command, edits) <= 10
    run("sync", "--once", "--json", expect=None)
    found = data.stored(run)
    deleted = {k for k, t in truth.items() if t["deleted"]}
    assert not set(found) & deleted
    visits = expected(truth, "in_day_window")  # the window is on the DATE column: whole days
    assert set(visits) <= set(found)
    wrong = {k: real.wrong_fields(found[k], want, ZONE) for k, want in visits.items()}
    assert {f for w in wrong.values() for f in w} <= {"doctor", "status"}, wrong
    kinds = sorted({truth[k]["kind"] for k in set(found) - set(visits)})
    assert set(kinds) <= {"Call"}, kinds  # never a task; a call names its contact like a visit (not told apart yet)
    assert "'activitytype' mixes event kinds: 'Task' (12 rows, none naming the patient) are no visits" in out
