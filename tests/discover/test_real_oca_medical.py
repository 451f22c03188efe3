"""`discover` on the real shape of OCA's vertical-medical for Odoo on PostgreSQL
(tests/fixtures/ehr/oca_medical, with its SOURCE note), a product it had never met. What it has:
`medical_appointment` with Odoo's many2one columns: `patient_id` -> `medical_patient`, whose
person is a `res_partner` (`partner_id`: name, email, phone, mobile), `physician_id` ->
`medical_physician` -> `res_partner` the same way, `institution_id` -> the clinic's own
`res_partner`, `stage_id` -> `medical_appointment_stage` (the status words 'Draft', 'Confirm',
'Waiting', 'In Consultation', 'Done', 'Cancelled', 'Pending Review'), the start a naive UTC
`appointment_date` with a `duration` in minutes; `active` booleans on patients and doctors,
Odoo's create/write stamps everywhere. Beside them, what a year of use leaves: past visits, the
chatter's messages on every appointment, the users and the company. Driven as the admin would:
``discover --write`` (which runs ``check``), then ``sync --once``, every visit compared."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.discover import real_ehr_support as real

ZONE, REGION = "Europe/Madrid", "ES"
FIXTURE = real.FIXTURES / "oca_medical" / "schema.sql"
STAGES = [("Pending Review", 5, "pending"), ("Draft", 10, "pending"), ("Confirm", 20, "booked"),
          ("Waiting", 30, "arrived"), ("In Consultation", 35, "arrived"), ("Done", 40, "fulfilled"),
          ("Cancelled", 50, "cancelled"), ("Unavailable", 60, None)]
DOCTORS = [("Laura", "Martín Gómez", "Medicina Familiar"), ("Javier", "Ruiz Sánchez", "Pediatría"),
           ("Carmen", "López Navarro", "Dermatología")]
GIVEN = ["Lucía", "Hugo", "Martina", "Pablo", "Sofía", "Daniel", "Paula", "Álvaro", "Elena", "Adrián", "Irene"]
FAMILY = ["García", "Fernández", "González", "Rodríguez", "Pérez", "Sánchez", "Romero", "Torres", "Díaz"]
PATIENTS, VISITS = 70, 160
# The product's own 'Type' selection is an admission class (outpatient, ambulatory, inpatient), a
# code no patient is told; the visit's kind the desk and the patient read is its specialty.
KINDS = ["outpatient", "outpatient", "ambulatory", "outpatient", "inpatient"]


def _typed(e164: str, n: int) -> str:
    """A Spanish number as a desk types it into Odoo's phone fields."""
    nine = e164[3:]
    return (nine, f"+34 {nine[:3]} {nine[3:5]} {nine[5:7]} {nine[7:]}", f"{nine[:3]} {nine[3:6]} {nine[6:]}",
            e164, f"0034{nine}")[n % 5]


def _partner(ex: Any, row: dict[str, Any]) -> int:
    columns = ", ".join(row)
    got = ex(f"INSERT INTO res_partner ({columns}) VALUES ({', '.join(['%s'] * len(row))}) RETURNING id",
             list(row.values())).fetchone()
    return int(got[0])


