"""Rows as Care2x writes them (tests/fixtures/ehr/care2x, with its SOURCE note), for the test of
`discover` on its real shape: an outpatient clinic in Nairobi booking follow-ups in Care2x's
appointment scheduler. A patient is a ``care_person`` row (names, a landline with its area code
apart, a mobile, an email, and a relative's name and phone); a visit is a
``care_encounter_appointment`` row with the day and the time of day in two columns (the clinic's
wall clock), the department picked from a list (``to_dept_nr``), the doctor's name typed as text
(``to_staff_name``; ``to_staff_nr`` is never written and stays 0), the reminder choices as 0/1
flags (``remind_phone`` among them), ``appt_status`` pending/cancelled/done and ``status`` empty,
or ``void``/``deleted`` for a record taken away. No end and no length: the visit takes discover's
default length."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.discover import real_ehr_support as real

ZONE, REGION = "Africa/Nairobi", "KE"
FIXTURE = real.FIXTURES / "care2x" / "schema.sql"
MINUTES = 30  # discover's default length, the source keeping none
DEPARTMENTS = [(1, "general_medicine", "General Medicine"), (2, "pediatrics", "Paediatrics"),
               (3, "cardiology", "Cardiology"), (4, "physiotherapy", "Physiotherapy")]
DOCTORS = ["Dr. Wanjiru Kamau", "Dr. Otieno Ochieng", "Dr. Amina Hassan", "Dr. Peter Mwangi"]
GIVEN = ["Grace", "John", "Mary", "Joseph", "Faith", "David", "Mercy", "Brian", "Esther", "Kevin", "Lucy", "Samuel"]
FAMILY = ["Njoroge", "Wambui", "Kiprotich", "Achieng", "Mutua", "Chebet", "Omondi", "Njeri", "Kariuki", "Auma"]
PURPOSES = ["Review of blood pressure", "Follow-up after admission", "Physiotherapy session", "Child immunization",
            "ECG review", "Lab results"]
STATUS = {"pending": "pending", "cancelled": "cancelled", "done": "fulfilled"}
PATIENTS, VISITS = 40, 110


def _local(e164: str, n: int) -> str:
    """A Kenyan mobile as a front desk types it."""
    rest = e164[4:]
    return (f"0{rest[:3]} {rest[3:]}", f"0{rest}", f"+254 {rest[:3]} {rest[3:]}", f"0{rest[:3]}-{rest[3:]}")[n % 4]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The schema from the fixture, filled; per visit ahead (keyed by its UTC start) every field
    the store must hold."""
    real.run_ddl(cursor, FIXTURE)
    rng = random.Random(4409)
    clinic = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = (now - timedelta(days=3)).astimezone(clinic).replace(tzinfo=None)
    for nr, ident, name in DEPARTMENTS:
        real.insert_row(cursor, "care_department", {
            "nr": nr, "id": ident, "type": "1", "name_formal": name, "name_short": name.split()[0],
            "LD_var": "LD" + name.replace(" ", ""), "description": "", "admit_outpatient": 1, "status": "",
            "modify_id": "admin", "modify_time": stamp, "create_id": "admin", "create_time": stamp, "is_pharmacy": 0,
            "consult_hours": "8.30 - 17.00"})
    pid = 10000000
    for d, doctor in enumerate(DOCTORS):  # the doctors are persons and staff (never linked from a visit)
        pid += 1
        given, family = doctor.removeprefix("Dr. ").split()
        real.insert_row(cursor, "care_person", {"pid": pid, "name_first": given, "name_last": family, "title": "Dr.",
                                        "date_reg": stamp, "status": "", "history": "Init.", "create_id": "admin",
                                        "create_time": stamp, "email": f"{given.lower()}@clinic.example"})
        real.insert_row(cursor, "care_personell",
                        {"nr": 100001 + d, "pid": pid, "job_type_nr": 1, "job_function_title": 1,
                                           "status": "", "history": "Init.", "create_id": "admin",
                                           "create_time": stamp})
        real.insert_row(cursor, "care_users", {"name": f"{given} {family}", "login_id": given.lower(),
                                       "staff_nr": 100001 + d, "permission": "_a_1_", "dept_nr": "1",
                                       "history": "", "create_time": stamp})
    patients = []
    for p in range(PATIENTS):
        pid += 1
        given, family = GIVEN[p % len(GIVEN)], FAMILY[(p * 3) % len(FAMILY)]
        mobile = real.valid_number(rng, "+2547", 13) if p % 7 != 4 else None
        email = f"{given.lower()}.{family.lower()}{p}@mail.example" if p % 3 == 0 else None
        real.insert_row(cursor, "care_person", {
            "pid": pid, "hospital_file_nr": f"NBI-{2019 + p % 6}-{p:05d}", "date_reg": stamp,
            "name_first": given, "name_last": family, "date_birth": f"19{60 + p % 39}-0{1 + p % 9}-1{p % 9}",
            "sex": "fm"[p % 2], "addr_str": "Ngong Road", "addr_str_nr": str(p + 1), "phone_1_code": "020",
            "phone_1_nr": f"{2710000 + p * 37}" if p % 2 else None,
            "cellphone_1_nr": _local(mobile, p) if mobile else None, "email": email,
            "contact_person": f"{GIVEN[(p + 5) % len(GIVEN)]} {family}", "contact_relation": "spouse",
            "relative_name_first": GIVEN[(p + 5) % len(GIVEN)], "relative_name_last": family,
            "relative_phone": _local(real.valid_number(rng, "+2547", 13), p + 1),
            "status": "", "history": "Init.reg. " + str(stamp), "create_id": "admin", "create_time": stamp,
            "modify_time": stamp})
        patients.append((pid, f"{given} {family}", mobile, email))
    truth: dict[str, dict[str, Any]] = {}
    today = now.astimezone(clinic).date()
    for n in range(VISITS):
        past = n % 5 == 4
        day = today + timedelta(days=1 + n // 6) if not past else today - timedelta(days=2 + n // 5)
        start = datetime(day.year, day.month, day.day, 8 + (n % 6), (0, 20, 40)[n % 3], tzinfo=clinic)
        dept_nr, dept_id, dept_name = DEPARTMENTS[n % 4]
        doctor = DOCTORS[n % 4]
        patient, name, mobile, email = patients[(n * 7) % PATIENTS]
        state = "cancelled" if n % 11 == 3 else "done" if past else "pending"
        taken_away = n % 23 == 7
        history = f"Create: {stamp} : admin\n" + (f"Cancel: {stamp} : admin\n" if state == "cancelled" else "")
        real.insert_row(cursor, "care_encounter_appointment", {
            "pid": patient, "date": start.date(), "time": start.time(), "to_dept_id": dept_id, "to_dept_nr": dept_nr,
            "to_staff_nr": 0, "to_staff_name": doctor, "purpose": PURPOSES[n % len(PURPOSES)],
            "urgency": (0, 3, 7)[n % 3], "remind": int(n % 4 != 0), "remind_email": int(n % 3 == 0),
            "remind_mail": 0, "remind_phone": int(n % 2 == 0), "appt_status": state,
            "cancel_by": "admin" if state == "cancelled" else "", "cancel_date": stamp.date() if state == "cancelled"
            else None, "cancel_reason": "Patient travelling" if state == "cancelled" else None,
            "encounter_class_nr": 2, "encounter_nr": 0, "status": "void" if taken_away else "",
            "history": history, "modify_id": "admin", "modify_time": stamp, "create_id": "admin",
            "create_time": stamp})
        if past or taken_away:  # a record taken away is never imported
            continue
        truth[_iso(start)] = {
            "end": _iso(start + timedelta(minutes=MINUTES)),
            "status": STATUS[state], "patient": str(patient), "name": name,
            "phone": mobile, "email": email, "doctor_name": doctor, "zone": ZONE, "location": dept_name}
    return truth
