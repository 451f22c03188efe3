"""Rows as Apache OFBiz writes them (tests/fixtures/ehr/ofbiz, with its SOURCE note), for the test
of `discover` on its real shape: a family practice in New York keeping its visits in OFBiz's
calendar. Everyone is a party (``PARTY`` and ``PERSON``); a visit is a ``WORK_EFFORT`` row of
type ``EVENT`` whose ``CURRENT_STATUS_ID`` is ``CAL_TENTATIVE``, ``CAL_CONFIRMED`` or
``CAL_CANCELLED``, its start and end the server's wall clock; who takes part is a
``WORK_EFFORT_PARTY_ASSIGNMENT`` row per party with a role (``CAL_OWNER``: the doctor,
``CAL_ATTENDEE``: the patient) and a validity range (``FROM_DATE``/``THRU_DATE``: a doctor
replaced keeps a row whose ``THRU_DATE`` is set). A party's phone and email are contact
mechanisms: ``CONTACT_MECH`` (the email in ``INFO_STRING``), ``TELECOM_NUMBER`` (the phone in
three parts: country code, area code, number), linked to the party by ``PARTY_CONTACT_MECH``
with its own validity range (a number the patient gave up has a ``THRU_DATE``) and given a
purpose by ``PARTY_CONTACT_MECH_PURPOSE`` (a landline added after the mobile, ``PHONE_HOME``
beside ``PHONE_MOBILE``, leaves the mobile the number to text)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.discover import real_ehr_support as real

ZONE, REGION = "America/New_York", "US"
FIXTURE = real.FIXTURES / "ofbiz" / "schema.sql"
DOCTORS = [("DrSmith", "Helen", "Smith"), ("DrPatel", "Ravi", "Patel"), ("DrGarcia", "Lucia", "Garcia")]
GIVEN = ["Emma", "Liam", "Olivia", "Noah", "Ava", "Mason", "Sophia", "Ethan", "Mia", "Lucas", "Chloe", "James"]
FAMILY = ["Johnson", "Brown", "Miller", "Davis", "Wilson", "Moore", "Taylor", "Anderson", "Thomas", "Clark"]
REASONS = ["Annual physical", "Blood pressure check", "Flu shot", "Follow-up visit", "Lab results review"]
ROOMS = ["Exam room 1", "Exam room 2", "Exam room 3"]
STATUS = {"CAL_TENTATIVE": "booked", "CAL_CONFIRMED": "booked", "CAL_CANCELLED": "cancelled"}
PATIENTS, VISITS = 40, 120
MINUTES = (20, 30, 45)  # a visit's length, its end kept beside its start


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamps(moment: datetime) -> dict[str, datetime]:
    """The four columns OFBiz's entity engine writes on every row."""
    return {"LAST_UPDATED_STAMP": moment, "LAST_UPDATED_TX_STAMP": moment, "CREATED_STAMP": moment,
            "CREATED_TX_STAMP": moment}


# The seed rows OFBiz loads (applications/workeffort/data/WorkEffortTypeData.xml,
# applications/datamodel/data/seed/PartySeedData.xml): (id, type, code, sequence, description).
STATUSES = [
    ("CAL_NEEDS_ACTION", "CALENDAR_STATUS", "NEEDS ACTION", "01", "Needs Action"),
    ("CAL_SENT", "CALENDAR_STATUS", "SENT", "02", "Sent"),
    ("CAL_DECLINED", "CALENDAR_STATUS", "DECLINED", "03", "Declined"),
    ("CAL_DELEGATED", "CALENDAR_STATUS", "DELEGATED", "04", "Delegated"),
    ("CAL_CANCELLED", "CALENDAR_STATUS", "CANCELLED", "05", "Cancelled"),
    ("CAL_ACCEPTED", "TASK_STATUS", "ACCEPTED", "01", "Accepted"),
    ("CAL_COMPLETED", "TASK_STATUS", "COMPLETED", "02", "Completed"),
    ("CAL_TENTATIVE", "EVENT_STATUS", "TENTATIVE", "01", "Tentative"),
    ("CAL_CONFIRMED", "EVENT_STATUS", "CONFIRMED", "02", "Confirmed"),
    ("PRTYASGN_OFFERED", "PRTYASGN_STATUS", "OFFERED", "01", "Offered"),
    ("PRTYASGN_ASSIGNED", "PRTYASGN_STATUS", "ASSIGNED", "02", "Assigned"),
    ("PRTYASGN_UNASSIGNED", "PRTYASGN_STATUS", "UNASSIGNED", "03", "Unassigned"),
    ("PARTY_ENABLED", "PARTY_STATUS", "ENABLED", "01", "Enabled"),
    ("PARTY_DISABLED", "PARTY_STATUS", "DISABLED", "99", "Disabled")]
