"""`discover` on the real shape of Medplum's own PostgreSQL database (tests/fixtures/ehr/medplum,
with its SOURCE note), the open-source FHIR server a clinic may host itself and point clinicsync
at read-only instead of its FHIR API. What it has: one table per FHIR resource type, named by the
type ("Appointment", "Patient", "Practitioner", "Encounter", "Observation"...), each with `id
uuid`, `content text` (the resource's whole FHIR R4 JSON), `"lastUpdated" timestamptz`, `deleted
boolean` (a deleted resource keeps its row) and search-parameter copies of the JSON (`date`,
`status`, references as 'Patient/<uuid>' text in `text[]` columns); lookup tables keyed by
`"resourceId"` (`HumanName`, `ContactPoint`, `Address`, `Identifier`) and reference tables
(`Appointment_References`). An appointment's start and end are instants with an offset, its
patient and practitioner participants' references 'Patient/<uuid>' and 'Practitioner/<uuid>'.
Beside the appointments, encounters and observations (more rows, with dates). Driven as the admin
would: ``discover --write`` with the URL; ``build`` keeps per visit ahead every field the store
would have to hold, for the day the store's JSON is mapped from SQL."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.discover import real_ehr_support as real

ZONE, REGION = "America/New_York", "US"
FIXTURE = real.FIXTURES / "medplum" / "schema.sql"
DOCTORS = [("Maria", "Lopez"), ("James", "Carter"), ("Aisha", "Rahman")]
GIVEN = ["Ana", "Luis", "Mary", "Wei", "Grace", "Omar", "Ines", "Tom", "Keisha", "Dmitri", "Priya", "Sean"]
FAMILY = ["Ruiz", "Smith", "Chen", "Okafor", "Berg", "Patel", "Nguyen", "Walsh", "Kowalski"]
PATIENTS, VISITS = 50, 100
PROJECT = "3f0c1d2e-5b6a-4c7d-8e9f-0a1b2c3d4e5f"


def _instant(when: datetime) -> str:
    """A FHIR instant as a client writes it: the clinic's wall clock with its offset."""
    return when.isoformat(timespec="milliseconds")


class _Rows:
    """Inserts a resource as the server does: its JSON in `content` and its search columns."""

    def __init__(self, connection: psycopg.Connection[Any], made: datetime) -> None:
        self.connection, self.made = connection, made
        self.ids = random.Random(2214)  # a discover sample is drawn in id order: the same on each run

    def resource(self, kind: str, body: dict[str, Any], columns: dict[str, Any], deleted: bool = False,
                 when: datetime | None = None) -> str:
        rid = real.seeded_uuid(self.ids)
        stamp = when or self.made
        content = {"resourceType": kind, "id": rid,
                   "meta": {"versionId": real.seeded_uuid(self.ids),
                            "lastUpdated": stamp.isoformat(timespec="milliseconds"), "project": PROJECT}, **body}
        row = {"id": rid, "content": json.dumps(content), "lastUpdated": stamp, "compartments": [PROJECT],
               "deleted": deleted, "projectId": PROJECT, **columns}
        names = ", ".join(f'"{c}"' for c in row)
        self.connection.execute(f'INSERT INTO "{kind}" ({names}) VALUES ({", ".join(["%s"] * len(row))})',
                                list(row.values()))
        return rid

    def lookup(self, table: str, row: dict[str, Any]) -> None:
        names = ", ".join(f'"{c}"' for c in row)
        self.connection.execute(f'INSERT INTO "{table}" ({names}) VALUES ({", ".join(["%s"] * len(row))})',
                                list(row.values()))