def build(connection: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    """The company and its clinic, three doctors who log in, 70 patients (some archived), 160
    appointments a third of them past, the chatter of each; per visit ahead what the store must hold."""
    real.run_ddl(connection, FIXTURE)
    ex = connection.execute
    rng = random.Random(2016)
    zone = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    base = {"create_uid": 1, "create_date": now - timedelta(days=400), "write_uid": 1, "write_date": now}
    ex("INSERT INTO res_company (id, name, partner_id) VALUES (1, 'Clínica San Rafael', 1)")
    clinic = _partner(ex, {"name": "Clínica San Rafael", "display_name": "Clínica San Rafael", "company_id": 1,
                           "active": True, "is_company": True, "is_institution": True, "customer": False,
                           "supplier": False, "type": "contact", "street": "Calle Mayor 12", "city": "Madrid",
                           "zip": "28013", "phone": "+34 915 31 22 40", "email": "citas@clinicasanrafael.es",
                           "lang": "es_ES", "tz": ZONE, **base})
    ex("INSERT INTO res_users (id, login, company_id, partner_id, active, share, create_date) "
       "VALUES (1, 'admin', 1, %s, true, false, %s)", (clinic, base["create_date"]))
    desk = _partner(ex, {"name": "Rosa Jiménez", "display_name": "Rosa Jiménez", "firstname": "Rosa",
                         "lastname": "Jiménez", "email": "recepcion@clinicasanrafael.es", "active": True,
                         "employee": True, "type": "contact", "company_id": 1, "lang": "es_ES", "tz": ZONE, **base})
    ex("INSERT INTO res_users (id, login, company_id, partner_id, active, share) VALUES (2, 'rosa', 1, %s, true, "
       "false)", (desk,))
    for s, (name, sequence, _) in enumerate(STAGES, 1):
        ex("INSERT INTO medical_appointment_stage (id, name, sequence, fold, is_default, create_uid, create_date) "
           "VALUES (%s, %s, %s, %s, %s, 1, %s)", (s, name, sequence, sequence in (5, 40, 50, 60), sequence == 10,
                                                    base["create_date"]))
    doctors = []
    for d, (first, last, speciality) in enumerate(DOCTORS, 1):
        ex("INSERT INTO medical_specialty (id, code, name) VALUES (%s, %s, %s)", (d, speciality[:3].upper(),
                                                                                   speciality))
        email = f"{first.lower()}.{last.split()[0].lower().replace('í', 'i').replace('ó', 'o')}@clinicasanrafael.es"
        partner = _partner(ex, {"name": f"{first} {last}", "display_name": f"{first} {last}", "firstname": first,
                                "lastname": last, "email": email, "mobile": _typed(real.valid_number(
                                    rng, "+346", 12), d), "active": True, "is_doctor": True, "supplier": True,
                                "customer": False, "type": "contact", "parent_id": clinic, "company_id": 1,
                                "lang": "es_ES", "tz": ZONE, **base})
        ex("INSERT INTO res_users (id, login, company_id, partner_id, active, share) VALUES (%s, %s, 1, %s, true, "
           "false)", (2 + d, email, partner))
        ex("INSERT INTO medical_physician (id, partner_id, code, specialty_id, active, create_uid, create_date) "
           "VALUES (%s, %s, %s, %s, true, 1, %s)", (d, partner, f"COL-28{d:05d}", d, base["create_date"]))
        doctors.append((d, f"{first} {last}", email))
    patients: dict[int, tuple[str, str | None, str | None]] = {}
    for p in range(1, PATIENTS + 1):
        first, last = GIVEN[p % len(GIVEN)], f"{FAMILY[p % len(FAMILY)]} {FAMILY[(p * 5) % len(FAMILY)]}"
        mobile = real.valid_number(rng, ("+346", "+347")[p % 2], 12) if p % 9 != 4 else None
        landline = real.valid_number(rng, "+3491", 12) if p % 3 == 0 else None
        email = f"{first.lower()}{p}@correo.es".replace("í", "i").replace("á", "a").replace("ú", "u") \
            if p % 4 else None
        partner = _partner(ex, {"name": f"{first} {last}", "display_name": f"{first} {last}", "firstname": first,
                                "lastname": last, "email": email, "mobile": _typed(mobile, p) if mobile else None,
                                "phone": _typed(landline, p + 2) if landline else None, "active": True,
                                "customer": True, "is_patient": True, "type": "contact", "company_id": 1,
                                "birthdate_date": f"{1940 + p % 70}-{1 + p % 12:02d}-{1 + p % 28:02d}",
                                "gender": ("female", "male")[p % 2], "city": "Madrid", "lang": "es_ES", **base})
        ex("INSERT INTO medical_patient (id, partner_id, active, identification_code, marital_status, is_pregnant, "
           "create_uid, create_date, write_uid, write_date) VALUES (%s, %s, %s, %s, %s, false, 2, %s, 2, %s)",
           (p, partner, p % 23 != 7, f"PAT{p:06d}", "smw"[p % 3], base["create_date"], now))
        patients[p] = (f"{first} {last}", mobile or landline, email)
    truth: dict[str, dict[str, Any]] = {}
    for n in range(1, VISITS + 1):
        future = n % 3 != 0
        day = (now + timedelta(days=1 + n % 28)).date() if future else (now - timedelta(days=2 + n % 200)).date()
        local = datetime(day.year, day.month, day.day, 9 + n % 9, 15 * (n % 4), tzinfo=zone)
        start = local.astimezone(UTC).replace(tzinfo=None)
        minutes = (30, 15, 45, 30)[n % 4]
        stage = (rng.choices([2, 3, 7, 1], [30, 55, 10, 5])[0] if future
                 else rng.choices([6, 7, 4, 5], [80, 14, 3, 3])[0])
        pid = 1 + rng.randrange(PATIENTS)
        while future and pid % 23 == 7:  # an archived patient (left the practice) has no visit ahead
            pid = 1 + rng.randrange(PATIENTS)
        doctor = doctors[n % 3]
        created = now - timedelta(days=10 + n % 40)
        ex("INSERT INTO medical_appointment (id, user_id, patient_id, name, force_schedule, appointment_date, "
           "date_end, duration, physician_id, comments, appointment_type, institution_id, urgency, specialty_id, "
           "stage_id, create_uid, create_date, write_uid, write_date) "
           "VALUES (%s, 2, %s, %s, false, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 2, %s, 2, %s)",
           (n, pid, f"APP{n:05d}", start, start + timedelta(minutes=minutes), float(minutes), doctor[0],
            "Trae los análisis" if n % 7 == 0 else None, KINDS[n % 5], clinic, "a" if n % 13 else "b", doctor[0],
            stage, created, now))
        for m in range(1 + (stage != 2)):
            ex("INSERT INTO mail_message (date, body, model, res_id, record_name, message_type, author_id, "
               "create_uid, create_date) VALUES (%s, %s, 'medical.appointment', %s, %s, 'notification', %s, 2, %s)",
               (created + timedelta(hours=m), "<p>Cita creada</p>" if m == 0 else "<p>Etapa cambiada</p>", n,
                f"APP{n:05d}", desk, created + timedelta(hours=m)))
        if not future:
            continue
        name, phone, email = patients[pid]
        truth[str(n)] = {
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": STAGES[stage - 1][2], "patient": str(pid), "name": name, "phone": phone, "email": email,
            "doctor": str(doctor[0]), "doctor_name": doctor[1], "doctor_email": doctor[2], "zone": ZONE,
            "location": "Clínica San Rafael", "type": DOCTORS[doctor[0] - 1][2]}
    return truth


@pytest.mark.postgres
def test_oca_medical_appointments_through_odoo_partners(postgres_url: str, tmp_path: Path, cli: Any) -> None:
    """Every visit ahead right on every field, with the six lines of getting-started and the URL:
    the status the stage's name (its words mapped, 'Draft' pending, 'Confirm' booked), the location the
    medical centre's partner reached through ``institution_id``, whose phone and email are no
    patient's fallback (a patient with none gets none), the doctor's name and email on their own
    partner, times read as Odoo's UTC."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        truth = build(connection)
    settings = real.settings_file(tmp_path, ZONE, REGION)
    run = cli(settings)
    connector = real.discover_then_check(run, settings, [postgres_url])
    fields = real.written_mapping(tmp_path)["fields"]
    assert fields["status"] == {"from": "stage_name"}, fields
    assert fields["location"] == {"from": "institution_name"}, fields
    assert "institution" not in str(fields["patient.phone"]) + str(fields["patient.email"]), fields
    found = real.sync_and_compare(run, connector, {k: real.want(t) for k, t in truth.items()}, ZONE)
    right = real.scores(found, truth)
    print("scores", right, "of", len(truth))
    assert right == dict.fromkeys(right, len(truth)), right
