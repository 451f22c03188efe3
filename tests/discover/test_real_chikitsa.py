"""`discover` on the real shape of Chikitsa in MariaDB (tests/fixtures/ehr/chikitsa, with its
SOURCE note), the PHP/CodeIgniter patient management system Indian clinics install, a product
it had never met. What it has: no foreign key anywhere; the visit's day a DATE and its start and
end two TIMEs of the clinic's zone; a status word ('Appointments', 'Pending', 'Waiting',
'Consultation', 'Complete', 'Cancel') and, in the same table, the doctors' unavailable blocks
('NotAvailable', patient 0, no title); the patient's name copied onto the visit's `title`; the
patient a `patient` row whose person is a `contacts` row, and the phone a `contact_details` row
typed 'mobile' (the first, `is_default` 1, is the one the product shows), copied to
`contacts.phone_number` by the full form only; the doctor a `doctor` row with its own contact.
Beside them, what a year of use leaves: the status log of every visit, past visits and bills,
follow-up dates ahead. Driven as the admin would: ``discover --write`` (which runs ``check``),
then ``sync --once``, every visit compared."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real

ZONE, REGION = "Asia/Kolkata", "IN"
FIXTURE = real.FIXTURES / "chikitsa" / "schema.sql"
STATUS = {"Appointments": "booked", "Pending": "pending", "Cancel": "cancelled", "Waiting": "arrived",
          "Consultation": "arrived", "Complete": "fulfilled"}
DOCTORS = [("Anil", "Deshpande", "MBBS, MD", "General Physician"), ("Meera", "Kulkarni", "BDS", "Dentist"),
           ("Suresh", "Iyengar", "MBBS, DCH", "Pediatrician")]
GIVEN = ["Rahul", "Priya", "Amit", "Sneha", "Vikram", "Pooja", "Sanjay", "Neha", "Arjun", "Kavita", "Rohit",
         "Anjali", "Manoj", "Swati"]
FAMILY = ["Patil", "Joshi", "Shah", "Nair", "Reddy", "Gupta", "Pawar", "Menon", "Chavan", "Desai", "Rao"]
PATIENTS, VISITS = 80, 150
REASONS = ["Fever", "Follow-up", "Consultation", "Dressing", "Vaccination", "Check-up"]


def _mobile(rng: random.Random) -> str:
    """A valid Indian mobile number in E.164 (+91 and ten digits from 6 to 9)."""
    return real.valid_number(rng, "+919", 13)


def _typed(e164: str, n: int) -> str:
    """An Indian mobile as a desk types it: '9876543210', '+91 98765 43210', '+919876543210',
    '09876543210' or '98765-43210'."""
    ten = e164[3:]
    return (ten, f"+91 {ten[:5]} {ten[5:]}", e164, "0" + ten, f"{ten[:5]}-{ten[5:]}")[n % 5]


def _contact(cursor: Any, prefix: str, row: dict[str, Any]) -> int:
    return real.insert_row(cursor, f"{prefix}contacts", {"contact_image": "uploads/images/Profile.png", **row})


def _doctors(cursor: Any, prefix: str, rng: random.Random) -> list[tuple[int, str, str]]:
    """The admin, a receptionist and three doctors (each a user, a contact and a doctor row)."""
    real.insert_row(cursor, f"{prefix}users", {"name": "Administrator", "username": "admin", "password": "x" * 32,
                                        "level": "Administrator", "is_active": 1, "prefered_language": "english"})
    desk = _contact(cursor, prefix, {"first_name": "Lata", "last_name": "Sawant", "display_name": "Lata Sawant",
                                     "phone_number": "9822012345", "email": "reception@sanjeevaniclinic.in"})
    real.insert_row(cursor, f"{prefix}users", {"name": "Lata Sawant", "username": "lata", "password": "y" * 32,
                                        "level": "Receptionist", "is_active": 1, "contact_id": desk})
    doctors = []
    for n, (first, last, degree, speciality) in enumerate(DOCTORS):
        email = f"dr.{first.lower()}.{last.lower()}@sanjeevaniclinic.in"
        contact = _contact(cursor, prefix, {"title": "Dr.", "first_name": first, "last_name": last,
                                            "display_name": f"Dr. {first} {last}", "phone_number": _typed(
                                                _mobile(rng), n), "email": email})
        user = real.insert_row(cursor, f"{prefix}users", {"name": f"Dr. {first} {last}", "username": first.lower(),
                                                   "password": "z" * 32, "level": "Doctor", "is_active": 1,
                                                   "contact_id": contact, "centers": "1"})
        doctor = real.insert_row(cursor, f"{prefix}doctor", {"contact_id": contact, "degree": degree,
                                                      "specification": speciality, "joining_date": "2019-06-01",
                                                      "gender": ("Male", "Female", "Male")[n], "userid": str(user),
                                                      "sync_status": 0})
        doctors.append((doctor, f"{first} {last}", email))
    return doctors


def _patients(cursor: Any, prefix: str, rng: random.Random) -> dict[int, tuple[str, str | None, str | None, int]]:
    """Eighty patients: their contact and its numbers, as the two forms of the product keep them.
    Per patient id: the name the product shows, the number it shows (E.164), the email, the
    contact's id."""
    patients = {}
    for p in range(PATIENTS):
        first, last = GIVEN[p % len(GIVEN)], FAMILY[(p * 3) % len(FAMILY)]
        middle = ("Suresh", "Ramesh", "Vasant")[p % 3] if p % 6 == 0 else None  # a father's name, some forms
        quick = p % 5 == 2  # added by the quick form: no number on the contact row
        mobile = _mobile(rng) if p % 13 != 6 else None  # some never gave one
        second = _mobile(rng) if mobile and p % 4 == 1 else None
        email = f"{first.lower()}.{last.lower()}{p}@gmail.com" if p % 3 else None
        changed = mobile is not None and not quick and p % 17 == 3  # a number changed in the details tab
        contact = _contact(cursor, prefix, {
            "title": ("Mr.", "Ms.", "Mrs.")[p % 3] if p % 4 else None, "first_name": first, "middle_name": middle,
            "last_name": last, "display_name": f"{first} {last}",
            "phone_number": None if quick or not mobile else _typed(_mobile(rng) if changed else mobile, p),
            "second_number": _typed(second, p + 1) if second and not quick else None,
            "email": email, "city": "Pune", "state": "Maharashtra", "country": "India",
            "address_line_1": f"{p + 4}, Shivaji Nagar" if p % 2 else None})
        patient = real.insert_row(cursor, f"{prefix}patient", {
            "contact_id": contact, "patient_since": f"{2019 + p % 6}-{1 + p % 12:02d}-{1 + p % 27:02d}",
            "display_id": f"PT{1000 + p}", "gender": ("Male", "Female")[p % 2],
            "dob": f"{1950 + p % 60}-{1 + p % 12:02d}-{1 + p % 27:02d}", "age": None,
            "reference_by": ("Friend", "Doctor", "Hoarding")[p % 3], "clinic_id": 1, "sync_status": 0})
        if mobile and p % 11 == 7:  # two numbers typed into one cell of the details tab
            cursor.execute(f"INSERT INTO {prefix}contact_details (contact_id, type, detail, is_default) "
                           "VALUES (%s, 'mobile', %s, 1)", (contact, f"{mobile[3:]}, {_mobile(rng)[3:]}"))
        elif mobile:
            cursor.execute(f"INSERT INTO {prefix}contact_details (contact_id, type, detail, is_default) "
                           "VALUES (%s, 'mobile', %s, 1)", (contact, _typed(mobile, p)))
        if second:
            cursor.execute(f"INSERT INTO {prefix}contact_details (contact_id, type, detail, is_default) "
                           "VALUES (%s, 'mobile', %s, 0)", (contact, _typed(second, p + 1)))
        if email and p % 2:
            cursor.execute(f"INSERT INTO {prefix}contact_details (contact_id, type, detail, is_default) "
                           "VALUES (%s, 'email', %s, 0)", (contact, email))
        patients[patient] = (f"{first} {last}", mobile, email, contact)
    return patients


