"""Practice databases as small clinics write them for themselves, for the go-live tests.

Synthetic (no real patients): a PostgreSQL schema of three tables (`patients`, `doctors`,
`appointments`, date and time of day in separate columns, local wall-clock times without a
zone, free-text status words) and a Flask-SQLAlchemy style MariaDB table (`appointment`,
one `DATETIME` start, an `is_cancelled` flag), each filled with 180 days of bookings: 150
days of history and 30 days ahead, all booked before go-live."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import cycle

POSTGRES_DDL = """
CREATE TABLE doctors (
    id          serial PRIMARY KEY,
    full_name   varchar(120) NOT NULL,
    email       varchar(255) UNIQUE,
    specialty   varchar(80),
    active      boolean NOT NULL DEFAULT true
);
CREATE TABLE patients (
    id                 serial PRIMARY KEY,
    first_name         varchar(60) NOT NULL,
    last_name          varchar(60) NOT NULL,
    dob                date,
    phone              varchar(30),
    email              varchar(255),
    preferred_language varchar(10) DEFAULT 'en',
    created_at         timestamp NOT NULL DEFAULT now()
);
CREATE TABLE appointments (
    id           serial PRIMARY KEY,
    patient_id   integer NOT NULL REFERENCES patients(id),
    doctor_id    integer NOT NULL REFERENCES doctors(id),
    appt_date    date NOT NULL,
    appt_time    time NOT NULL,
    duration_min integer NOT NULL DEFAULT 20,
    reason       varchar(200),
    status       varchar(20) NOT NULL DEFAULT 'scheduled',
    notes        text,
    created_at   timestamp NOT NULL DEFAULT now(),
    updated_at   timestamp NOT NULL DEFAULT now()
);
CREATE INDEX appointments_updated_at ON appointments (updated_at);
"""

# What the docs' "Mapping your own query" section leads an admin to write for it.
POSTGRES_QUERY = (
    "SELECT a.id, a.appt_date, a.appt_time, a.duration_min, a.status, a.reason, a.updated_at, "
    "p.id AS patient_id, p.first_name || ' ' || p.last_name AS patient_name, p.phone, p.email, "
    "p.preferred_language, d.id AS doctor_id, d.full_name AS doctor_name, d.email AS doctor_email "
    "FROM appointments a JOIN patients p ON p.id = a.patient_id JOIN doctors d ON d.id = a.doctor_id")
POSTGRES_MAPPING = """\
name: practice_pg
description: the clinic's own patients/doctors/appointments schema
status_map: {scheduled: booked, confirmed: booked, completed: fulfilled, "no-show": noshow, cancelled: cancelled}
fields:
  external_id: {from: id, required: true}
  start: {date: appt_date, time: appt_time}
  duration_minutes: {from: duration_min}
  status: {from: status}
  type: {from: reason}
  source_updated_at: {from: updated_at}
  patient.external_id: {from: patient_id}
  patient.name: {from: patient_name}
  patient.phone: {from: phone, on_invalid: drop}
  patient.email: {from: email, on_invalid: drop}
  patient.language: {from: preferred_language, on_invalid: drop}
  practitioner.external_id: {from: doctor_id}
  practitioner.name: {from: doctor_name}
  practitioner.email: {from: doctor_email}
"""

MARIADB_DDL = """
CREATE TABLE appointment (
    id            INT AUTO_INCREMENT PRIMARY KEY,
    patient_name  VARCHAR(120) NOT NULL,
    patient_phone VARCHAR(32),
    patient_email VARCHAR(120),
    doctor        VARCHAR(80) NOT NULL,
    start_time    DATETIME NOT NULL,
    duration      INT NOT NULL DEFAULT 30,
    service       VARCHAR(80),
    is_cancelled  TINYINT(1) NOT NULL DEFAULT 0,
    created_on    DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    modified_on   DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    INDEX ix_appointment_modified_on (modified_on)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
MARIADB_QUERY = ("SELECT id, patient_name, patient_phone, patient_email, doctor, start_time, duration, service, "
                 "CASE WHEN is_cancelled = 1 THEN 'cancelled' ELSE 'booked' END AS status, modified_on "
                 "FROM appointment")
MARIADB_MAPPING = """\
name: flask_booking
description: a Flask-SQLAlchemy booking app's single appointment table
fields:
  external_id: {from: id, required: true}
  start: {from: start_time}
  duration_minutes: {from: duration}
  status: {from: status}
  type: {from: service}
  source_updated_at: {from: modified_on}
  patient.external_id: {from: patient_phone}
  patient.name: {from: patient_name}
  patient.phone: {from: patient_phone, on_invalid: drop}
  patient.email: {from: patient_email, on_invalid: drop}
  practitioner.external_id: {from: doctor}
  practitioner.name: {from: doctor}
"""

DOCTORS = [("Grace Okafor", "grace.okafor@clinic.example.org", "Family medicine"),
           ("Luis Ortega", "luis.ortega@clinic.example.org", "Pediatrics"),
           ("Mei Chen", "mei.chen@clinic.example.org", "Dermatology")]
FIRST = ["Ana", "Ben", "Carla", "Dev", "Elif", "Farid", "Gwen", "Hugo", "Ines", "Jon", "Kemal", "Lena"]
LAST = ["Ruiz", "Okafor", "Tran", "Novak", "Haddad", "Silva", "Berg", "Moreau"]
REASONS = ["Annual physical", "Follow-up", "Vaccination", "Skin check", "Well-child visit"]
SLOTS = [time(9, 0), time(10, 30), time(13, 0), time(15, 30)]


@dataclass(frozen=True)
class Booking:
    patient: int  # index into patients()
    doctor: int
    day: date
    at: time
    reason: str
    status: str  # scheduled | confirmed | completed | no-show | cancelled
    booked_at: datetime  # local wall clock, before go-live


def patients() -> list[tuple[str, str, date, str, str]]:
    """first name, last name, birth date, phone, email."""
    out = []
    for i in range(40):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 5) % len(LAST)]
        out.append((first, last, date(1950 + i, 1 + i % 12, 1 + i % 27), f"(312) 555-{100 + i:04d}",
                    f"{first.lower()}.{last.lower()}{i}@example.org"))
    return out


def bookings(today: date, booked_before: datetime) -> list[Booking]:
    """Weekday bookings from 150 days ago to 30 days ahead: past ones completed (some
    no-shows and cancellations), future ones scheduled or confirmed (a few cancelled)."""
    out: list[Booking] = []
    patient = cycle(range(40))
    n = 0
    for offset in range(-150, 31):
        day = today + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for doctor in range(len(DOCTORS)):
            for slot in SLOTS[: 2 + (offset + doctor) % 3]:
                n += 1
                past = offset < 0
                status = ("cancelled" if n % 17 == 0 else "no-show" if past and n % 11 == 0
                          else "completed" if past else "confirmed" if n % 3 == 0 else "scheduled")
                booked = min(datetime.combine(day, slot) - timedelta(days=7 + n % 20), booked_before)
                out.append(Booking(next(patient), doctor, day, slot, REASONS[n % len(REASONS)], status, booked))
    return out
