"""Rows as MedShakeEHR writes them (tests/fixtures/ehr/medshake, with its SOURCE note), for the
test of `discover` on its real shape: a group practice in Paris keeping its diary in MedShakeEHR.

Everyone is a ``people`` row (``type`` 'pro' for the practitioners, who also log in under
``name``; 'patient' for the patients, no login). Nobody's name or phone is a column: each is an
``objets_data`` row (``toID`` the person, ``typeID`` a ``data_types`` row whose ``name`` says
what it is: ``firstname``, ``birthname``, ``lastname`` (the name in use, set for few), ``mobilePhone``,
``homePhone``, ``personalEmail``...; the value as typed, '06 12 34 56 78'). A value changed keeps
the old row with ``outdated`` 'y' (msObjet's ``UPDATE objets_data set outdated='y' ... id <
:lastID``); a value removed is ``deleted`` 'y'. The same table holds the medical record's rows
(weights, notes, consultations). A visit is an ``agenda`` row: ``userid`` the practitioner,
``patientid`` the patient, ``start``/``end`` the clinic's wall clock, ``statut`` 'actif' or
'deleted' (cancelled), ``absente`` 'oui' for a no-show, ``type`` the agenda's visit kind ('[C]')."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.discover import real_ehr_support as real

ZONE, REGION = "Europe/Paris", "FR"
# data_types ids as a fresh install numbers them (the fixture's seed rows)
FIRST, BIRTH, USAGE, TITLE, GENDER, BORN = 122, 120, 123, 125, 118, 119
MOBILE, HOME, EMAIL, PRO_EMAIL, PRO_PHONE, CITY, POSTCODE = 77, 76, 79, 81, 82, 3, 5
WEIGHT, HEIGHT, NOTES = 91, 95, 21  # poids, taillePatient, allergies: the medical record beside the identity
DOCTORS = [("drmartin", "Claire", "Martin"), ("drbernard", "Julien", "Bernard"), ("drpetit", "Sophie", "Petit")]
GIVEN = ["Camille", "Lucas", "Léa", "Hugo", "Chloé", "Louis", "Manon", "Gabriel", "Inès", "Arthur", "Jade",
         "Raphaël"]
FAMILY = ["Dubois", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "Roux",
          "Fournier", "Girard"]
CITIES = [("Paris", "75011"), ("Montreuil", "93100"), ("Vincennes", "94300")]
PATIENTS, VISITS = 45, 130
MINUTES = (15, 20, 30)
KINDS = ["[C]", "[C]", "[V]", "[U]"]
REASONS = ["Consultation de suivi", "Renouvellement ordonnance", "Vaccin grippe", "Certificat sport", ""]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _typed(number: str) -> str:
    """An E.164 French number as MedShake's form takes it: '06 12 34 56 78'."""
    digits = "0" + number[3:]
    return " ".join(digits[i:i + 2] for i in range(0, 10, 2))