def _slot(day: date, n: int) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, 10 + n % 9, 15 * (n % 4))
    return start, start + timedelta(minutes=(15, 30, 15, 20)[n % 4])


def build(cursor: Any, prefix: str = "") -> dict[str, dict[str, Any]]:
    """The schema from the fixture (its tables named with ``prefix``), filled; per visit ahead
    every field the store must hold."""
    ddl = FIXTURE.read_text(encoding="utf-8").replace("%dbprefix%", prefix)
    for statement in "\n".join(line for line in ddl.splitlines() if not line.startswith("--")).split(";"):
        if statement.strip():
            cursor.execute(statement)
    rng = random.Random(2010)
    clinic = ZoneInfo(ZONE)
    today = datetime.now(clinic).date()
    real.insert_row(cursor, f"{prefix}clinic", {"start_time": "09:00", "end_time": "20:00", "time_interval": 0.25,
                                         "clinic_name": "Sanjeevani Clinic", "clinic_address": "Shivaji Nagar, Pune",
                                         "landline": "020 2553 1234", "mobile": "9822098220",
                                         "email": "care@sanjeevaniclinic.in", "next_followup_days": 15})
    doctors = _doctors(cursor, prefix, rng)
    patients = _patients(cursor, prefix, rng)
    ids = list(patients)
    expected: dict[str, dict[str, Any]] = {}
    for n in range(VISITS):
        future = n % 3 != 0
        day = today + timedelta(days=1 + n % 30) if future else today - timedelta(days=2 + n % 90)
        start, end = _slot(day, n)
        word = (rng.choices(["Appointments", "Cancel", "Pending"], [80, 12, 8])[0] if future
                else {3: "Waiting", 9: "Consultation"}.get(n % 15)  # left so when the day closed
                or rng.choices(["Complete", "Cancel", "Appointments"], [80, 12, 8])[0])
        pid = ids[rng.randrange(PATIENTS)]
        name, phone, _email, _contact_id = patients[pid]
        doctor = doctors[n % len(doctors)]
        title = name if n % 23 != 4 else name.upper()  # typed as the desk spelled it that day
        visit = 0
        if word == "Complete":
            visit = real.insert_row(cursor, f"{prefix}visit", {
                "patient_id": pid, "userid": 2 + 2 * (n % 3), "doctor_id": doctor[0], "type": "Established Patient",
                "visit_date": start.strftime("%Y-%m-%d"), "visit_time": start.strftime("%H:%M:%S"),
                "notes": "Advised rest", "appointment_reason": REASONS[n % len(REASONS)], "clinic_id": 1,
                "sync_status": 0})
            real.insert_row(cursor, f"{prefix}bill", {"clinic_id": 1, "doctor_id": doctor[0], "bill_date": start.date(),
                                               "bill_time": start.time(), "patient_id": pid, "visit_id": visit,
                                               "total_amount": 300 + 50 * (n % 5), "due_amount": 0,
                                               "created_by": "lata"})
        aid = real.insert_row(cursor, f"{prefix}appointments", {
            "appointment_date": start.date(), "start_time": start.time(), "end_time": end.time(), "title": title,
            "patient_id": pid, "userid": 3 + n % 3, "doctor_id": doctor[0], "status": word, "visit_id": visit,
            "appointment_reason": REASONS[n % len(REASONS)], "clinic_id": 1, "sync_status": 0})
        booked = datetime.combine(day - timedelta(days=2 + n % 9), datetime.min.time()) + timedelta(hours=10)
        real.insert_row(cursor, f"{prefix}appointment_log", {
            "appointment_id": aid, "change_date_time": booked.strftime("%d/%m/%Y %H:%M:%S"),
            "start_time": start.time(), "old_status": " ", "status": "Appointment", "from_time": booked.time(),
            "to_time": "00:00:00", "name": "Lata Sawant", "appointment_reason": REASONS[n % len(REASONS)]})
        if word != "Appointments" and word != "Pending":
            real.insert_row(cursor, f"{prefix}appointment_log", {
                "appointment_id": aid, "change_date_time": (booked + timedelta(days=1)).strftime("%d/%m/%Y %H:%M:%S"),
                "start_time": start.time(), "old_status": "Appointments", "status": word,
                "from_time": booked.time(), "to_time": "00:00:00", "name": "Lata Sawant"})
        if not future:
            continue
        expected[str(aid)] = {
            "start": start.replace(tzinfo=clinic).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": end.replace(tzinfo=clinic).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": STATUS[word], "patient": str(pid), "name": name, "phone": phone,
            "email": _email, "doctor": str(doctor[0]), "doctor_name": doctor[1], "doctor_email": doctor[2],
            "zone": ZONE, "location": "Sanjeevani Clinic", "type": REASONS[n % len(REASONS)]}
    for n in range(12):  # the doctors' unavailable blocks: no patient, no visit
        first = today + timedelta(days=3 + 5 * n)
        real.insert_row(cursor, f"{prefix}appointments", {
            "appointment_date": first, "end_date": first + timedelta(days=n % 3), "start_time": "13:00:00",
            "end_time": "15:00:00", "title": "", "patient_id": 0, "userid": 3 + n % 3,
            "doctor_id": doctors[n % 3][0], "status": "NotAvailable", "visit_id": 0, "clinic_id": 1,
            "sync_status": 0, "is_deleted": 1 if n == 5 else None})
    for n in range(30):  # follow-up dates the doctors set at past visits
        real.insert_row(cursor, f"{prefix}followup",
                        {"doctor_id": doctors[n % 3][0], "patient_id": ids[(n * 7) % PATIENTS],
                                               "followup_date": today + timedelta(days=5 + n)})
    real.insert_row(cursor, f"{prefix}working_days", {"working_date": today + timedelta(days=40),
                                               "working_status": "Non Working", "working_reason": "Diwali"})
    return expected


