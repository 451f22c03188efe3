"""A veterinary practice's rows in OpenVPMS's generic store (tests/fixtures/ehr/openvpms): every
party an ``entities`` row typed by ``arch_short_name`` (``security.user``, ``party.customerperson``,
``party.patientpet``, ``party.organisationSchedule`` ...), its attributes ``entity_details`` rows
(name, value), its phones ``contacts`` rows with ``contact_details`` rows (``telephoneNumber``,
``areaCode``, ``preferred``, ``sms``) and a purpose lookup; every dated record an ``acts`` row of
its type (``act.customerAppointment`` beside clinical events, invoices and reminders), who took
part in it ``participations`` rows typed by role (``participation.customer``, ``.patient``,
``.clinician``, ``.schedule``, ``.appointmentType``, ``.author``), each copying the act's times.
The patient of a vet is a pet; the person to remind is its owner, the appointment's customer.
Synthetic data, written as the product writes it; what the store must then hold per visit."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.discover import real_ehr_support as real

ZONE = "Australia/Melbourne"
REGION = "AU"
CUSTOMERS, VISITS = 60, 150
# The appointment statuses of act.customerAppointment.adl, and what each means for a reminder.
STATUSES = {"PENDING": "pending", "CHECKED_IN": "checked-in", "IN_PROGRESS": "arrived", "ADMITTED": "checked-in",
            "BILLED": "fulfilled", "COMPLETED": "fulfilled", "CANCELLED": "cancelled"}
WEIGHTS = [60, 6, 4, 2, 8, 8, 12]
CLINICIANS = [(11, "sarahn", "Sarah", "Nguyen", "Dr"), (12, "jmorris", "James", "Morris", "Dr"),
              (13, "pwalsh", "Priya", "Walsh", "Dr")]
STAFF = [(14, "reception", "Front", "Desk", "Ms"), (15, "admin", "Practice", "Admin", "Mr")]
SCHEDULES = [(21, "Consult Room 1"), (22, "Consult Room 2"), (23, "Surgery")]
TYPES = [(31, "Consultation", 15), (32, "Vaccination", 15), (33, "Desexing", 60)]
FIRST = ["Olivia", "Jack", "Charlotte", "William", "Mia", "Noah", "Ava", "Thomas", "Chloe", "Lachlan"]
LAST = ["Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "Kelly", "Murphy", "Ryan", "Tran"]
PETS = ["Rex", "Bella", "Max", "Coco", "Charlie", "Molly", "Buddy", "Ruby", "Ollie", "Luna", "Milo", "Daisy"]
SPECIES = ["CANINE", "FELINE", "CANINE", "EQUINE", "FELINE"]


def _entity(cursor: Any, entity_id: int, short: str, name: str, details: dict[str, tuple[str, str]],
            active: bool = True, description: str | None = None, party: bool = True) -> None:
    cursor.execute("INSERT INTO entities (entity_id, version, linkId, arch_short_name, arch_version, name, "
                   "description, active) VALUES (%s, 1, %s, %s, '1.0', %s, %s, %s)",
                   (entity_id, str(uuid.uuid4()), short, name, description, 1 if active else 0))
    if party:
        cursor.execute("INSERT INTO parties (party_id) VALUES (%s)", (entity_id,))
    real.insert_rows(cursor, "INSERT INTO entity_details (entity_id, type, value, name) VALUES (%s, %s, %s, %s)",
                     [(entity_id, kind, value, key) for key, (kind, value) in details.items()])


class _Ids:
    def __init__(self, start: int) -> None:
        self.next = start

    def __call__(self) -> int:
        self.next += 1
        return self.next


def _act(cursor: Any, ids: _Ids, short: str, start: datetime, end: datetime | None, status: str,
         roles: list[tuple[str, int]], reason: str | None = None, active: bool = True,
         details: dict[str, tuple[str, str]] | None = None) -> int:
    act = ids()
    cursor.execute("INSERT INTO acts (act_id, version, arch_short_name, arch_version, linkId, name, description, "
                   "active, activity_start_time, activity_end_time, reason, status) VALUES "
                   "(%s, 1, %s, '1.0', %s, %s, NULL, %s, %s, %s, %s, %s)",
                   (act, short, str(uuid.uuid4()), short.split(".")[1], 1 if active else 0, start, end, reason,
                    status))
    real.insert_rows(cursor, "INSERT INTO participations (version, linkId, arch_short_name, arch_version, active, "
                             "act_arch_short_name, entity_id, act_id, activity_start_time, activity_end_time) "
                             "VALUES (1, %s, %s, '1.0', 1, %s, %s, %s, %s, %s)",
                     [(str(uuid.uuid4()), role, short, entity, act, start, end) for role, entity in roles])
    real.insert_rows(cursor, "INSERT INTO act_details (act_id, type, value, name) VALUES (%s, %s, %s, %s)",
                     [(act, kind, value, key) for key, (kind, value) in (details or {}).items()])
    return act


def _phone(cursor: Any, ids: _Ids, party: int, area: str, number: str, preferred: bool, sms: bool,
           purpose: int | None) -> None:
    contact = ids()
    cursor.execute("INSERT INTO contacts (contact_id, version, linkId, party_id, arch_short_name, arch_version, "
                   "name, description, active) VALUES (%s, 1, %s, %s, 'contact.phoneNumber', '1.0', "
                   "'Phone Number', NULL, 1)", (contact, str(uuid.uuid4()), party))
    real.insert_rows(cursor, "INSERT INTO contact_details (contact_id, type, value, name) VALUES (%s, %s, %s, %s)",
                     [(contact, "string", area, "areaCode"), (contact, "string", number, "telephoneNumber"),
                      (contact, "boolean", "true" if preferred else "false", "preferred"),
                      (contact, "boolean", "true" if sms else "false", "sms")])
    if purpose:
        cursor.execute("INSERT INTO contact_classifications (contact_id, lookup_id) VALUES (%s, %s)",
                       (contact, purpose))


def _email(cursor: Any, ids: _Ids, party: int, address: str) -> None:
    contact = ids()
    cursor.execute("INSERT INTO contacts (contact_id, version, linkId, party_id, arch_short_name, arch_version, "
                   "name, active) VALUES (%s, 1, %s, %s, 'contact.email', '1.0', 'Email Address', 1)",
                   (contact, str(uuid.uuid4()), party))
    cursor.execute("INSERT INTO contact_details (contact_id, type, value, name) VALUES (%s, 'string', %s, "
                   "'emailAddress'), (%s, 'boolean', 'true', 'preferred')", (contact, address, contact))


def _mobile(rng: random.Random) -> tuple[str, str]:
    """An Australian mobile as the desk types it (0412 345 678) and in E.164."""
    e164 = real.valid_number(rng, "+614", 12)
    local = "0" + e164[3:]
    return f"{local[:4]} {local[4:7]} {local[7:]}", e164


def _landline(rng: random.Random) -> tuple[str, str, str]:
    """A Melbourne line as OpenVPMS keeps it: area code '03' apart from '9123 4567'; and E.164."""
    e164 = real.valid_number(rng, "+6139", 12)
    return "03", f"{e164[4:8]} {e164[8:]}", e164


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The practice's rows; what the store must then hold per appointment (``in_window``: one
    the connector's window reads, from a day ago on)."""
    real.load_schema(cursor, "openvpms")
    rng = random.Random(6502)
    now = datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, second=0, microsecond=0)
    cursor.execute("INSERT INTO lookups (lookup_id, version, linkId, active, arch_short_name, arch_version, code, "
                   "name, default_lookup) VALUES (1, 1, UUID(), 1, 'lookup.contactPurpose', '1.0', 'HOME', 'Home', "
                   "0), (2, 1, UUID(), 1, 'lookup.contactPurpose', '1.0', 'WORK', 'Work', 0), (3, 1, UUID(), 1, "
                   "'lookup.contactPurpose', '1.0', 'MOBILE', 'Mobile', 0), (4, 1, UUID(), 1, "
                   "'lookup.visitReason', '1.0', 'CONSULT', 'Consultation', 1)")
    ids = _Ids(1000)
    _entity(cursor, 1, "party.organisationPractice", "Riverside Veterinary Clinic", {})
    _entity(cursor, 2, "party.organisationLocation", "Riverside Main", {})
    _phone(cursor, ids, 2, "03", "9555 0100", True, False, 2)
    people = [(*c, True) for c in CLINICIANS] + [(*s, False) for s in STAFF]
    for user, login, first, last, title, _ in people:
        _entity(cursor, user, "security.user", f"{first} {last}",
                {"firstName": ("string", first), "lastName": ("string", last), "title": ("string", title.upper())})
        cursor.execute("INSERT INTO users (user_id, user_name, password) VALUES (%s, %s, 'x')", (user, login))
    for schedule, name in SCHEDULES:
        _entity(cursor, schedule, "party.organisationSchedule", name,
                {"slotSize": ("int", "15"), "slotUnit": ("string", "MINUTES"), "sendReminders": ("boolean", "true")})
    for kind, name, _ in TYPES:
        _entity(cursor, kind, "entity.appointmentType", name, {}, party=False)
    customers: dict[int, dict[str, Any]] = {}
    pets: dict[int, int] = {}
    for c in range(CUSTOMERS):
        customer = 100 + c
        first, last = FIRST[c % len(FIRST)], LAST[(c * 7) % len(LAST)]
        _entity(cursor, customer, "party.customerperson", f"{last},{first}",
                {"firstName": ("string", first), "lastName": ("string", last), "title": ("string", "MR" if c % 2
                                                                                         else "MS"),
                 "createdDate": ("sql-timestamp", f"{now - timedelta(days=500 + c):%Y-%m-%d %H:%M:%S}")},
                active=c % 29 != 28)
        phones: list[tuple[str, bool, bool]] = []  # (E.164, preferred, sms), as entered
        if c % 4 == 1:  # a work number first, neither preferred nor for SMS: never the one to text
            area, number, work = _landline(rng)
            _phone(cursor, ids, customer, area, number, False, False, 2)
            phones.append((work, False, False))
        if c % 8 != 7:
            local, mobile = _mobile(rng)
            _phone(cursor, ids, customer, "", local, c % 3 != 0, c % 5 != 4, 3)
            phones.append((mobile, c % 3 != 0, c % 5 != 4))
        if c % 3 == 0 or c % 8 == 7:
            area, number, home = _landline(rng)
            _phone(cursor, ids, customer, area, number, c % 8 == 7 or c % 5 == 4, False, 1)
            phones.append((home, c % 8 == 7 or c % 5 == 4, False))
        # the number the practice texts: the one allowed SMS, else the preferred, else the first entered
        phone = min(phones, key=lambda p: (not p[2], not p[1], phones.index(p)))[0]
        if c % 4 != 3:
            _email(cursor, ids, customer, f"{first.lower()}.{last.lower()}{c}@mail.example.com.au")
        customers[customer] = {"name": f"{first} {last}", "phone": phone}
        for p in range(1 + c % 2):
            pet = 500 + 2 * c + p
            _entity(cursor, pet, "party.patientpet", PETS[(c + p * 5) % len(PETS)],
                    {"species": ("string", SPECIES[(c + p) % len(SPECIES)]), "sex": ("string", "MALE"),
                     "dateOfBirth": ("sql-timestamp", f"{now - timedelta(days=400 + 37 * c):%Y-%m-%d 00:00:00}"),
                     "desexed": ("boolean", "true")})
            pets[pet] = customer
            cursor.execute("INSERT INTO entity_relationships (version, linkId, arch_short_name, arch_version, "
                           "name, active_start_time, sequence, source_id, target_id) VALUES (1, UUID(), "
                           "'entityRelationship.patientOwner', '1.0', 'Patient Owner', %s, 0, %s, %s)",
                           (now - timedelta(days=400), customer, pet))
    pet_ids = sorted(pets)
    for n in range(160):  # past consultations: the clinical record, a patient, a clinician, a date
        pet = pet_ids[n % len(pet_ids)]
        when = now - timedelta(days=2 + n * 2, hours=n % 6)
        _act(cursor, ids, "act.patientClinicalEvent", when, when + timedelta(minutes=40), "COMPLETED",
             [("participation.patient", pet), ("participation.clinician", CLINICIANS[n % 3][0]),
              ("participation.author", STAFF[0][0])], reason="CONSULT")
        invoice = _act(cursor, ids, "act.customerAccountChargesInvoice", when + timedelta(minutes=45), None,
                       "POSTED", [("participation.customer", pets[pet]), ("participation.author", STAFF[0][0])])
        cursor.execute("INSERT INTO financial_acts (financial_act_id, total, tax_amount, credit, printed) "
                       "VALUES (%s, %s, %s, 0, 1)", (invoice, 85 + n % 40, 8.5))
    for n, pet in enumerate(pet_ids):  # vaccination reminders, due ahead: dated, a patient, no visit
        due = now + timedelta(days=5 + (n * 11) % 300)
        _act(cursor, ids, "act.patientReminder", due, due, "IN_PROGRESS", [("participation.patient", pet)],
             details={"reminderCount": ("int", "0")})
    truth: dict[str, dict[str, Any]] = {}
    for n in range(VISITS):
        pet = pet_ids[rng.randrange(len(pet_ids))]
        customer = pets[pet]
        kind, type_name, minutes = TYPES[n % 3]
        schedule = SCHEDULES[n % 3][0]
        day = now.date() + timedelta(days=n % 45 - 4)
        start = datetime(day.year, day.month, day.day, 8 + n % 9, 15 * (n % 4))
        past = start < now
        word = rng.choices(list(STATUSES), WEIGHTS)[0]
        if not past and word not in ("PENDING", "CANCELLED"):
            word = "PENDING"
        if past and word == "PENDING" and n % 2:
            word = "COMPLETED"
        clinician = CLINICIANS[n % 3] if n % 7 else None  # a few booked on a room with no vet named
        roles = [("participation.customer", customer), ("participation.patient", pet),
                 ("participation.schedule", schedule), ("participation.appointmentType", kind),
                 ("participation.author", STAFF[0][0])]
        if clinician:
            roles.append(("participation.clinician", clinician[0]))
        details = {"sendReminder": ("boolean", "true")}
        if word in ("CHECKED_IN", "IN_PROGRESS", "ADMITTED", "BILLED", "COMPLETED"):
            details["arrivalTime"] = ("sql-timestamp", f"{start - timedelta(minutes=5):%Y-%m-%d %H:%M:%S}")
        if past:
            details["reminderSent"] = ("sql-timestamp", f"{start - timedelta(days=1):%Y-%m-%d %H:%M:%S}")
        active = n % 41 != 40
        act = _act(cursor, ids, "act.customerAppointment", start, start + timedelta(minutes=minutes), word, roles,
                   reason="CONSULT", active=active, details=details)
        if not active:
            continue
        utc = start.replace(tzinfo=ZoneInfo(ZONE)).astimezone(ZoneInfo("UTC"))
        truth[str(act)] = {
            "start": utc.strftime("%Y-%m-%dT%H:%M:%SZ"), "status": STATUSES[word], "word": word,
            "in_window": start >= now - timedelta(days=1), "patient_id": str(customer),
            "name": customers[customer]["name"], "phone": customers[customer]["phone"],
            "doctor_id": str(clinician[0]) if clinician else None,
            "doctor_name": f"{clinician[2]} {clinician[3]}" if clinician else None,
            "schedule": dict(SCHEDULES)[schedule], "type": type_name, "pet": pet}
    return truth


def expected(truth: dict[str, dict[str, Any]]) -> dict[str, real.Want]:
    return {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], t["doctor_id"])
            for k, t in truth.items() if t["in_window"]}
