"""`discover` on the real shape of Mediboard, a French hospital and practice system, in MariaDB
(tests/fixtures/ehr/mediboard, with its SOURCE note). No foreign key is declared. A consultation
keeps its TIME (`heure`) and its length as a count of slots (`duree`); its DAY, the slot length
(`freq`) and the doctor (`chir_id`, a user) are on the session it is booked into (`plageconsult`).
Its state is a number (`chrono`: 16 planned, 32 arrived, 48 in consultation, 64 done) beside a
cancel flag (`annule` '0'/'1'); a row without a patient is a pause the doctor blocked. Patients
keep a landline (`tel`) and a mobile (`tel2`); users are doctors and secretaries alike.
Driven as the admin would: ``discover --write`` (which runs ``check``), then ``sync --once``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.discover import real_ehr_support as real

ZONE = "Europe/Paris"
REGION = "FR"
DOCTORS = [(11, "Claire", "MARCHAND", 13, "c.marchand@ch-exemple.fr", 15),
           (12, "Julien", "ROUSSEL", 3, "j.roussel@ch-exemple.fr", 20),
           (13, "Amina", "BENALI", 13, "a.benali@ch-exemple.fr", 15)]
STAFF = [(21, "Sophie", "DUVAL", 10), (22, "Marc", "LEROY", 2)]  # a secretary, a receptionist
FIRST = ["Louis", "Emma", "Hugo", "Jade", "Léa", "Gabriel", "Chloé", "Arthur", "Manon", "Raphaël"]
LAST = ["MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "PETIT", "DURAND", "LEFÈVRE"]
# What `chrono` means in Mediboard (16 planned, 32 arrived, 48 in consultation, 64 done): product
# knowledge no value carries, so discover leaves it unplaced and every visit not cancelled is booked.
CHRONO = {16: "booked", 32: "booked", 48: "booked", 64: "booked"}
PATIENTS, DAYS = 70, 24


def spaced(e164: str) -> str:
    """A French number as the desk types it: 06 12 34 56 78."""
    national = "0" + e164[3:]
    return " ".join(national[i:i + 2] for i in range(0, 10, 2))


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The module's rows as Mediboard writes them; what the store must then hold per consultation."""
    real.load_schema(cursor, "mediboard")
    rng = random.Random(8123)
    now = datetime.now(ZoneInfo(ZONE)).replace(second=0, microsecond=0)
    wall = now.replace(tzinfo=None)
    cursor.execute("INSERT INTO functions_mediboard (function_id, group_id, type, text) VALUES "
                   "(1, 1, 'cabinet', 'Consultations externes'), (2, 1, 'administratif', 'Secrétariat')")
    for user, first, last, kind, email, _ in DOCTORS:
        cursor.execute("INSERT INTO users (user_id, user_username, user_password, user_type, user_first_name, "
                       "user_last_name, user_email, user_phone, user_password_last_change) VALUES "
                       "(%s, %s, %s, %s, %s, %s, %s, '01 45 00 00 10', %s)",
                       (user, f"{first[0]}{last}".lower(), "0" * 64, kind, first, last, email, wall))
        cursor.execute("INSERT INTO users_mediboard (user_id, function_id, actif, rpps) VALUES (%s, 1, '1', %s)",
                       (user, f"10003{user:06d}"))
    for user, first, last, kind in STAFF:
        cursor.execute("INSERT INTO users (user_id, user_username, user_password, user_type, user_first_name, "
                       "user_last_name, user_email, user_password_last_change) VALUES (%s, %s, %s, %s, %s, %s, "
                       "%s, %s)", (user, f"{first[0]}{last}".lower(), "0" * 64, kind, first, last,
                                   f"{first.lower()}@ch-exemple.fr", wall))
        cursor.execute("INSERT INTO users_mediboard (user_id, function_id, actif) VALUES (%s, 2, '1')", (user,))
    patients: dict[int, tuple[str, str]] = {}
    for p in range(1, PATIENTS + 1):
        first, last = FIRST[p % len(FIRST)], LAST[(p * 3) % len(LAST)]
        mobile = real.valid_number(rng, "+336", 12)
        landline = real.valid_number(rng, "+331", 12)
        cursor.execute("INSERT INTO patients (patient_id, nom, prenom, civilite, naissance, sexe, ville, cp, tel, "
                       "tel2, email, matricule) VALUES (%s, %s, %s, 'mme', %s, 'f', 'Paris', '75011', %s, %s, %s, "
                       "%s)", (p, last, first, f"19{50 + p % 50}-0{1 + p % 9}-1{p % 9}", spaced(landline),
                               spaced(mobile) if p % 9 else None, f"{first.lower()}{p}@exemple.fr",
                               f"2{p:013d}"))
        patients[p] = (f"{first} {last}", mobile if p % 9 else landline)
    truth: dict[str, dict[str, Any]] = {}
    session = consultation = 0
    for offset in range(-3, DAYS):
        day = now.date() + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for doctor, _, _, _, _, freq in DOCTORS:
            session += 1
            cursor.execute("INSERT INTO plageconsult (plageconsult_id, chir_id, libelle, date, freq, debut, fin) "
                           "VALUES (%s, %s, 'Consultation', %s, %s, '09:00:00', '12:00:00')",
                           (session, doctor, day, f"00:{freq:02d}:00"))
            slot = 0
            while slot < 180 // freq - 2:
                slots = 1 + (consultation % 5 == 0)
                at = time(9 + slot * freq // 60, slot * freq % 60)
                consultation += 1
                if consultation % 13 == 0:  # a pause the doctor blocked: no patient
                    cursor.execute("INSERT INTO consultation (consultation_id, plageconsult_id, patient_id, heure, "
                                   "duree, motif, chrono) VALUES (%s, %s, NULL, %s, 1, 'PAUSE', 16)",
                                   (consultation, session, at))
                    slot += 1
                    continue
                patient = 1 + rng.randrange(PATIENTS)
                cancelled = consultation % 11 == 0
                chrono = 16 if offset > 0 else (64 if offset < 0 else 16)
                if offset < 0 and consultation % 7 == 0:
                    chrono = 48
                cursor.execute("INSERT INTO consultation (consultation_id, plageconsult_id, patient_id, heure, duree, "
                               "motif, chrono, annule, motif_annulation, premiere) VALUES (%s, %s, %s, %s, %s, %s, "
                               "%s, %s, %s, %s)",
                               (consultation, session, patient, at, slots, "Suivi", chrono,
                                "1" if cancelled else "0", "by_patient" if cancelled else None,
                                "1" if consultation % 6 == 0 else "0"))
                start = datetime.combine(day, at, ZoneInfo(ZONE))
                name, phone = patients[patient]
                truth[str(consultation)] = {
                    "start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "minutes": slots * freq, "status": "cancelled" if cancelled else CHRONO[chrono],
                    "day": day, "patient_id": str(patient), "name": name, "phone": phone,
                    "doctor_id": str(doctor)}
                slot += slots
    return truth


def expected(truth: dict[str, dict[str, Any]]) -> dict[str, real.Want]:
    """The consultations the window holds (whole days on the session's date); a cancelled one is
    kept with its status (no status column but the flag: cancelled when set)."""
    today = datetime.now(ZoneInfo(ZONE)).date()
    return {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], t["doctor_id"])
            for k, t in truth.items() if t["day"] >= today - timedelta(days=1)}


@pytest.mark.mariadb
def test_mediboard_through_discover_check_and_sync(mariadb_database: dict[str, Any], tmp_path: Any,
                                                   cli: Any) -> None:
    """Getting-started's six lines and the URL: each consultation at its own time on its session's
    day (never the session's opening time), the doctor the session is for (a user, reached by its
    values), the mobile before the landline, the cancelled kept as cancelled, the pauses left out."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"])])
    assert connector["stored_times"] == "local" if "stored_times" in connector else True
    assert "annule" in connector["query"] and "a.patient_id IS NOT NULL" in connector["query"]
    fields = yaml.safe_load(real.mapping_file(tmp_path).read_text(encoding="utf-8"))["fields"]
    assert fields["start"] == {"date": "plageconsult_date", "time": "heure"}, fields["start"]
    assert "end" not in fields, fields.get("end")
    assert fields["patient.phone"] == {"from": ["patient_tel2", "patient_tel"]}, fields["patient.phone"]
    found = real.sync_and_compare(run, connector, expected(truth), ZONE)
    names = {str(d[0]): f"{d[1]} {d[2]}" for d in DOCTORS}
    assert [k for k in found if (found[k].get("practitioner") or {}).get("name") != names[truth[k]["doctor_id"]]] == []
