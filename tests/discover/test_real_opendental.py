"""`discover` on the real shape of Open Dental in MariaDB (tests/fixtures/ehr/opendental, with its
SOURCE note), the dental practice-management system most US offices run. What it has: every key
a ``bigint`` named ``…Num`` and no declared foreign key; ``AptDateTime`` the office's wall clock;
no length column but ``Pattern``, a string of 'X' (provider time) and '/' (assistant time), one
character per 5 minutes; ``AptStatus`` a ``tinyint`` of its ApptStatus enum (1 Scheduled,
2 Complete, 3 UnschedList, 5 Broken, 6 Planned, 7/8 patient notes) with no table of its names
anywhere in the database; ``Confirmed`` a number into ``definition`` (category 2: 'Not Called',
'Unconfirmed', 'Appointment Confirmed', 'Arrived' …, the confirmation, never the visit's status);
``Op`` into ``operatory`` (the chair the visit is in); the patient's ``FName``/``LName`` beside a
``Preferred`` nickname, three phones (``WirelessPhone``, ``HmPhone``, ``WkPhone``) typed as the
desk types them and ``TxtMsgOk`` (a 0/1/2 YN enum: the SMS consent, no phone). Driven as the admin
would: once recognized (the preset), once named by its table (what discover does with a version
or a fork it does not recognize), ``discover --write`` (which runs ``check``), ``sync --once``,
every field of every visit compared."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.discover import real_ehr_support as real

ZONE, REGION = "America/Denver", "US"
FIXTURE = real.FIXTURES / "opendental" / "schema.sql"
# ApptStatus (OpenDentBusiness): what a correct import makes of each number on the schedule.
STATUS = {1: "booked", 2: "fulfilled", 3: "cancelled", 5: "cancelled"}
# (ProvNum, Abbr, FName, LName, IsHidden, IsSecondary): two dentists, two hygienists, two hidden.
PROVIDERS = [(1, "DOC1", "Maria", "Alvarez", 0, 0), (2, "DOC2", "James", "Okafor", 0, 0),
             (3, "HYG1", "Lena", "Brooks", 0, 1), (4, "HYG2", "Tomas", "Reyes", 0, 1),
             (5, "DOCOLD", "Harold", "Whitfield", 1, 0), (6, "TEMP", "Casey", "Nguyen", 1, 1)]
OPERATORIES = [(1, "Op 1", "OP1", 1, 0, 0), (2, "Op 2", "OP2", 2, 0, 0), (3, "Hyg 1", "HY1", 0, 3, 1),
               (4, "Hyg 2", "HY2", 0, 4, 1), (5, "Op 5 (old)", "OP5", 5, 0, 0)]
TYPES = [(1, "New Patient Exam", "/XXXXXXXX/"), (2, "Recall", "/XXXXXX/"), (3, "Crown Prep", "//XXXXXXXXXXXX//"),
         (4, "Emergency", "/XXXX/"), (5, "Filling", "/XXXXXX//")]
PROCS = ["PerEx, Pro, 4BW", "CompEx, FMX", "PFM#14, BU", "Comp-2S#19", "LimEx, PA", "SRP-UL, SRP-UR"]
CONFIRMED = [(20, "Not Called"), (21, "Unconfirmed"), (22, "Appointment Confirmed"), (23, "Left Msg"),
             (24, "Arrived"), (25, "Ready to go back"), (26, "In Treatment"), (27, "Front Desk")]
OTHER_DEFS = [(40, 13, "Called - No Answer"), (41, 13, "Wants Call Back"), (42, 25, "Lunch"),
              (43, 25, "Staff Meeting"), (44, 4, "Standard Account"), (45, 10, "Check")]
GIVEN = [("Robert", "Bob"), ("Elizabeth", "Liz"), ("Michael", ""), ("Jennifer", "Jen"), ("David", ""),
         ("Katherine", "Kate"), ("Christopher", "Chris"), ("Maria", ""), ("Daniel", "Danny"), ("Ashley", ""),
         ("Joshua", ""), ("Samantha", "Sam"), ("William", "Bill"), ("Emily", "")]
FAMILY = ["Johnson", "Martinez", "Nguyen", "Thompson", "Garcia", "Miller", "Lopez", "Anderson", "Wilson", "Clark",
          "Hernandez", "Young"]
PATIENTS, VISITS, PAST = 80, 150, 40
LOOK_BACK = timedelta(days=1)  # the SQL connector's window.back by default
EDGE = timedelta(minutes=10)  # a sync read within this of the build may take or leave a visit at the window's start
RECENT = frozenset(str(3000 + n) for n in range(8))  # yesterday's visits: in the window or not by the hour


def _typed(e164: str, n: int) -> str:
    """A US number as a front desk types it (Open Dental formats ten digits as '(303)555-0142')."""
    d = e164[2:]
    return (f"({d[:3]}){d[3:6]}-{d[6:]}", f"{d[:3]}-{d[3:6]}-{d[6:]}", d, f"({d[:3]}) {d[3:6]}-{d[6:]}")[n % 4]


def _patients(cursor: Any, rng: random.Random) -> dict[int, dict[str, Any]]:
    """Eighty patients: a cell phone for most, a home or a work line beside or instead of it, none
    for some; an e-mail for two in three; a nickname for some; TxtMsgOk 0 Unknown, 1 Yes, 2 No."""
    people: dict[int, dict[str, Any]] = {}
    rows = []
    for p in range(1, PATIENTS + 1):
        first, preferred = GIVEN[p % len(GIVEN)]
        last = FAMILY[(p * 7) % len(FAMILY)]
        cell = real.valid_number(rng, "+1720", 12) if p % 4 and p % 9 else None
        home = real.valid_number(rng, "+1303", 12) if p % 9 and p % 3 == 0 else None
        work = real.valid_number(rng, "+1303", 12) if p % 9 and p % 5 == 0 else None
        email = f"{first.lower()}.{last.lower()}{p}@example.com" if p % 3 else None
        consent = (0, 1, 1, 2)[p % 4] if cell else 0
        rows.append((p, last, first, preferred, _typed(cell, p) if cell else "", _typed(home, p + 1) if home else "",
                     _typed(work, p + 2) if work else "", email or "", consent, 1 + p % 2,
                     f"{100 + p} {('Pine', 'Oak', 'Elm')[p % 3]} St", "Denver", "CO", f"802{p % 90:02d}",
                     f"{rng.randrange(10**9):09d}", str(1000 + p)))
        people[p] = {"name": f"{first} {last}", "phone": cell or home or work, "email": email}
    real.insert_rows(cursor, "INSERT INTO patient (PatNum, LName, FName, Preferred, WirelessPhone, HmPhone, WkPhone, "
                             "Email, TxtMsgOk, PriProv, Address, City, State, Zip, SSN, ChartNumber) VALUES "
                             "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    return people


def _settings(cursor: Any) -> None:
    """The office's lists: providers, operatories, the clinic, definitions, appointment types."""
    real.insert_rows(cursor, "INSERT INTO provider (ProvNum, Abbr, FName, LName, IsHidden, IsSecondary, ItemOrder) "
                             "VALUES (%s, %s, %s, %s, %s, %s, %s)", [(*p, n) for n, p in enumerate(PROVIDERS)])
    real.insert_rows(cursor, "INSERT INTO operatory (OperatoryNum, OpName, Abbrev, ProvDentist, ProvHygienist, "
                             "IsHygiene, IsHidden, ItemOrder) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                     [(*o, int(o[0] == 5), n) for n, o in enumerate(OPERATORIES)])
    cursor.execute("INSERT INTO clinic (ClinicNum, Description, Abbr, Address, City, State, Zip, Phone) VALUES "
                   "(1, 'Front Range Family Dental', 'FRFD', '1200 Colfax Ave', 'Denver', 'CO', '80218', "
                   "'3035550100')")
    real.insert_rows(cursor, "INSERT INTO definition (DefNum, Category, ItemOrder, ItemName) VALUES (%s, %s, %s, %s)",
                     [(d, 2, n, name) for n, (d, name) in enumerate(CONFIRMED)]
                     + [(d, c, n, name) for n, (d, c, name) in enumerate(OTHER_DEFS)])
    real.insert_rows(cursor, "INSERT INTO appointmenttype (AppointmentTypeNum, AppointmentTypeName, Pattern, "
                             "ItemOrder) VALUES (%s, %s, %s, %s)", [(*t, n) for n, t in enumerate(TYPES)])


def _chair(n: int) -> int:
    """The operatory of visit ``n`` (its index in OPERATORIES): the day's rows go chair by chair."""
    return (n // 4) % 4


def _schedule(today: datetime, patterns: list[str]) -> list[datetime]:
    """Each visit's start as a front desk books a chair: yesterday's and the coming days' visits
    four in a row per chair from 8:00, each starting when the one before ends (its pattern's
    characters x 5 minutes), a lunch hour after the second; a year of past visits before."""
    starts = []
    for n, pattern in enumerate(patterns):
        if n >= VISITS:
            starts.append(today - timedelta(days=3 + n % 300, hours=-8 - n % 9, minutes=-10 * (n % 6)))
            continue
        day = today - timedelta(days=1) if n < 8 else today + timedelta(days=1 + (n // 16) * 3)
        if n % 4 == 0:
            starts.append(day + timedelta(hours=8, minutes=10 * _chair(n)))
        else:
            before = starts[-1] + timedelta(minutes=5 * len(patterns[n - 1]))
            starts.append(before + timedelta(hours=1) if n % 4 == 2 else before)
    return starts


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The schema, the office and its rows; per visit in the sync window every field the store
    must hold. Besides: a year of completed and broken visits before the window, planned
    appointments (no date: never on the schedule) and patient notes on the schedule."""
    real.run_ddl(cursor, FIXTURE)
    rng = random.Random(5203)
    _settings(cursor)
    people = _patients(cursor, rng)
    clinic = ZoneInfo(ZONE)
    now = datetime.now(clinic).replace(tzinfo=None, second=0, microsecond=0)
    today = now.replace(hour=0, minute=0)
    truth: dict[str, dict[str, Any]] = {}
    rows = []
    kinds = [TYPES[n % len(TYPES)] if n % 7 else None for n in range(VISITS + PAST)]
    patterns = [k[2] if k and n % 3 else rng.choice(["/XXXX/", "//XXXXXX//", "/XX/", "/XXXXXXXXXXXX/"])
                for n, k in enumerate(kinds)]
    starts = _schedule(today, patterns)
    for n in range(VISITS + PAST):
        past = n >= VISITS
        start, kind, pattern = starts[n], kinds[n], patterns[n]
        # done or broken before today; ahead: scheduled, some broken or sent to the unscheduled list
        status = (2 if n % 6 else 5) if past or n < 8 else rng.choices([1, 5, 3], [86, 8, 6])[0]
        op = OPERATORIES[_chair(n)]
        hygiene = op[5] == 1
        provider = 5 if past and n % 5 == 0 else 1 + n % 2
        hygienist = (6 if past and n % 4 == 0 else op[4]) if hygiene else 0
        patient = 1 + (n * 13) % PATIENTS
        confirmed = (27 if status == 2 else 21) if past or n < 8 else CONFIRMED[n % 4][0]
        proc = PROCS[n % len(PROCS)] if n % 11 else ""
        aptnum = 3000 + n
        rows.append((aptnum, patient, status, pattern, confirmed, op[0], provider, hygienist, start, proc,
                     kind[0] if kind else 0, int(hygiene), start - timedelta(days=20 + n % 30),
                     int(n % 17 == 0), "" if n % 5 else "Pt prefers morning appts"))
        if past or start < now - LOOK_BACK + EDGE:  # before the window (or at its edge: either way)
            continue
        doctor = PROVIDERS[provider - 1]
        truth[str(aptnum)] = {
            "start": start.replace(tzinfo=clinic).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (start + timedelta(minutes=5 * len(pattern))).replace(tzinfo=clinic).astimezone(UTC)
            .strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": STATUS[status], "patient": str(patient), **people[patient], "doctor": str(provider),
            "doctor_name": f"{doctor[2]} {doctor[3]}", "doctor_email": None, "zone": ZONE, "location": op[1],
            "type": kind[1] if kind else (proc or None)}
    real.insert_rows(cursor, "INSERT INTO appointment (AptNum, PatNum, AptStatus, Pattern, Confirmed, Op, ProvNum, "
                             "ProvHyg, AptDateTime, ProcDescript, AppointmentTypeNum, IsHygiene, SecDateTEntry, "
                             "IsNewPatient, Note) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                     rows)
    never = datetime(1, 1, 1)
    real.insert_rows(cursor, "INSERT INTO appointment (AptNum, PatNum, AptStatus, Pattern, Op, ProvNum, AptDateTime, "
                             "ProcDescript, Note) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                     [(9000 + k, 1 + k * 3, 6, "/XXXX/", 0, 1, never, "Crn#3", "") for k in range(6)]  # planned
                     + [(9100 + k, 2 + k * 5, 7 + k % 2, "/X/", 1 + k % 2, 1, today + timedelta(days=2 + k, hours=12),
                         "", "Pt called re: billing") for k in range(4)])  # notes on the schedule
    return truth


FIELDS = ("start", "end", "status", "patient", "name", "phone", "email", "doctor", "doctor_name", "doctor_email",
          "zone", "location", "type")


def scores(found: dict[str, dict[str, Any]], truth: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Per field, how many visits the store holds right (every field of FIELDS is in the truth)."""
    return real.scores(found, truth)


def want(truth: dict[str, Any]) -> real.Want:
    return (truth["start"], truth["status"], truth["patient"], truth["name"], truth["phone"], truth["doctor"])



def _compare(run: Any, connector: dict[str, Any], truth: dict[str, dict[str, Any]],
             extra: frozenset[str] = frozenset()) -> dict[str, int]:
    """`sync --once`, then every field of every visit compared with the truth; per field, how
    many visits are right. ``extra``: the rows the store may hold beyond the visits, void."""
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["connectors"][connector["name"]]["error"] is None, out
    found = real.data.stored(run)
    assert set(found) - set(truth) - RECENT == extra, sorted(set(found) - set(truth))
    assert {found[k]["status"] for k in extra} <= {"entered-in-error"}
    right = scores(found, truth)
    print("scores", right, "of", len(truth))
    return right


@pytest.mark.mariadb
def test_open_dental_recognized_every_field_of_every_visit(mariadb_database: dict[str, Any], tmp_path: Path,
                                                           cli: Any) -> None:
    """Recognized by its tables: the preset reads every field of every visit in the window, the
    chair (operatory) as the location; no planned appointment nor patient note is read."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"])])
    assert connector["query_preset"] == "opendental"
    assert _compare(run, connector, truth) == dict.fromkeys(FIELDS, len(truth))


# What the admin types when discover, reading the shape, says AptStatus's numbers are the
# product's and names none (ApptStatus: 1 Scheduled, 2 Complete, 3 UnschedList, 5 Broken,
# 6 Planned, 7 PtNote, 8 PtNoteCompleted): the numbers that are no visit as entered-in-error.
STATUS_LINES = {"1": "booked", "2": "fulfilled", "3": "cancelled", "5": "cancelled", "6": "entered-in-error",
                "7": "entered-in-error", "8": "entered-in-error"}


@pytest.mark.mariadb
def test_open_dental_by_its_shape_every_field_of_every_visit(mariadb_database: dict[str, Any], tmp_path: Path,
                                                             cli: Any) -> None:
    """Named by its table (a version or a fork discover does not recognize): the patient's and
    the doctor's names from ``FName``/``LName`` (never ``Preferred``), the cell phone
    (``WirelessPhone``) before the home and work lines, the length from ``Pattern`` (its
    characters x the 5 minutes the back-to-back visits of a chair say), the chair by ``Op``,
    the zone the clinic's.

    What the database alone cannot say, and discover says so: what AptStatus's numbers mean
    (`check` quarantines every row until the admin types them: seven lines); that 7 and 8 are
    notes on the schedule, no visit (the admin's entered-in-error: stored void, never reminded);
    and, for the visits with no appointment type, the procedure summary ``ProcDescript`` ('PerEx,
    Pro, 4BW') as their type (the preset reads it; by shape the type is the appointment type's
    name alone)."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    before = settings.read_text(encoding="utf-8")
    command = [str(mariadb_database["url"]), "--table", "appointment"]
    _, out, _ = run("discover", *command, "--write", expect=1)
    assert "'AptStatus' holds numbers (1, 2, 3, 5, 6, 7, 8) that no table of the database names" in out, out
    assert "would be quarantined (reasons: status x" in out, out
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    assert "CHAR_LENGTH(a.`Pattern`) * 5 AS length_minutes" in connector["query"]
    mapping = real.mapping_file(tmp_path)
    assert real.words_mapped(mapping, STATUS_LINES) == len(STATUS_LINES)
    _, out, _ = run("check")
    assert "0 would be quarantined, 0 problems" in out, out
    assert real.data.admin_lines(before, command, edits=len(STATUS_LINES)) <= 20
    fields = yaml.safe_load(mapping.read_text(encoding="utf-8"))["fields"]
    assert fields["patient.name"] == {"concat": ["Pat_FName", "Pat_LName"]}, fields
    assert fields["patient.phone"]["from"][0] == "Pat_WirelessPhone", fields
    assert fields["location"] == {"from": "operatory_OpName"}, fields
    right = _compare(run, connector, truth, frozenset({"9100", "9101", "9102", "9103"}))
    untyped = sum(1 for t in truth.values() if t["type"] in PROCS)  # the procedure summary: none by shape
    assert right == {**dict.fromkeys(FIELDS, len(truth)), "type": len(truth) - untyped}, right