ROLES = [("CALENDAR_ROLE", None, "Calendar"), ("PERSON_ROLE", None, "Person"), ("CUSTOMER", None, "Customer"),
         ("CAL_ATTENDEE", "CALENDAR_ROLE", "Calendar Attendee"),
         ("CAL_ORGANIZER", "CALENDAR_ROLE", "Calendar Organizer"),
         ("CAL_OWNER", "CALENDAR_ROLE", "Calendar Owner"), ("EMPLOYEE", "PERSON_ROLE", "Employee")]
PURPOSES = [("PHONE_HOME", "Main Home Phone Number"), ("PHONE_WORK", "Main Work Phone Number"),
            ("PHONE_MOBILE", "Main Mobile Phone Number"), ("PRIMARY_PHONE", "Primary Phone Number"),
            ("PRIMARY_EMAIL", "Primary Email Address")]


def _codes(cursor: Any, stamp: datetime) -> None:
    """The seed rows: statuses, roles, work effort types, contact purposes (an empty parent in the
    seed file is stored as NULL by the entity engine)."""
    for status, kind, code, sequence, word in STATUSES:
        real.insert_row(cursor, "STATUS_ITEM", {"STATUS_ID": status, "STATUS_TYPE_ID": kind, "STATUS_CODE": code,
                                                "SEQUENCE_ID": sequence, "DESCRIPTION": word, **_stamps(stamp)})
    for role, parent, word in ROLES:
        real.insert_row(cursor, "ROLE_TYPE", {"ROLE_TYPE_ID": role, "PARENT_TYPE_ID": parent, "HAS_TABLE": "N",
                                              "DESCRIPTION": word, **_stamps(stamp)})
    for kind, word in [("EVENT", "Event"), ("TASK", "Task")]:
        real.insert_row(cursor, "WORK_EFFORT_TYPE", {"WORK_EFFORT_TYPE_ID": kind, "HAS_TABLE": "N",
                                                     "DESCRIPTION": word, **_stamps(stamp)})
    for purpose, word in PURPOSES:
        real.insert_row(cursor, "CONTACT_MECH_PURPOSE_TYPE", {"CONTACT_MECH_PURPOSE_TYPE_ID": purpose, "HAS_TABLE": "N",
                                                              "DESCRIPTION": word, **_stamps(stamp)})


class _Ids:
    """OFBiz's sequence: ids as strings counting from 10000."""

    def __init__(self) -> None:
        self.next = 10000

    def __call__(self) -> str:
        self.next += 1
        return str(self.next)


def _person(cursor: Any, party: str, given: str, family: str, role: str, stamp: datetime) -> None:
    real.insert_row(cursor, "PARTY", {"PARTY_ID": party, "PARTY_TYPE_ID": "PERSON", "STATUS_ID": "PARTY_ENABLED",
                                      "CREATED_DATE": stamp, "CREATED_BY_USER_LOGIN": "admin", **_stamps(stamp)})
    real.insert_row(cursor, "PERSON", {"PARTY_ID": party, "FIRST_NAME": given, "LAST_NAME": family,
                                       **_stamps(stamp)})
    real.insert_row(cursor, "PARTY_ROLE", {"PARTY_ID": party, "ROLE_TYPE_ID": role, **_stamps(stamp)})