class _Data:
    """objets_data rows written as msObjet writes them."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def put(self, by: int, person: int, kind: int, value: str, when: datetime, outdated: bool = False,
            deleted: bool = False) -> None:
        real.insert_row(self.cursor, "objets_data", {
            "fromID": by, "byID": None, "toID": person, "typeID": kind, "parentTypeID": 0, "instance": 0,
            "registerDate": when, "creationDate": when, "updateDate": when, "value": value,
            "outdated": "y" if outdated else "", "important": "n", "titre": "", "deleted": "y" if deleted else "",
            "deletedByID": by if deleted else None})


def _medical(data: _Data, rng: random.Random, by: int, person: int, when: datetime) -> None:
    """A few rows of the medical record: a weight, a height, a note."""
    data.put(by, person, WEIGHT, str(rng.randrange(50, 95)), when)
    data.put(by, person, HEIGHT, str(rng.randrange(150, 195)), when)
    data.put(by, person, NOTES, "Pénicilline" if person % 5 == 0 else "Aucune connue", when)


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The schema, the practitioners, the patients and their diary. The truth of every visit ahead,
    keyed by its UTC start."""
    rng = random.Random(20260414)
    clinic = ZoneInfo(ZONE)
    real.load_schema(cursor, "medshake")
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = (now - timedelta(days=500)).astimezone(clinic).replace(tzinfo=None)
    data = _Data(cursor)
    admin = real.insert_row(cursor, "people", {"name": "admin", "type": "pro", "rank": "admin", "module": "base",
                                               "pass": b"\x01" * 32, "registerDate": stamp, "fromID": 0})
    data.put(admin, admin, FIRST, "Secrétariat", stamp)
    data.put(admin, admin, BIRTH, "Cabinet", stamp)
    doctors = []
    for login, given, family in DOCTORS:
        doctor = real.insert_row(cursor, "people", {"name": login, "type": "pro", "rank": "", "module": "base",
                                                    "pass": b"\x02" * 32, "registerDate": stamp, "fromID": admin})
        data.put(admin, doctor, TITLE, "Dr", stamp)
        data.put(admin, doctor, FIRST, given, stamp)
        data.put(admin, doctor, BIRTH, family, stamp)
        data.put(admin, doctor, PRO_PHONE, _typed(real.valid_number(rng, "+331", 12)), stamp)
        data.put(admin, doctor, PRO_EMAIL, f"{login}@cabinet-republique.example", stamp)
        doctors.append((doctor, f"{given} {family}"))
    patients = []
    for p in range(PATIENTS):
        by = doctors[p % 3][0]
        since = stamp + timedelta(days=p * 3)
        person = real.insert_row(cursor, "people", {"name": None, "type": "patient", "module": "base",
                                                    "registerDate": since, "fromID": by})
        given, birth = GIVEN[p % len(GIVEN)], FAMILY[(p * 5) % len(FAMILY)]
        data.put(by, person, GENDER, ("F", "M")[p % 2], since)
        data.put(by, person, BIRTH, birth, since)
        data.put(by, person, FIRST, given, since)
        data.put(by, person, BORN, f"{1 + p % 28:02d}/{1 + p % 12:02d}/{1950 + p}", since)
        usage = None
        if p % 12 == 4:  # a name in use since a marriage: the one the patient answers to
            usage = FAMILY[(p * 5 + 3) % len(FAMILY)]
            data.put(by, person, USAGE, usage, since)
        city, code = CITIES[p % len(CITIES)]
        data.put(by, person, CITY, city, since)
        data.put(by, person, POSTCODE, code, since)
        mobile = real.valid_number(rng, ("+336", "+337")[p % 3 == 0], 12) if p % 11 != 3 else None
        if mobile and p % 4 == 1:  # the old mobile, replaced: outdated
            data.put(by, person, MOBILE, _typed(real.valid_number(rng, "+336", 12)), since, outdated=True)
        if mobile and p % 9 == 7:  # a number typed wrong, then removed
            data.put(by, person, MOBILE, _typed(real.valid_number(rng, "+337", 12)), since, deleted=True)
        if mobile:
            data.put(by, person, MOBILE, _typed(mobile), since + timedelta(days=30 if p % 4 == 1 else 0))
        if p % 3 != 2 or mobile is None:  # a landline (01 to 05)
            data.put(by, person, HOME, _typed(real.valid_number(rng, f"+33{1 + p % 5}", 12)), since)
        email = f"{given.lower()}.{birth.lower()}{p}@courriel.example" if p % 3 != 1 else None
        if email:
            data.put(by, person, EMAIL, email, since)
        _medical(data, rng, by, person, since + timedelta(days=10))
        patients.append((person, f"{given} {usage or birth}", mobile, email))
    truth: dict[str, dict[str, Any]] = {}
    today = now.astimezone(clinic).date()
    for n in range(VISITS):
        past = n % 5 == 4
        day = today + timedelta(days=1 + n // 8) if not past else today - timedelta(days=1 + n // 5)
        start = datetime(day.year, day.month, day.day, 9 + (n % 8), (0, 20, 40)[n % 3], tzinfo=clinic)
        wall = start.replace(tzinfo=None)
        booked = now - timedelta(days=30 - n % 20) if n < VISITS - 3 else now - timedelta(minutes=4 * (VISITS - n))
        added = booked.astimezone(clinic).replace(tzinfo=None)  # PHP's date(): the clinic's wall clock
        modified = booked.replace(tzinfo=None)  # the TIMESTAMP column: the server's clock, here UTC
        person, name, mobile, email = patients[(n * 7) % PATIENTS]
        doctor, doctor_name = doctors[n % 3]
        cancelled = n % 11 == 6
        absent = past and n % 3 == 0
        length = MINUTES[n % 3]
        real.insert_row(cursor, "agenda", {
            "externid": None, "userid": doctor, "start": wall, "end": wall + timedelta(minutes=length),
            "type": KINDS[n % len(KINDS)], "dateAdd": added, "lastModified": modified, "patientid": person,
            "fromID": doctor if n % 2 else admin, "statut": "deleted" if cancelled else "actif",
            "absente": "oui" if absent else "non", "attente": "non", "motif": REASONS[n % len(REASONS)]})
        if past:
            continue
        truth[_iso(start)] = {
            "end": _iso(start + timedelta(minutes=length)), "status": "cancelled" if cancelled else "booked",
            "patient": str(person), "name": name, "phone": mobile, "email": email, "doctor": str(doctor),
            "doctor_name": doctor_name, "zone": ZONE}
    for n in range(6):  # the practitioners' own slots: a meeting, no patient
        day = today + timedelta(days=2 + n)
        wall = datetime(day.year, day.month, day.day, 12, 30)
        real.insert_row(cursor, "agenda", {
            "userid": doctors[n % 3][0], "start": wall, "end": wall + timedelta(hours=1), "type": "[R]",
            "dateAdd": stamp, "lastModified": stamp, "patientid": None, "fromID": doctors[n % 3][0],
            "statut": "actif", "absente": "non", "attente": "non", "motif": "Réunion"})
    return truth
