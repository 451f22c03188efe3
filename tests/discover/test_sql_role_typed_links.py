"""Who a record is about as link rows typed by a role word, on a schema built here from the class
(no product's tables), in SQLite: one ``record`` table of every kind (bookings ahead, bills
behind, recalls falling due ahead), a ``party_link`` row per role a party plays in a record
(``role.subject`` the animal seen, ``role.client`` its keeper, ``role.practitioner``,
``role.room``, ``role.creator``), copying the record's times; every party a ``party`` row whose
name parts are ``party_attr`` rows; a keeper's phones ``party_contact`` rows whose number, prefix
and flags are ``contact_attr`` rows. The visits are the bookings (not the link rows, not the
bills or recalls), the patient the client (whose parties have contacts: the subject is an animal),
named by its given and family name rows, reached on the number allowed texts, else the primary;
the doctor the practitioner."""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import phonenumbers
from sqlalchemy import create_engine, text

from clinicsync.sync.discover.sql import discover_sql
from tests.discover.real_ehr_support import valid_number

DDL = """
CREATE TABLE party (party_id INTEGER PRIMARY KEY, kind VARCHAR(40) NOT NULL, label VARCHAR(100), active BOOLEAN);
CREATE TABLE party_attr (party_id INTEGER NOT NULL REFERENCES party(party_id), name VARCHAR(60) NOT NULL,
  value VARCHAR(200) NOT NULL, PRIMARY KEY (party_id, name));
CREATE TABLE party_contact (contact_id INTEGER PRIMARY KEY, party_id INTEGER REFERENCES party(party_id),
  kind VARCHAR(40) NOT NULL);
CREATE TABLE contact_attr (contact_id INTEGER NOT NULL REFERENCES party_contact(contact_id),
  name VARCHAR(60) NOT NULL, value VARCHAR(200) NOT NULL, PRIMARY KEY (contact_id, name));
CREATE TABLE record (record_id INTEGER PRIMARY KEY, kind VARCHAR(40) NOT NULL, begins DATETIME, ends DATETIME,
  status VARCHAR(20), active BOOLEAN);
CREATE TABLE party_link (link_id INTEGER PRIMARY KEY, record_id INTEGER REFERENCES record(record_id),
  party_id INTEGER REFERENCES party(party_id), role VARCHAR(40) NOT NULL, begins DATETIME, ends DATETIME)
"""


class _Rows:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection, self.link, self.contact = connection, 0, 0

    def party(self, party: int, kind: str, label: str, attrs: dict[str, str]) -> None:
        self.connection.execute("INSERT INTO party VALUES (?, ?, ?, 1)", (party, kind, label))
        self.connection.executemany("INSERT INTO party_attr VALUES (?, ?, ?)",
                                    [(party, k, v) for k, v in attrs.items()])

    def phone(self, party: int, prefix: str, number: str, texts: bool, primary: bool) -> None:
        self.contact += 1
        self.connection.execute("INSERT INTO party_contact VALUES (?, ?, 'contact.phone')", (self.contact, party))
        self.connection.executemany("INSERT INTO contact_attr VALUES (?, ?, ?)", [
            (self.contact, "prefix", prefix), (self.contact, "number", number),
            (self.contact, "text_ok", "true" if texts else "false"),
            (self.contact, "is_primary", "true" if primary else "false")])

    def record(self, record: int, kind: str, start: datetime, roles: list[tuple[str, int]]) -> None:
        end = start + timedelta(minutes=20)
        self.connection.execute("INSERT INTO record VALUES (?, ?, ?, ?, 'booked', 1)", (record, kind, start, end))
        for role, party in roles:
            self.link += 1
            self.connection.execute("INSERT INTO party_link VALUES (?, ?, ?, ?, ?, ?)",
                                    (self.link, record, party, role, start, end))