def _mech(cursor: Any, ids: _Ids, party: str, purpose: str, since: datetime, until: datetime | None,
          email: str | None = None, phone: str | None = None) -> None:
    """One contact mechanism of ``party`` (an email, or an E.164 US phone split in its parts), its
    link and its purpose valid from ``since`` to ``until`` (None: still)."""
    mech = ids()
    real.insert_row(cursor, "CONTACT_MECH", {"CONTACT_MECH_ID": mech, "INFO_STRING": email, **_stamps(since),
                                             "CONTACT_MECH_TYPE_ID": "EMAIL_ADDRESS" if email else "TELECOM_NUMBER"})
    if phone:
        rest = phone[5:]
        real.insert_row(cursor, "TELECOM_NUMBER", {"CONTACT_MECH_ID": mech, "COUNTRY_CODE": "1",
                                                   "AREA_CODE": phone[2:5], "CONTACT_NUMBER": f"{rest[:3]}-{rest[3:]}",
                                                   **_stamps(since)})
    real.insert_row(cursor, "PARTY_CONTACT_MECH", {"PARTY_ID": party, "CONTACT_MECH_ID": mech, "FROM_DATE": since,
                                                   "THRU_DATE": until, "ALLOW_SOLICITATION": "Y", **_stamps(since)})
    real.insert_row(cursor, "PARTY_CONTACT_MECH_PURPOSE", {"PARTY_ID": party, "CONTACT_MECH_ID": mech,
                                                           "CONTACT_MECH_PURPOSE_TYPE_ID": purpose,
                                                           "FROM_DATE": since, "THRU_DATE": until, **_stamps(since)})


