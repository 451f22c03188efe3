"""Rows as SORMAS writes them (tests/fixtures/ehr/sormas, with its SOURCE note), for the test of
`discover` on its real shape: a German health office (Gesundheitsamt) following up the contacts
of cases. Every entity a row with a bigint id from ``entity_seq``, a base32 ``uuid``,
``creationdate``/``changedate`` and the ``sys_period`` its versioning trigger would fill; a
person's phone and email are ``personcontactdetail`` rows typed PHONE/EMAIL (the primary one
marked), a follow-up visit a ``visit`` row of the person (``visitdatetime`` in the server's zone,
``visitstatus`` COOPERATIVE/UNCOOPERATIVE/UNAVAILABLE, ``visituser_id`` the officer who made the
call), linked to the contact through ``contacts_visits``. Beside them what a year of use leaves:
the contacts with their follow-up until a date, regions, districts, addresses, user roles, and the
visits' history rows."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.discover import real_ehr_support as real

ZONE, REGION = "Europe/Berlin", "DE"
FIXTURE = real.FIXTURES / "sormas" / "schema.sql"
STATUS = {"COOPERATIVE": "fulfilled", "UNCOOPERATIVE": "fulfilled", "UNAVAILABLE": "noshow"}
OFFICERS = [("Katrin", "Vogel"), ("Jens", "Hartmann"), ("Aylin", "Demir")]
GIVEN = ["Lukas", "Anna", "Leon", "Mia", "Jonas", "Lea", "Felix", "Laura", "Paul", "Sophie", "Tim", "Emma"]
FAMILY = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann"]
PERSONS, VISITS = 70, 160
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class Rows:
    """An open cursor and the product's id sequence: each entity inserted as SORMAS does."""

    def __init__(self, cursor: Any, rng: random.Random, now: datetime) -> None:
        self.cursor, self.rng, self.now = cursor, rng, now

    def uuid(self) -> str:
        """SORMAS's own uuid: 26 base32 characters in groups of six ('RQCZ6H-PKNH4S-...')."""
        chars = "".join(self.rng.choice(_BASE32) for _ in range(26))
        return "-".join(chars[i:i + 6] for i in range(0, 26, 6))

    def insert(self, table: str, row: dict[str, Any], stamp: datetime | None = None) -> int:
        """One entity: its id from entity_seq, uuid, creation and change dates, sys_period."""
        self.cursor.execute("SELECT nextval('entity_seq')")
        ident = int(self.cursor.fetchone()[0])
        when = stamp or self.now
        full = {"id": ident, "uuid": self.uuid(), "creationdate": when, "changedate": when, **row}
        self.cursor.execute(f"INSERT INTO {table} ({', '.join(full)}, sys_period) VALUES "
                            f"({', '.join(['%s'] * len(full))}, tstzrange(now(), NULL))", list(full.values()))
        return ident


def _mobile(rng: random.Random) -> str:
    """A valid German mobile in E.164 (+4915x/+4916x/+4917x)."""
    return real.valid_number(rng, f"+491{rng.choice('567')}", 14)


def _typed(e164: str, n: int) -> str:
    """A German mobile as an officer types it: '0151 23456789', '+49 151 23456789',
    '0151/23456789', '+4915123456789' or '015123456789'."""
    national = "0" + e164[3:]
    return (f"{national[:4]} {national[4:]}", f"+49 {e164[3:6]} {e164[6:]}", f"{national[:4]}/{national[4:]}",
            e164, national)[n % 5]


def _places(rows: Rows) -> tuple[int, int]:
    region = rows.insert("region", {"name": "Nordrhein-Westfalen", "epidcode": "DEU-NRW", "archived": False})
    district = rows.insert("district", {"name": "SK Köln", "region_id": region, "epidcode": "DEU-NRW-KLN",
                                        "archived": False})
    return region, district


def _officers(rows: Rows, region: int, district: int) -> list[tuple[int, str, str]]:
    """The admin, a supervisor and three contact officers (with their role rows)."""
    roles = {}
    for caption in ("ADMIN", "CONTACT_SUPERVISOR", "CONTACT_OFFICER"):
        roles[caption] = rows.insert("userroles", {"caption": caption, "enabled": True,
                                                   "restrictaccesstoassignedentities": caption == "CONTACT_OFFICER",
                                                   "jurisdictionlevel": "DISTRICT"})
    people = [("ADMIN", "Sormas", "Admin", "admin", None), ("CONTACT_SUPERVISOR", "Petra", "Krämer", "pkraemer",
                                                             "p.kraemer@stadt-koeln.de")]
    people += [("CONTACT_OFFICER", first, last, f"{first[0].lower()}{last.lower()}",
                f"{first.lower()}.{last.lower()}@stadt-koeln.de") for first, last in OFFICERS]
    officers = []
    for role, first, last, username, email in people:
        user = rows.insert("users", {"active": True, "firstname": first, "lastname": last, "password": "x" * 64,
                                     "seed": "s" * 16, "username": username, "useremail": email,
                                     "phone": "0221 221-12345" if email else None, "region_id": region,
                                     "district_id": district, "jurisdictionlevel": "DISTRICT", "language": "DE"})
        rows.cursor.execute("INSERT INTO users_userroles (user_id, userrole_id, sys_period) VALUES "
                            "(%s, %s, tstzrange(now(), NULL))", (user, roles[role]))
        if role == "CONTACT_OFFICER":
            officers.append((user, f"{first} {last}", email or ""))
    return officers


