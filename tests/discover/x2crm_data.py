"""Rows as X2CRM writes them (tests/fixtures/ehr/x2crm, with its SOURCE note), for the test of
`discover` on its real shape: a family practice in Chicago keeping its appointment book in the
CRM's calendar. The doctors and the desk are ``x2_users`` rows with their ``x2_profile`` (full
name, email); the patients ``x2_contacts`` (phone as the desk typed it, a second phone, email,
``nameId`` "Name_id"); a visit an ``x2_actions`` row of ``type`` 'event' whose start is
``dueDate`` and end ``completeDate``, both Unix seconds, ``assignedTo`` the doctor's USERNAME
(text, no key), ``associationType`` 'contacts' + ``associationId`` the contact's id (the
polymorphic "about" reference), ``associationName`` the contact's name, ``complete`` 'No'; its
subtype and status in ``x2_action_meta_data`` (Appointment / Confirmed, Cancelled), its words in
``x2_action_text``. Beside the visits: staff meetings (``associationType`` 'calendar', assigned
to 'Anyone'), calls to suppliers' accounts (``associationType`` 'accounts'), to-do actions with
a due date (``type`` NULL), logged notes and emails, and past visits marked ``complete`` 'Yes'."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.discover import real_ehr_support as real

ZONE, REGION = "America/Chicago", "US"
FIXTURE = real.FIXTURES / "x2crm" / "schema.sql"
DOCTORS = [("mreyes", "Maria", "Reyes"), ("tokafor", "Thomas", "Okafor"), ("lbergstrom", "Linda", "Bergstrom")]
GIVEN = ["Ethan", "Madison", "Noah", "Abigail", "Jacob", "Harper", "Logan", "Evelyn", "Mason", "Ella", "Carter",
         "Avery"]
FAMILY = ["Kowalski", "Hernandez", "Nowak", "Washington", "Olsen", "Murphy", "Patel", "Schmidt", "Jackson", "Rossi",
          "Baker", "Nguyen", "Fitzgerald"]
REASONS = ["Follow-up visit", "Annual physical", "Flu shot", "Lab results review", "New patient intake",
           "Blood pressure check"]
STATUS = {"Confirmed": "booked", "Cancelled": "cancelled"}
PATIENTS, VISITS = 48, 90


def _typed(e164: str, n: int) -> str:
    """A US number as a front desk types it."""
    area, mid, end = e164[2:5], e164[5:8], e164[8:]
    return (f"({area}) {mid}-{end}", f"{area}-{mid}-{end}", f"{area}.{mid}.{end}", f"1-{area}-{mid}-{end}",
            f"{area}{mid}{end}")[n % 5]


def _unix(moment: datetime) -> int:
    """As X2CRM keeps every date: PHP's time(), seconds since 1970."""
    return int(moment.timestamp())


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Practice:
    """The practice's X2CRM: its users, contacts and the actions written on them."""

    def __init__(self, cursor: Any, rng: random.Random, now: datetime) -> None:
        self.cursor, self.rng, self.now = cursor, rng, now
        self.doctors: dict[str, tuple[str, str]] = {}
        for login, given, family in (("admin", "Practice", "Admin"), ("frontdesk", "Front", "Desk"), *DOCTORS):
            self.user(login, given, family)

    def user(self, login: str, given: str, family: str) -> None:
        email = f"{login}@lakeshorefamily.example"
        created = _unix(self.now - timedelta(days=500))
        real.insert_row(self.cursor, "x2_users", {
            "firstName": given, "lastName": family, "username": login, "password": "$2y$10$" + "x" * 53,
            "title": "MD" if login in {d[0] for d in DOCTORS} else None, "department": "Clinical",
            "officePhone": "312-555-0100", "emailAddress": email, "status": 1, "createDate": created,
            "lastUpdated": str(created), "updatedBy": "admin", "lastLogin": _unix(self.now - timedelta(hours=3)),
            "login": _unix(self.now - timedelta(hours=3)), "userKey": f"{self.rng.getrandbits(64):016x}"})
        real.insert_row(self.cursor, "x2_profile", {
            "fullName": f"{given} {family}", "username": login, "officePhone": "312-555-0100",
            "emailAddress": email, "status": 1, "lastUpdated": created, "updatedBy": "admin",
            "language": "en", "timeZone": ZONE, "widgets": "0:1:1:1:1:0:0:0:0:0:0:0:0:0",
            "widgetOrder": "OnlineUsers:TimeZone:SmallCalendar:ChatBox:GoogleMaps:TagCloud"})
        self.doctors[login] = (f"{given} {family}", email)

    def contact(self, given: str, family: str, phone: str | None, phone2: str | None, email: str | None,
                owner: str, lead: str = "Patient") -> int:
        created = _unix(self.now - timedelta(days=self.rng.randrange(30, 900)))
        cid = real.insert_row(self.cursor, "x2_contacts", {
            "name": f"{given} {family}", "firstName": given, "lastName": family, "phone": phone, "phone2": phone2,
            "email": email, "address": f"{self.rng.randrange(100, 9999)} N Clark St", "city": "Chicago",
            "state": "IL", "zipcode": "60614", "country": "United States", "visibility": 1, "assignedTo": owner,
            "backgroundInfo": None, "lastUpdated": created, "lastActivity": created, "updatedBy": "frontdesk",
            "priority": "", "leadSource": lead, "createDate": created, "doNotCall": 0, "doNotEmail": 0,
            "trackingKey": f"{self.rng.getrandbits(64):016x}"})
        self.cursor.execute("UPDATE x2_contacts SET nameId = %s WHERE id = %s", (f"{given} {family}_{cid}", cid))
        return cid

    def action(self, row: dict[str, Any], subtype: str | None = None, status: str | None = None,
               text: str | None = None) -> int:
        created = _unix(self.now - timedelta(days=self.rng.randrange(1, 40)))
        aid = real.insert_row(self.cursor, "x2_actions", {
            "visibility": 1, "showTime": 1, "priority": "1", "createDate": created, "lastUpdated": created,
            "updatedBy": "frontdesk", "reminder": "No", "allDay": 0, "color": "#6389de", "sticky": 0,
            "flowTriggered": 0, "timeSpent": 0, **row})
        if subtype or status:
            real.insert_row(self.cursor, "x2_action_meta_data", {"actionId": aid, "eventSubtype": subtype,
                                                         "eventStatus": status, "remoteSource": 0})
        if text:
            real.insert_row(self.cursor, "x2_action_text", {"actionId": aid, "text": text})
        return aid


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The schema from the fixture, filled; per visit ahead (keyed by its UTC start) every field
    the store must hold."""
    real.run_ddl(cursor, FIXTURE)
    rng = random.Random(4417)
    clinic = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    x2 = Practice(cursor, rng, now)
    patients = []
    for p in range(PATIENTS):
        given, family = GIVEN[p % len(GIVEN)], FAMILY[(p * 5) % len(FAMILY)]
        e164 = real.valid_number(rng, "+1312", 12) if p % 9 != 4 else None
        second = real.valid_number(rng, "+1773", 12) if p % 4 == 1 else None
        email = f"{given.lower()}.{family.lower()}{p}@mail.example" if p % 3 else None
        owner = DOCTORS[p % 3][0]
        cid = x2.contact(given, family, _typed(e164, p) if e164 else None, _typed(second, p + 1) if second else None,
                         email, owner)
        patients.append((cid, f"{given} {family}", e164 or second, email))  # the second when the first is empty
    suppliers = [x2.contact(g, f, "312-555-0199", None, f"{g.lower()}@medsupply.example", "admin", "Vendor")
                 for g, f in (("Karen", "Whitfield"), ("Greg", "Lindqvist"))]
    truth: dict[str, dict[str, Any]] = {}
    today = now.astimezone(clinic).date()
    for n in range(VISITS):
        doctor = DOCTORS[n % 3][0]
        past = n % 7 == 6
        day = today + timedelta(days=1 + n // 4) if not past else today - timedelta(days=2 + n // 3)
        start = datetime(day.year, day.month, day.day, 8 + (n % 4) * 2 + n % 3 // 2, (0, 15, 30, 45)[n % 4],
                         tzinfo=clinic)
        minutes = (15, 20, 30)[n % 3]
        cid, name, e164, email = patients[(n * 7) % PATIENTS]
        status = "Cancelled" if n % 11 == 5 else "Confirmed"
        x2.action({"assignedTo": doctor, "subject": None, "associationId": cid, "associationType": "contacts",
                   "associationName": name, "dueDate": _unix(start), "completeDate": _unix(start + timedelta(
                       minutes=minutes)), "type": "event", "complete": "Yes" if past else "No",
                   "completedBy": doctor if past else None},
                  "Appointment", status, REASONS[n % len(REASONS)])
        if past:
            continue
        truth[_iso(start)] = {
            "end": _iso(start + timedelta(minutes=minutes)), "status": STATUS[status], "patient": str(cid),
            "name": name, "phone": e164, "email": email, "doctor_name": x2.doctors[doctor][0],
            "doctor_email": x2.doctors[doctor][1], "zone": ZONE}
    for w in range(6):  # the weekly staff meeting: everyone's calendar, no contact
        day = today + timedelta(days=7 * w + (3 - today.weekday()) % 7)
        start = datetime(day.year, day.month, day.day, 12, 0, tzinfo=clinic)
        x2.action({"assignedTo": "Anyone", "associationId": 0, "associationType": "calendar",
                   "associationName": "Calendar", "dueDate": _unix(start),
                   "completeDate": _unix(start + timedelta(hours=1)), "type": "event", "complete": "No"},
                  "Meeting", "Confirmed", "Staff meeting")
    for s, supplier in enumerate(suppliers):  # a rep's call about the practice's supplies
        start = datetime.combine(today + timedelta(days=4 + 5 * s), datetime.min.time(), clinic) + timedelta(hours=15)
        x2.action({"assignedTo": "admin", "associationId": 100 + s, "associationType": "accounts",
                   "associationName": "Midwest Medical Supply", "dueDate": _unix(start),
                   "completeDate": _unix(start + timedelta(minutes=30)), "type": "event", "complete": "No"},
                  "Call", "Confirmed", "Quarterly supplies order")
        x2.action({"assignedTo": "admin", "associationId": supplier, "associationType": "contacts",
                   "associationName": "Vendor", "dueDate": _unix(now - timedelta(days=9 + s)), "type": "email",
                   "complete": "Yes", "completedBy": "admin", "completeDate": _unix(now - timedelta(days=9 + s))},
                  text="Re: invoice 2231")
    for t in range(12):  # to-dos on a patient (call back with results) and logged notes
        cid, name, _, _ = patients[(t * 5) % PATIENTS]
        due = now + timedelta(days=1 + t, hours=2)
        x2.action({"assignedTo": DOCTORS[t % 3][0], "associationId": cid, "associationType": "contacts",
                   "associationName": name, "dueDate": _unix(due), "type": None, "complete": "No",
                   "subject": "Call back with lab results"}, text="Call the patient back with the results")
        x2.action({"assignedTo": "frontdesk", "associationId": cid, "associationType": "contacts",
                   "associationName": name, "dueDate": None, "type": "note", "complete": "Yes",
                   "completedBy": "frontdesk", "completeDate": _unix(now - timedelta(days=t + 1))},
                  text="Insurance card updated at the desk")
    return truth