def _assign(cursor: Any, event: str, party: str, role: str, since: datetime, until: datetime | None) -> None:
    real.insert_row(cursor, "WORK_EFFORT_PARTY_ASSIGNMENT", {
        "WORK_EFFORT_ID": event, "PARTY_ID": party, "ROLE_TYPE_ID": role, "FROM_DATE": since, "THRU_DATE": until,
        "STATUS_ID": "PRTYASGN_UNASSIGNED" if until else "PRTYASGN_ASSIGNED", "STATUS_DATE_TIME": since,
        "ASSIGNED_BY_USER_LOGIN_ID": "admin", **_stamps(since)})


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The schema from the fixture, filled; per visit ahead (keyed by its UTC start) every field
    the store must hold."""
    real.run_ddl(cursor, FIXTURE)
    rng = random.Random(6507)
    clinic = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = (now - timedelta(days=400)).astimezone(clinic).replace(tzinfo=None)
    recent = (now - timedelta(days=5)).astimezone(clinic).replace(tzinfo=None)
    _codes(cursor, stamp)
    ids = _Ids()
    for party, given, family in DOCTORS:
        _person(cursor, party, given, family, "EMPLOYEE", stamp)
        _mech(cursor, ids, party, "PHONE_WORK", stamp, None, phone=real.valid_number(rng, "+1212", 12))
        _mech(cursor, ids, party, "PRIMARY_EMAIL", stamp, None, email=f"{given.lower()}@riverside.example")
    patients = []
    for p in range(PATIENTS):
        party, given, family = ids(), GIVEN[p % len(GIVEN)], FAMILY[(p * 3) % len(FAMILY)]
        _person(cursor, party, given, family, "CUSTOMER", stamp)
        phone = real.valid_number(rng, "+1917", 12) if p % 9 != 5 else None
        if p % 4 == 1:  # a number given up: its link and purpose ended
            _mech(cursor, ids, party, "PRIMARY_PHONE", stamp, recent - timedelta(days=30),
                  phone=real.valid_number(rng, "+1718", 12))
        if phone:
            _mech(cursor, ids, party, ("PHONE_MOBILE", "PRIMARY_PHONE")[p % 2],
                  stamp + timedelta(days=1 + p) if p % 4 != 1 else recent - timedelta(days=30), None, phone=phone)
        if phone and p % 10 == 6:  # a landline added since the mobile, both open: the mobile stays the one
            _mech(cursor, ids, party, "PHONE_HOME", recent, None, phone=real.valid_number(rng, "+1212", 12))
        email = f"{given.lower()}.{family.lower()}{p}@mail.example" if p % 3 != 2 else None
        if email:
            _mech(cursor, ids, party, "PRIMARY_EMAIL", stamp, None, email=email)
        patients.append((party, f"{given} {family}", phone, email))
    truth: dict[str, dict[str, Any]] = {}
    today = now.astimezone(clinic).date()
    for n in range(VISITS):
        past = n % 6 == 5
        day = today + timedelta(days=1 + n // 7) if not past else today - timedelta(days=2 + n // 6)
        start = datetime(day.year, day.month, day.day, 9 + (n % 7), (0, 30)[n % 2], tzinfo=clinic)
        wall = start.replace(tzinfo=None)
        created = (now - timedelta(days=20 - n % 10)).astimezone(clinic).replace(tzinfo=None)
        party, name, phone, email = patients[(n * 7) % PATIENTS]
        doctor = DOCTORS[n % len(DOCTORS)]
        status = "CAL_CANCELLED" if n % 13 == 4 else ("CAL_CONFIRMED", "CAL_TENTATIVE")[n % 3 == 0]
        event = ids()
        real.insert_row(cursor, "WORK_EFFORT", {
            "WORK_EFFORT_ID": event, "WORK_EFFORT_TYPE_ID": "EVENT", "CURRENT_STATUS_ID": status,
            "LAST_STATUS_UPDATE": created, "SCOPE_ENUM_ID": "WES_PRIVATE", "PRIORITY": 5,
            "WORK_EFFORT_NAME": f"{REASONS[n % len(REASONS)]} - {name}", "SEND_NOTIFICATION_EMAIL": "N",
            "DESCRIPTION": REASONS[n % len(REASONS)], "LOCATION_DESC": ROOMS[n % len(ROOMS)],
            "ESTIMATED_START_DATE": wall, "ESTIMATED_COMPLETION_DATE": wall + timedelta(minutes=MINUTES[n % 3]),
            "REVISION_NUMBER": 1, "CREATED_DATE": created, "CREATED_BY_USER_LOGIN": "admin",
            "LAST_MODIFIED_DATE": created, "LAST_MODIFIED_BY_USER_LOGIN": "admin", **_stamps(created)})
        if n % 8 == 2:  # the doctor first booked was replaced: the old assignment ended
            gone = DOCTORS[(n + 1) % len(DOCTORS)]
            _assign(cursor, event, gone[0], "CAL_OWNER", created, created + timedelta(days=2))
            _assign(cursor, event, doctor[0], "CAL_OWNER", created + timedelta(days=2), None)
        else:
            _assign(cursor, event, doctor[0], "CAL_OWNER", created, None)
        _assign(cursor, event, party, "CAL_ATTENDEE", created, None)
        if past:
            continue
        truth[_iso(start)] = {
            "id": event, "end": _iso(start + timedelta(minutes=MINUTES[n % 3])), "status": STATUS[status],
            "patient": party, "name": name, "phone": phone, "email": email, "doctor": doctor[0],
            "doctor_name": f"{doctor[1]} {doctor[2]}", "zone": ZONE, "location": ROOMS[n % len(ROOMS)]}
    for n in range(12):  # the practice's other work in the same table: tasks, with a doctor and no patient
        wall = datetime.combine(today + timedelta(days=1 + n), datetime.min.time()).replace(hour=17)
        task = ids()
        real.insert_row(cursor, "WORK_EFFORT", {
            "WORK_EFFORT_ID": task, "WORK_EFFORT_TYPE_ID": "TASK",
            "CURRENT_STATUS_ID": ("CAL_NEEDS_ACTION", "CAL_ACCEPTED", "CAL_COMPLETED")[n % 3],
            "WORK_EFFORT_NAME": ("Restock exam rooms", "Review lab inbox", "Sign referral letters")[n % 3],
            "ESTIMATED_START_DATE": wall, "ESTIMATED_COMPLETION_DATE": wall + timedelta(hours=1),
            "CREATED_DATE": stamp, "CREATED_BY_USER_LOGIN": "admin", **_stamps(stamp)})
        _assign(cursor, task, DOCTORS[n % len(DOCTORS)][0], "CAL_OWNER", stamp, None)
    return truth