def _persons(rows: Rows) -> dict[int, tuple[str, str | None, str | None]]:
    """The contact persons: name, address, their phone and email rows. Per person id: the name,
    the primary phone (E.164) and the primary email."""
    persons = {}
    rng = rows.rng
    for p in range(PERSONS):
        first, last = GIVEN[p % len(GIVEN)], FAMILY[(p * 3) % len(FAMILY)]
        address = rows.insert("location", {"street": "Venloer Straße", "housenumber": str(10 + p), "city": "Köln",
                                           "postalcode": f"50{672 + p % 50}"})
        person = rows.insert("person", {"firstname": first, "lastname": last, "sex": ("MALE", "FEMALE")[p % 2],
                                        "address_id": address, "birthdate_yyyy": 1950 + p % 55,
                                        "birthdate_mm": 1 + p % 12, "birthdate_dd": 1 + p % 28,
                                        "presentcondition": None, "salutation": ("MR", "MRS")[p % 2]})
        mobile = _mobile(rng) if p % 11 != 4 else None
        email = f"{first.lower()}.{last.lower().replace('ü', 'ue')}{p}@web.de" if p % 3 else None
        if p % 6 == 1:  # a landline given first, not the primary one
            rows.insert("personcontactdetail", {"person_id": person, "primarycontact": False,
                                                "personcontactdetailtype": "PHONE", "phonenumbertype": "LANDLINE",
                                                "contactinformation": f"0221 {rng.randrange(1000000, 9999999)}",
                                                "thirdparty": False})
        if mobile:
            rows.insert("personcontactdetail", {"person_id": person, "primarycontact": True,
                                                "personcontactdetailtype": "PHONE", "phonenumbertype": "MOBILE",
                                                "contactinformation": _typed(mobile, p), "thirdparty": False})
        if email:
            rows.insert("personcontactdetail", {"person_id": person, "primarycontact": True,
                                                "personcontactdetailtype": "EMAIL", "contactinformation": email,
                                                "thirdparty": False})
        persons[person] = (f"{first} {last}", mobile, email)
    return persons


def build(connection: Any) -> dict[str, dict[str, Any]]:
    """The schema from the fixture, filled; per visit every field the store must hold."""
    real.run_ddl(connection, FIXTURE)
    cursor = connection.cursor()
    rng = random.Random(2020)
    berlin = ZoneInfo(ZONE)
    now = datetime.now(berlin).replace(tzinfo=None, microsecond=0)
    rows = Rows(cursor, rng, now)
    region, district = _places(rows)
    officers = _officers(rows, region, district)
    persons = _persons(rows)
    ids = list(persons)
    contacts = {}
    for n, person in enumerate(ids):  # each person a contact of a case, followed up for 14 days
        last_contact = now - timedelta(days=3 + n % 20)
        contacts[person] = rows.insert("contact", {
            "person_id": person, "reportdatetime": last_contact + timedelta(days=1), "reportinguser_id": officers[0][0],
            "contactclassification": ("CONFIRMED", "UNCONFIRMED")[n % 4 == 0], "contactstatus": "ACTIVE",
            "followupstatus": "FOLLOW_UP", "followupuntil": last_contact + timedelta(days=14),
            "lastcontactdate": last_contact, "contactofficer_id": officers[n % 3][0], "disease": "CORONAVIRUS",
            "region_id": region, "district_id": district, "archived": False, "deleted": n % 29 == 7,
            "contactproximity": "FACE_TO_FACE_LONG", "relationtocase": "SAME_HOUSEHOLD"}, last_contact)
    expected: dict[str, dict[str, Any]] = {}
    for n in range(VISITS):
        person = ids[rng.randrange(PERSONS)]
        officer = officers[n % 3]
        day = now - timedelta(days=1 + n % 18)
        when = day.replace(hour=8 + rng.randrange(10), minute=5 * rng.randrange(12), second=0)
        if n < 3:  # the calls made this last hour, recorded as they ended
            when = now - timedelta(minutes=7 + 15 * n)
        status = rng.choices(list(STATUS), [70, 8, 22])[0]
        visit = rows.insert("visit", {"person_id": person, "visituser_id": officer[0], "visitdatetime": when,
                                      "visitstatus": status, "disease": "CORONAVIRUS",
                                      "visitremarks": "Keine Symptome" if status == "COOPERATIVE" else None,
                                      "origin": ("USER", "EXTERNAL_JOURNAL")[n % 7 == 3]}, when)
        cursor.execute("INSERT INTO contacts_visits (contact_id, visit_id, sys_period) VALUES (%s, %s, "
                       "tstzrange(now(), NULL))", (contacts[person], visit))
        name, phone, email = persons[person]
        expected[str(visit)] = {
            "start": when.replace(tzinfo=berlin).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "zone": ZONE,
            "status": STATUS[status], "patient": str(person), "name": name, "phone": phone, "email": email,
            "doctor": str(officer[0]), "doctor_name": officer[1], "doctor_email": officer[2]}
    cursor.close()
    return expected
