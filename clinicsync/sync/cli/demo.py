"""The self-refreshing demo sample: a realistic fortnight of a small clinic,
generated deterministically around a date so the demo always has upcoming visits."""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, timedelta
from pathlib import Path

from clinicsync.common.timeutil import zone

COLUMNS = ["appointment_id", "start", "end", "duration_minutes", "timezone", "status", "type",
           "patient_id", "patient_name", "patient_phone", "patient_email", "patient_language",
           "patient_channel", "doctor_id", "doctor_name", "doctor_email", "location"]
DOCTORS = [
    ("D01", "Dr. Amelia Hart", "amelia.hart@clinic.example.org", "Main Street Clinic"),
    ("D02", "Dr. Rafael Ortiz", "rafael.ortiz@clinic.example.org", "Main Street Clinic"),
    ("D03", "Dr. Priya Natarajan", "priya.natarajan@clinic.example.org", "Main Street Clinic"),
    ("D04", "Dr. Tomasz Nowak", "tomasz.nowak@clinic.example.org", "Riverside Annex"),
    ("D05", "Dr. Grace Okafor", "grace.okafor@clinic.example.org", "Riverside Annex"),
    ("D06", "Dr. Lucía Fernández", "lucia.fernandez@clinic.example.org", "Lakeview Satellite"),
]
FIRST = ["Ana", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jamal", "Kaito", "Lena",
         "Mateo", "Nora", "Omar", "Paula", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Will", "Yara"]
LAST = ["Alvarez", "Brown", "Chen", "Dubois", "Evans", "Fischer", "García", "Haddad", "Ito", "Jensen",
        "Kowalski", "López", "Müller", "Nguyen", "O'Brien", "Patel", "Rossi", "Schmidt", "Tanaka", "Weber"]
TYPES = ["Follow-up", "New patient", "Annual physical", "Vaccination", "Consultation", "Lab review"]
AREA_CODES = ["212", "347", "646", "718", "917", "201"]
SATELLITE_ZONE = "America/Chicago"


def _patients(rng: random.Random, count: int) -> list[dict[str, str]]:
    patients = []
    for index in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        language = rng.choices(["en", "es", "fr"], weights=[70, 25, 5])[0]
        channel = rng.choices(["sms", "email", "whatsapp"], weights=[60, 30, 10])[0]
        patients.append({
            "patient_id": f"P{index + 1:04d}",
            "patient_name": f"{first} {last}",
            "patient_phone": f"({rng.choice(AREA_CODES)}) 555-01{rng.randrange(100):02d}",
            "patient_email": f"{first}.{last}{index}@mail.example.com".lower().replace("'", ""),
            "patient_language": language,
            "patient_channel": channel,
        })
    return patients


def generate_rows(anchor: date, clinic_timezone: str = "America/New_York", seed: int = 7,
                  days: int = 14, per_doctor_per_day: int = 4) -> list[dict[str, str]]:
    """Appointments over ``days`` days from ``anchor``, plus a few deliberately bad rows."""
    rng = random.Random(seed)
    patients = _patients(rng, 160)
    rows: list[dict[str, str]] = []
    serial = 1000
    for day in range(days):
        current = anchor + timedelta(days=day)
        if current.weekday() == 6:
            continue  # closed on Sundays
        for doctor_id, doctor_name, doctor_email, location in DOCTORS:
            slots = sorted(rng.sample(range(8 * 4, 17 * 4), per_doctor_per_day))
            for slot in slots:
                serial += 1
                patient = rng.choice(patients)
                duration = rng.choice([15, 30, 30, 45, 60])
                local = datetime.combine(current, datetime.min.time()) + timedelta(minutes=15 * slot)
                row = {column: "" for column in COLUMNS}
                row.update(patient)
                row.update({
                    "appointment_id": f"A{serial}",
                    "status": rng.choices(["scheduled", "confirmed", "cancelled", "Booked"],
                                          weights=[55, 35, 5, 5])[0],
                    "type": rng.choice(TYPES),
                    "doctor_id": doctor_id, "doctor_name": doctor_name, "doctor_email": doctor_email,
                    "location": location,
                })
                if location == "Lakeview Satellite":
                    row["timezone"] = SATELLITE_ZONE
                    row["start"] = local.strftime("%Y-%m-%d %H:%M")
                    row["duration_minutes"] = str(duration)
                elif serial % 3 == 0:
                    aware = local.replace(tzinfo=zone(clinic_timezone))
                    row["start"] = aware.isoformat(timespec="minutes")
                    row["end"] = (aware + timedelta(minutes=duration)).isoformat(timespec="minutes")
                else:
                    row["start"] = local.strftime("%Y-%m-%d %H:%M")
                    row["duration_minutes"] = str(duration)
                rows.append(row)
    rows.extend(_bad_rows(anchor, patients[0]))
    return rows


def _bad_rows(anchor: date, patient: dict[str, str]) -> list[dict[str, str]]:
    """One row per kind of mistake a real export makes; each must land in quarantine."""
    base = {column: "" for column in COLUMNS}
    base.update(patient)
    base.update({"doctor_id": "D01", "doctor_name": DOCTORS[0][1], "doctor_email": DOCTORS[0][2],
                 "status": "scheduled", "type": "Follow-up", "duration_minutes": "30",
                 "location": DOCTORS[0][3]})
    day = anchor.isoformat()
    # A wall-clock time inside the spring-forward gap of the next March in New York.
    gap_year = anchor.year + 1 if anchor >= date(anchor.year, 3, 1) else anchor.year
    second_sunday = min(d for d in (date(gap_year, 3, n) for n in range(8, 15)) if d.weekday() == 6)
    return [
        {**base, "appointment_id": "", "start": f"{day} 09:00"},
        {**base, "appointment_id": "BAD-DATE", "start": "next tuesday-ish"},
        # (a bad phone alone is no longer one: it is dropped with a note, the visit still syncs)
        {**base, "appointment_id": "BAD-PATIENT", "start": f"{day} 10:00", "patient_id": ""},
        {**base, "appointment_id": "BAD-END", "start": f"{day} 11:00", "end": f"{day} 10:30",
         "duration_minutes": ""},
        {**base, "appointment_id": "BAD-STATUS", "start": f"{day} 12:00", "status": "maybe later"},
        {**base, "appointment_id": "BAD-DST", "start": f"{second_sunday.isoformat()} 02:30"},
    ]


def write_csv(rows: list[dict[str, str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