def _person(rows: _Rows, kind: str, given: str, family: str, telecom: list[dict[str, str]],
            extra: dict[str, Any], columns: dict[str, Any], deleted: bool = False) -> str:
    """A Patient or Practitioner: its name and telecom in the JSON, and the lookup rows beside."""
    rid = rows.resource(kind, {"name": [{"given": [given], "family": family}], "telecom": telecom, **extra},
                        columns, deleted)
    rows.lookup("HumanName", {"resourceId": rid, "name": f"{given} {family}", "given": given, "family": family})
    for index, point in enumerate(telecom):
        rows.lookup("ContactPoint", {"id": real.seeded_uuid(rows.ids), "resourceId": rid, "index": index,
                                     "content": json.dumps(point), "system": point["system"],
                                     "value": point["value"]})
    return rid


def _people(rows: _Rows, rng: random.Random) -> dict[str, dict[str, Any]]:
    patients: dict[str, dict[str, Any]] = {}
    for p in range(PATIENTS):
        given, family = GIVEN[p % len(GIVEN)], FAMILY[(p * 5) % len(FAMILY)]
        mobile = real.valid_number(rng, "+1212", 12) if p % 7 else None
        email = f"{given.lower()}.{family.lower()}{p}@mail.example.com" if p % 3 else None
        telecom = []
        if p % 5 == 0:  # a home line first, then the mobile
            telecom.append({"system": "phone", "value": f"(718) 555-{1000 + p:04d}", "use": "home"})
        if mobile:
            typed = (f"({mobile[2:5]}) {mobile[5:8]}-{mobile[8:]}", f"{mobile[2:5]}-{mobile[5:8]}-{mobile[8:]}",
                     mobile)[p % 3]
            telecom.append({"system": "phone", "value": typed, "use": "mobile"})
        if email:
            telecom.append({"system": "email", "value": email})
        gone = p in (11, 37)
        pid = _person(rows, "Patient", given, family, telecom,
                      {"gender": ("female", "male")[p % 2], "birthDate": f"{1950 + p % 55}-{1 + p % 12:02d}-15"},
                      {"gender": ("female", "male")[p % 2], "birthdate": f"{1950 + p % 55}-{1 + p % 12:02d}-15",
                       "active": True}, deleted=gone)
        home = next((t["value"] for t in telecom if t["system"] == "phone"), None)
        patients[pid] = {"name": f"{given} {family}", "mobile": mobile, "home": home, "email": email, "gone": gone}
    return patients


def _history(rows: _Rows, ids: list[str], doctors: list[str], now: datetime, clinic: ZoneInfo) -> None:
    """What a year of use leaves beside the appointments: encounters and their vital signs."""
    for n in range(160):
        start = (now - timedelta(days=1 + n % 300, hours=n % 9)).astimezone(clinic)
        patient, doctor = ids[n % len(ids)], doctors[n % len(doctors)]
        eid = rows.resource("Encounter", {
            "status": "finished", "class": {"code": "AMB"}, "subject": {"reference": f"Patient/{patient}"},
            "participant": [{"individual": {"reference": f"Practitioner/{doctor}"}}],
            "period": {"start": _instant(start), "end": _instant(start + timedelta(minutes=40))}},
            {"date": start, "patient": f"Patient/{patient}", "subject": f"Patient/{patient}", "status": "finished",
             "class": "AMB", "practitioner": [f"Practitioner/{doctor}"],
             "participant": [f"Practitioner/{doctor}"]}, when=start)
        for code, value in (("8867-4", 60 + n % 30), ("29463-7", 55 + n % 40)):
            rows.resource("Observation", {
                "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "subject": {"reference": f"Patient/{patient}"}, "encounter": {"reference": f"Encounter/{eid}"},
                "effectiveDateTime": _instant(start), "valueQuantity": {"value": value}},
                {"date": start, "patient": f"Patient/{patient}", "subject": f"Patient/{patient}",
                 "encounter": f"Encounter/{eid}", "status": "final", "code": code, "valueQuantity": value},
                when=start)