def build(path: Path, vets: bool = True) -> dict[str, tuple[str, str, str, str]]:
    """The rows; per booking: the client's id, name, E.164 phone, and the practitioner's id
    (``vets`` False: a practice that books its rooms only, no practitioner named: the room's)."""
    connection = sqlite3.connect(path)
    connection.executescript(DDL)
    rows, rng = _Rows(connection), random.Random(41)
    now = datetime.now().replace(microsecond=0)
    for vet in (1, 2):
        rows.party(vet, "party.staff", f"Vet {vet}", {"given_name": f"Alex{vet}", "family_name": f"Vale{vet}"})
    rows.party(3, "party.staff", "Desk", {"given_name": "Front", "family_name": "Desk"})
    rows.party(4, "party.room", "Room A", {})
    keepers = {}
    for k in range(20):
        keeper, animal = 100 + k, 200 + k
        rows.party(keeper, "party.keeper", f"Keeper{k},Kim", {"given_name": "Kim", "family_name": f"Keeper{k}"})
        rows.party(animal, "party.animal", f"Rex{k}", {"species": "canine"})
        work = valid_number(rng, "+44207", 13)
        mobile = valid_number(rng, "+447", 13)
        rows.phone(keeper, "020", f"{work[5:9]} {work[9:]}", False, False)  # a work line, entered first
        rows.phone(keeper, "", "0" + mobile[3:], k % 4 != 3, False)
        if k % 4 == 3:  # no number allowed texts: the primary landline, its prefix before it
            home = valid_number(rng, "+44208", 13)
            rows.phone(keeper, "020", f"{home[5:9]} {home[9:]}", False, True)
            mobile = home
        keepers[keeper] = (f"Kim Keeper{k}", mobile)
    expected = {}
    for r in range(1, 61):
        keeper, vet = 100 + r % 20, 1 + r % 2
        start = now + timedelta(days=1 + r % 15, hours=r % 6)
        roles = [("role.subject", 200 + r % 20), ("role.client", keeper), ("role.room", 4), ("role.creator", 3)]
        rows.record(r, "visit.booking", start, roles + ([("role.practitioner", vet)] if vets else []))
        expected[str(r)] = (str(keeper), *keepers[keeper], str(vet) if vets else "4")
    for r in range(61, 141):  # bills behind (they name the client) and recalls ahead (they name the animal)
        rows.record(r, "bill.invoice", now - timedelta(days=r), [("role.client", 100 + r % 20), ("role.creator", 3)])
        rows.record(r + 100, "recall.due", now + timedelta(days=r), [("role.subject", 200 + r % 20)])
    connection.commit()
    connection.close()
    return expected


def test_role_typed_links_name_the_client_and_the_doctor(tmp_path: Path) -> None:
    expected = build(tmp_path / "store.db")
    proposal = discover_sql(f"sqlite:///{tmp_path / 'store.db'}", name="store", clinic_zone="Europe/London",
                            stored_times="local")
    fields, query = (proposal.mapping or {})["fields"], proposal.connector["query"]
    assert "FROM record AS a" in query, query  # not the link rows that copy its times
    assert "a.kind IN ('visit.booking')" in query, query
    assert fields["patient.external_id"] == {"from": "patient_id"}, fields
    assert fields["patient.name"] == {"concat": ["patient_given_name", "patient_family_name"]}, fields
    assert fields["patient.phone"] == {"concat": ["patient_prefix", "patient_number"]}, fields
    assert fields["practitioner.external_id"] == {"from": "doctor_id"}, fields
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as connection:
        rows = connection.execute(text(query), {"window_start": datetime(2000, 1, 1),
                                                "window_end": datetime(2100, 1, 1)}).mappings().all()
    got = {}
    for r in rows:
        number = " ".join(p for p in (r["patient_prefix"], r["patient_number"]) if p)
        e164 = phonenumbers.format_number(phonenumbers.parse(number, "GB"), phonenumbers.PhoneNumberFormat.E164)
        got[str(r["record_id"])] = (str(r["patient_id"]), f"{r['patient_given_name']} {r['patient_family_name']}",
                                    e164, str(r["doctor_id"]))
    assert got == expected  # every booking: the keeper (never the animal), its texting number, its vet


def test_link_rows_copying_the_record_times_give_way_to_the_records(tmp_path: Path) -> None:
    """The link table holds the record's times on each of its rows, a reference to the record and
    one to the parties: without the rule it tied with the records (the admin was asked to pick)."""
    build(tmp_path / "store.db")
    proposal = discover_sql(f"sqlite:///{tmp_path / 'store.db'}", name="store", clinic_zone="Europe/London",
                            stored_times="local")
    assert "FROM record AS a" in proposal.connector["query"]


def test_a_practice_booking_rooms_only_proposes_the_room_as_the_calendar_owner(tmp_path: Path) -> None:
    """No role says who delivers the visit: the room the visit is booked in stands for the doctor,
    named by its own label (never a person's name rows, which a room has none of), and said so."""
    expected = build(tmp_path / "store.db", vets=False)
    proposal = discover_sql(f"sqlite:///{tmp_path / 'store.db'}", name="store", clinic_zone="Europe/London",
                            stored_times="local")
    fields, query = (proposal.mapping or {})["fields"], proposal.connector["query"]
    assert fields["practitioner.external_id"] == {"from": "doctor_id"}, fields
    assert fields["practitioner.name"] == {"from": "doctor_label"}, fields
    assert any("'role.room'" in n and "calendar" in n for n in proposal.notes), proposal.notes
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as connection:
        rows = connection.execute(text(query), {"window_start": datetime(2000, 1, 1),
                                                "window_end": datetime(2100, 1, 1)}).mappings().all()
    assert {str(r["record_id"]): (str(r["patient_id"]), str(r["doctor_id"]), r["doctor_label"]) for r in rows} == {
        k: (v[0], "4", "Room A") for k, v in expected.items()}
