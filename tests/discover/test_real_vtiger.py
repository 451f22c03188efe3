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
import re
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
def test_vtiger_meetings_reach_their_owner_user_and_leave_calls_out(mariadb_database: dict[str, Any],
                                                                     tmp_path: Path, cli: Any) -> None:
    """Every Meeting the CRM keeps is imported right: its start (the DATE with the 'HH:MM' text),
    its patient through the link rows, the name, the phone in E.164, and its doctor, the owner
    user on the shared crmentity row (`smownerid` -> `vtiger_users`, matched by its values: no
    key is declared), with the doctor's name and email, so `check` passes with the agendas on;
    never the row's creator or modifier (`smcreatorid`, `modifiedby`). The activity deleted in
    the CRM (its crmentity row's `deleted` = 1, the activity row untouched) is left out through
    the same join. The calls, which name their contact through the link rows like a visit, are
    left out by their kind, and the tasks (no link row) by theirs (`activitytype`, the kind word
    glued to another). Measured on the 150 activities built here (113 Meetings live in the day
    window): before the rule, 0 of 113 visits right (no doctor on any: `check` exited 1 on it)
    and 20 calls imported beside them (133 stored); after it, 113 of 113 right, no call stored,
    `check` exit 0 once the CRM's two status words are mapped; the admin's lines 9 both times
    (six of settings, the URL, the two status words)."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    url = str(mariadb_database["url"])
    command = [url]  # a day and a time of day kept apart: read as the clinic's wall clock, not asked
    _, out, _ = run("discover", *command, "--write", expect=1)  # the CRM's own status words, unmapped yet
    assert "kept apart, as a diary keeps them" in out, out
    print(out)
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    query = connector["query"]
    shared = re.search(r"LEFT JOIN vtiger_crmentity AS (e\d+) ON \1\.crmid = a\.activityid", query)
    assert shared is not None and query.count("JOIN vtiger_crmentity AS") == 1, query  # owner and flag: one join
    assert f"COALESCE({shared[1]}.deleted, 0) = 0" in query, query
    assert f"= {shared[1]}.smownerid" in query, query
    assert "appointments whose vtiger_crmentity row (the same key: the record's shared row) is deleted" in out
    assert "holds the user it is assigned to ('smownerid')" in out, out
    assert "'smcreatorid', 'modifiedby' record who created or changed the row, never the doctor" in out, out
    assert "user_password" not in query and "accesskey" not in query, query
    assert "'activitytype' mixes event kinds: 'Task' (12 rows, none naming the patient) are no visits" in out
    assert "'Call' (21 rows, 21 naming someone) are phone calls logged against the contact" in out, out
    assert re.search(r"would be quarantined \(reasons: status x\d+\), 0 problems", out), out  # only the words
    assert "(100%) have a doctor" in out, out
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["practitioner.email"] == {"from": "doctor_email1"}, fields
    edits = real.words_mapped(real.mapping_file(tmp_path), WORDS)
    lines = data.admin_lines(settings.read_text(encoding="utf-8").split("connectors:")[0], command, edits)
    assert lines <= 9, lines  # the six lines of settings, the URL, two status words
    _, checked, _ = run("check")  # exit 0: every visit reaches a doctor, every status word is mapped
    assert "0 would be quarantined, 0 problems" in checked, checked
    run("sync", "--once", "--json", expect=None)
    found = data.stored(run)
    deleted = {k for k, t in truth.items() if t["deleted"]}
    assert not set(found) & deleted
    visits = expected(truth, "in_day_window")  # the window is on the DATE column: whole days
    assert set(found) == set(visits), sorted({truth[k]["kind"] for k in set(found) ^ set(visits)})  # no call
    wrong = {k: w for k, want in visits.items() if (w := real.wrong_fields(found[k], want, ZONE))}
    print(f"figures: {len(visits) - len(wrong)} of {len(visits)} visits right, {lines} admin lines")
    assert not wrong, wrong
    emails = {str(u): f"{f.lower()}.{last.lower()}@praxis.example.de" for u, f, last in DOCTORS}
    assert all(found[k]["practitioner"]["email"] == emails[truth[k]["doctor_id"]] for k in visits)
    assert all(found[k]["practitioner"]["name"] == " ".join(d[1:]) for k in visits
               for d in DOCTORS if str(d[0]) == truth[k]["doctor_id"])
