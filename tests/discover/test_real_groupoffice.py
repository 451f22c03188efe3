"""`discover` on the real shape of Group-Office's calendar in MariaDB (tests/fixtures/ehr/groupoffice,
with its SOURCE note), a groupware a practice keeps its diary in, a product the project had never
met. What it has: an event a ``cal_events`` row (``start_time``/``end_time`` Unix seconds, the
user's ``timezone``, ``name``, ``location``, an iCalendar status word, ``rrule`` text, empty on a
single event, as Group-Office's ``Rrule::createRrule`` writes it: ``FREQ=WEEKLY;BYDAY=TU`` with
``UNTIL=`` a local date-time or ``COUNT=``), a session taken out of a series or moved a
``cal_exceptions`` row (``event_id``, ``time`` the session's original start), a moved session its
own event naming the series (``exception_for_event_id``, ``recurrence_id``); the calendar a
``cal_calendars`` row of its user (``core_user``: the doctor); who takes part ``cal_participants``
rows (the organizer the doctor, ``is_organizer`` 1; the patient with name, email, status and the
address-book contact it came from, ``contact_id``); the contact's phone numbers and emails
``addressbook_phone_number`` and ``addressbook_email_address`` rows. Driven as the admin would:
``discover --write`` (which runs ``check``), then ``sync --once``, every stored visit compared
field by field with the truth (matched by its start)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.discover import real_ehr_support as real

ZONE, REGION = "Europe/Berlin", "DE"
FIXTURE = real.FIXTURES / "groupoffice" / "schema.sql"
DOCTORS = [("a.weber", "Dr. Anna Weber"), ("j.keller", "Dr. Jonas Keller"), ("m.yilmaz", "Dr. Mira Yilmaz")]
GIVEN = ["Lena", "Paul", "Emma", "Felix", "Sofia", "Noah", "Mia", "Elias", "Hannah", "Luca", "Aylin", "Tom"]
FAMILY = ["Schneider", "Fischer", "Becker", "Hoffmann", "Schulz", "Koch", "Richter", "Wolf", "Demir"]
EVENT = {"CONFIRMED": "booked", "TENTATIVE": "booked", "CANCELLED": "cancelled"}
PATIENTS, VISITS = 30, 48


def _key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Office:
    """The practice's Group-Office: its users (the doctors), their calendars and contacts, the patients."""

    def __init__(self, cursor: Any, rng: random.Random, now: datetime) -> None:
        self.cursor, self.rng, self.now = cursor, rng, now
        self.stamp = int((now - timedelta(days=30)).timestamp())
        self.doctors: list[tuple[int, int, str, str]] = []  # user id, calendar id, name, email
        for login, name in [("admin", "System Administrator"), *DOCTORS]:
            email = f"{login}@praxis-mitte.example"
            user = real.insert_row(cursor, "core_user", {
                "username": login, "displayName": name, "email": email, "recoveryEmail": email,
                "createdAt": now - timedelta(days=400), "modifiedAt": now - timedelta(days=10),
                "lastLogin": now - timedelta(hours=3), "timezone": ZONE, "language": "de", "homeDir": f"users/{login}"})
            given, _, family = name.replace("Dr. ", "").partition(" ")
            contact = real.insert_row(cursor, "addressbook_contact", {
                "addressBookId": 1, "createdBy": 1, "createdAt": now - timedelta(days=400),
                "modifiedAt": now - timedelta(days=10), "goUserId": user, "firstName": given, "lastName": family,
                "name": name, "uid": f"{uuid.UUID(int=rng.getrandbits(128))}@praxis-mitte.example"})
            real.insert_row(cursor, "addressbook_email_address", {"contactId": contact, "type": "work", "email": email})
            if login == "admin":
                continue
            calendar = real.insert_row(cursor, "cal_calendars", {"group_id": 1, "user_id": user, "acl_id": 10 + user,
                                                         "name": name, "files_folder_id": 0})
            self.doctors.append((user, calendar, name, email))
        self.patients: list[tuple[int, str, str, str | None]] = []  # contact id, name, E.164, email
        for n in range(PATIENTS):
            given, family = GIVEN[n % len(GIVEN)], FAMILY[(n * 5) % len(FAMILY)]
            e164 = real.valid_number(rng, "+4915", 14)
            email = f"{given.lower()}.{family.lower()}{n}@mail.example" if n % 3 else None
            contact = real.insert_row(cursor, "addressbook_contact", {
                "addressBookId": 2, "createdBy": 2, "createdAt": now - timedelta(days=200 - n),
                "modifiedAt": now - timedelta(days=20), "firstName": given, "lastName": family,
                "name": f"{given} {family}", "uid": f"{uuid.UUID(int=rng.getrandbits(128))}@praxis-mitte.example"})
            national = "0" + e164[3:]
            real.insert_row(cursor, "addressbook_phone_number", {"contactId": contact, "type": "mobile",
                                                         "number": (national, f"{national[:4]} {national[4:]}",
                                                                    f"+49 {e164[3:6]} {e164[6:]}")[n % 3]})
            if n % 4 == 0:
                real.insert_row(cursor, "addressbook_phone_number", {"contactId": contact, "type": "work",
                                                             "number": f"030 {rng.randrange(1_000_000, 9_999_999)}"})
            if email:
                real.insert_row(cursor, "addressbook_email_address",
                                {"contactId": contact, "type": "home", "email": email})
            self.patients.append((contact, f"{given} {family}", e164, email))

    def event(self, doctor: tuple[int, int, str, str], patient: tuple[int, str, str, str | None], start: datetime,
              minutes: int, name: str, status: str = "CONFIRMED", reply: str = "NEEDS-ACTION", **extra: Any) -> int:
        user, calendar, doctor_name, doctor_email = doctor
        event = real.insert_row(self.cursor, "cal_events", {
            "uuid": str(uuid.UUID(int=self.rng.getrandbits(128))), "calendar_id": calendar, "user_id": user,
            "start_time": int(start.timestamp()), "end_time": int((start + timedelta(minutes=minutes)).timestamp()),
            "timezone": ZONE, "name": name, "location": "Praxis Mitte", "ctime": self.stamp,
            "mtime": self.stamp + self.rng.randrange(0, 86400), "muser_id": 2, "status": status,
            "files_folder_id": 0, **extra})
        real.insert_row(self.cursor, "cal_participants", {"event_id": event, "name": doctor_name, "email": doctor_email,
                                                  "user_id": user, "status": "ACCEPTED", "is_organizer": 1})
        contact, patient_name, _, email = patient
        real.insert_row(self.cursor, "cal_participants", {"event_id": event, "name": patient_name, "email": email or "",
                                                  "contact_id": contact, "status": reply})
        return event


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The practice, its patients, singles and weekly series; the truth per visit, by UTC start."""
    real.run_ddl(cursor, FIXTURE)
    rng = random.Random(4711)
    zone = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    office = Office(cursor, rng, now)
    today = now.astimezone(zone).date()
    truth: dict[str, dict[str, Any]] = {}

    def want(start: datetime, minutes: int, doctor: tuple[int, int, str, str],
             patient: tuple[int, str, str, str | None], status: str = "booked") -> None:
        truth[_key(start)] = {"end": _key(start + timedelta(minutes=minutes)), "status": status,
                              "name": patient[1], "phone": patient[2], "email": patient[3],
                              "doctor_name": doctor[2], "doctor_email": doctor[3]}

    for n in range(VISITS):
        doctor, patient = office.doctors[n % 3], office.patients[(n * 7) % PATIENTS]
        day = today + timedelta(days=1 + n // 4)
        start = datetime(day.year, day.month, day.day, 8 + n % 8, (0, 20, 40)[n % 3], tzinfo=zone)
        minutes = (20, 30, 45)[n % 3]
        word = "CANCELLED" if n % 13 == 4 else "TENTATIVE" if n % 11 == 2 else "CONFIRMED"
        office.event(doctor, patient, start, minutes, "Kontrolle", word)
        want(start, minutes, doctor, patient, EVENT[word])
    # weekly physiotherapy until a date (UNTIL local, as Group-Office writes it), one session
    # taken out (a cal_exceptions row alone) and one moved to the next day (an exception and its event)
    doctor, patient = office.doctors[1], office.patients[3]
    first = today + timedelta(days=2)
    week = [datetime(first.year, first.month, first.day, 7, 30, tzinfo=zone) + timedelta(weeks=k) for k in range(6)]
    week = [w.replace(tzinfo=None).replace(tzinfo=zone) for w in week]
    until = week[-1].replace(hour=23, minute=59, second=0)
    series = office.event(doctor, patient, week[0], 30, "Physiotherapie",
                          rrule=f"FREQ=WEEKLY;BYDAY={week[0].strftime('%a')[:2].upper()};UNTIL={until:%Y%m%dT%H%M%S}",
                          repeat_end_time=int(until.timestamp()))
    real.insert_row(cursor, "cal_exceptions", {"event_id": series, "time": int(week[2].timestamp()), "user_id": 2,
                                       "ctime": office.stamp, "mtime": office.stamp})
    moved = week[3].replace(hour=11) + timedelta(days=1)
    exception = office.event(doctor, patient, moved, 30, "Physiotherapie", exception_for_event_id=series,
                             recurrence_id=week[3].strftime("%Y%m%d"))
    real.insert_row(cursor, "cal_exceptions", {"event_id": series, "time": int(week[3].timestamp()),
                                       "exception_event_id": exception, "user_id": 2, "ctime": office.stamp,
                                       "mtime": office.stamp})
    for k, start in enumerate(week):
        if k != 2:
            want(moved if k == 3 else start, 30, doctor, patient)
    # weekly therapy of ten sessions (COUNT) across whatever the window holds, begun three weeks ago
    doctor, patient = office.doctors[2], office.patients[8]
    begun = today - timedelta(weeks=3) + timedelta(days=3)
    start = datetime(begun.year, begun.month, begun.day, 16, 30, tzinfo=zone)
    office.event(doctor, patient, start, 50, "Psychotherapie", rrule=f"FREQ=WEEKLY;BYDAY="
                 f"{start.strftime('%a')[:2].upper()};COUNT=10")
    for k in range(10):
        at = (start.replace(tzinfo=None) + timedelta(weeks=k)).replace(tzinfo=zone)
        if at > now:
            want(at, 50, doctor, patient)
    # a weekly series without end, cancelled: each session a cancelled visit
    doctor, patient = office.doctors[0], office.patients[11]
    day = today + timedelta(days=5)
    start = datetime(day.year, day.month, day.day, 12, 0, tzinfo=zone)
    office.event(doctor, patient, start, 30, "Ergotherapie", "CANCELLED",
                 rrule=f"FREQ=WEEKLY;BYDAY={start.strftime('%a')[:2].upper()}")
    horizon = now + timedelta(days=180)
    for k in range(30):
        at = (start.replace(tzinfo=None) + timedelta(weeks=k)).replace(tzinfo=zone)
        if at < horizon:
            want(at, 30, doctor, patient, "cancelled")
    return truth


def test_on_mariadb(mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    """The six settings lines and ``discover --write``, then every visit right on each field."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    code, out, err = run("discover", str(mariadb_database["url"]), "--write", expect=None)
    print(code, out, err, settings.read_text(encoding="utf-8"),
          *(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")))
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    by_start = {v["start"]: v for v in found.values()}
    keyed = {k: {**by_start[k], "start": k} for k in truth if k in by_start}
    scores = real.scores(keyed, {k: {**t, "start": k} for k, t in truth.items()})
    print("fields right of", len(truth), scores, "stored", len(found), "not in truth",
          sorted(set(by_start) - set(truth)))
    assert code == 0 and "0 problems" in out, (code, out, err)
    # every field right: the patient is the participant who is not the organizer, its phone read
    # from the contact it names (addressbook_phone_number: rows without a key, the mobile first)
    assert all(right == len(truth) for right in scores.values()), scores
    assert len(found) == len(truth) and set(by_start) == set(truth), sorted(set(by_start) ^ set(truth))