def _through_discover(database: dict[str, Any], tmp_path: Path, cli: Any, prefix: str) -> None:
    """The admin's four steps on the install, every field of every visit ahead compared."""
    truth, settings, run = real.admin_start(database, lambda cursor: build(cursor, prefix), tmp_path, ZONE, REGION,
                                            cli)
    connector = real.discover_then_check(run, settings, [str(database["url"])])
    mapping = real.written_mapping(tmp_path)
    # the word for the row itself is booked; 'Consultation' (with the doctor) is arrived as a word
    # of the status column: no word left for the admin to type
    assert mapping["status_map"] == STATUS, mapping["status_map"]
    fields = mapping["fields"]
    assert fields["start"] == {"date": "appointment_date", "time": "start_time"}, fields["start"]
    # the doctor's email from the doctor's own contact row first: no doctor has a typed email row
    assert fields["practitioner.email"]["from"][0] == "doctor_email", fields["practitioner.email"]
    assert "a.patient_id <> 0" in connector["query"]  # a doctor's unavailable block is no visit
    found = real.sync_and_compare(run, connector, {k: real.want(t) for k, t in truth.items()}, ZONE)
    right = real.scores(found, truth)
    print("scores", right, "of", len(truth))
    assert right == dict.fromkeys(right, len(truth)), right


@pytest.mark.mariadb
def test_chikitsa_date_and_times_typed_contact_rows_and_the_row_s_own_word(mariadb_database: dict[str, Any],
                                                                          tmp_path: Path, cli: Any) -> None:
    """Every visit ahead right on every field, with the six lines of getting-started and the URL:
    the start of the DATE and the TIME, the status words the product writes (its own noun
    'Appointments' booked), the phone of the typed 'mobile' rows (the one the product shows, the
    first of two typed in one cell), the patient's and the doctor's email from their contact row
    first, no doctor's unavailable block, no foreign key declared anywhere."""
    _through_discover(mariadb_database, tmp_path, cli, "")


@pytest.mark.mariadb
def test_chikitsa_installed_with_a_table_prefix(mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    """The same install under the prefix the installer asks for (``ck_``): every table named
    with it, every field still right."""
    _through_discover(mariadb_database, tmp_path, cli, "ck_")