def build(connection: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    """The schema from the fixture, filled; per visit ahead every field the store must hold."""
    real.run_ddl(connection, FIXTURE)
    rng = random.Random(2214)
    clinic = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    rows = _Rows(connection, now - timedelta(days=400))
    doctors = []
    for d, (given, family) in enumerate(DOCTORS):
        email = f"{given.lower()}.{family.lower()}@riverside.example.com"
        doctors.append((_person(rows, "Practitioner", given, family,
                                [{"system": "email", "value": email}, {"system": "phone", "value": "(212) 555-0100"}],
                                {"active": True}, {"active": True, "gender": ("female", "male")[d % 2]}),
                        f"{given} {family}", email))
    patients = _people(rows, rng)
    ids = list(patients)
    _history(rows, ids, [d[0] for d in doctors], now, clinic)
    local_now = now.astimezone(clinic)
    expected: dict[str, dict[str, Any]] = {}
    for n in range(VISITS):
        future = n % 4 != 0
        ahead = timedelta(days=1 + n % 30) if future else -timedelta(days=2 + n % 60)
        day = (local_now + ahead).date()
        start = datetime(day.year, day.month, day.day, 8 + n % 9, 15 * (n % 4), tzinfo=clinic)
        end = start + timedelta(minutes=(30, 20, 45)[n % 3])
        status = (rng.choices(["booked", "cancelled"], [88, 12])[0] if future
                  else rng.choices(["fulfilled", "noshow", "cancelled"], [75, 15, 10])[0])
        pid = ids[rng.randrange(PATIENTS)]
        doctor = doctors[n % len(doctors)]
        person = patients[pid]
        body = {"status": status, "start": _instant(start), "end": _instant(end), "minutesDuration":
                int((end - start).total_seconds() // 60),
                "serviceType": [{"text": ("Check-up", "Follow-up", "Vaccination")[n % 3]}],
                "participant": [{"actor": {"reference": f"Patient/{pid}", "display": person["name"]},
                                 "status": "accepted"},
                                {"actor": {"reference": f"Practitioner/{doctor[0]}", "display": doctor[1]},
                                 "status": "accepted"}]}
        deleted = n % 23 == 6
        aid = rows.resource("Appointment", body, {
            "date": start, "status": status, "actor": [f"Patient/{pid}", f"Practitioner/{doctor[0]}"],
            "patient": [f"Patient/{pid}"], "practitioner": [f"Practitioner/{doctor[0]}"],
            "partStatus": ["accepted"]}, deleted=deleted, when=now - timedelta(days=rng.randrange(1, 40)))
        for code, target in (("patient", pid), ("practitioner", doctor[0]), ("actor", pid), ("actor", doctor[0])):
            rows.lookup("Appointment_References", {"resourceId": aid, "targetId": target, "code": code})
        if not future or deleted or person["gone"]:
            continue
        expected[aid] = {
            "start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": status, "patient": pid, "name": person["name"], "phone": person["mobile"],
            "email": person["email"], "doctor": doctor[0], "doctor_name": doctor[1], "zone": ZONE}
    return expected


@pytest.mark.postgres
def test_medplum_fhir_store_is_named_and_the_fhir_api_pointed_to(postgres_url: str, tmp_path: Path,
                                                                 cli: Any) -> None:
    """Read by its shape, this store gave no visit right (a references table of two ids and a
    code taken for the visits, no start: every sampled record quarantined). Discover now says
    what it is, a store of FHIR resources kept as JSON per type table, and points the admin to
    the server's FHIR API; nothing is written, so nothing can be synced wrong. Mapping the
    store's JSON from SQL (every field of every visit of ``truth``) is not built yet."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        truth = build(connection)
    assert len(truth) >= 60  # the visits ahead a mapping would have to get right, field by field
    settings = real.settings_file(tmp_path, ZONE, REGION)
    before = settings.read_text(encoding="utf-8")
    run = cli(settings)
    _, out, err = run("discover", postgres_url, "--write", expect=2)
    assert "'Appointment'.'content'" in err and "whole FHIR resources as JSON" in err, (out, err)
    assert "'Encounter'.'content'" in err, err  # the dated tables beside hold resources of their type too
    assert "FHIR base URL" in err and "kind: fhir" in err, err
    assert settings.read_text(encoding="utf-8") == before and not (tmp_path / "mappings").exists()
