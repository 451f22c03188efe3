"""Records kept as versions and every code a key into a dictionary of words, on a schema built here
from the class (no product's tables), in SQLite: a ``booking`` is only a key, its
``booking_version`` rows carry the kind, status and times (one ``current`` per booking, a moved
booking's older row kept); each code a ``concept`` key whose word is on its ``concept_version``
row in force (one concept renamed); who takes part a ``role_link`` row typed by a role code,
valid from one booking version's ``seq`` to another (a replaced clinician's row ended; a second
code, the link's class, set on some: no validity range); names as
``name_row`` rows (valid between party versions) whose parts are ``name_part`` rows typed Given
or Family; phones ``telecom`` rows typed by a use code, Canadian numbers (a mobile and a
landline share their area codes). Beside the consultations, reminders ahead that name a patient
and no clinician."""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from clinicsync.sync.discover.sql import discover_sql
from tests.discover.real_ehr_support import valid_number

DDL = """
CREATE TABLE concept (concept_id VARCHAR(36) PRIMARY KEY);
CREATE TABLE concept_version (version_id VARCHAR(36) PRIMARY KEY, concept_id VARCHAR(36) NOT NULL
  REFERENCES concept(concept_id), word VARCHAR(64) NOT NULL, current BOOLEAN NOT NULL);
CREATE TABLE booking (booking_id VARCHAR(36) PRIMARY KEY);
CREATE TABLE booking_version (version_id VARCHAR(36) PRIMARY KEY, seq INTEGER NOT NULL UNIQUE,
  booking_id VARCHAR(36) NOT NULL REFERENCES booking(booking_id), kind_code VARCHAR(36) NOT NULL
  REFERENCES concept(concept_id), status_code VARCHAR(36) NOT NULL REFERENCES concept(concept_id),
  begins DATETIME, ends DATETIME, current BOOLEAN NOT NULL);
CREATE TABLE party (party_id VARCHAR(36) PRIMARY KEY);
CREATE TABLE party_version (version_id VARCHAR(36) PRIMARY KEY, seq INTEGER NOT NULL UNIQUE,
  party_id VARCHAR(36) NOT NULL REFERENCES party(party_id), current BOOLEAN NOT NULL);
CREATE TABLE role_link (link_id VARCHAR(36) PRIMARY KEY, booking_id VARCHAR(36) NOT NULL
  REFERENCES booking(booking_id), party_id VARCHAR(36) NOT NULL REFERENCES party(party_id),
  role_code VARCHAR(36) NOT NULL REFERENCES concept(concept_id), link_class VARCHAR(36) REFERENCES concept(concept_id),
  from_seq INTEGER NOT NULL REFERENCES booking_version(seq), to_seq INTEGER REFERENCES booking_version(seq));
CREATE TABLE name_row (name_id VARCHAR(36) PRIMARY KEY, party_id VARCHAR(36) NOT NULL REFERENCES party(party_id),
  from_seq INTEGER NOT NULL REFERENCES party_version(seq), to_seq INTEGER REFERENCES party_version(seq));
CREATE TABLE name_part (part_id VARCHAR(36) PRIMARY KEY, name_id VARCHAR(36) NOT NULL REFERENCES name_row(name_id),
  part_code VARCHAR(36) REFERENCES concept(concept_id), position INTEGER NOT NULL, part_text VARCHAR(100) NOT NULL);
CREATE TABLE telecom (tel_id VARCHAR(36) PRIMARY KEY, party_id VARCHAR(36) NOT NULL REFERENCES party(party_id),
  use_code VARCHAR(36) NOT NULL REFERENCES concept(concept_id), number VARCHAR(40) NOT NULL,
  from_seq INTEGER NOT NULL REFERENCES party_version(seq), to_seq INTEGER REFERENCES party_version(seq))
"""
WORDS = ["Consultation", "Reminder", "Booked", "Cancelled", "Patient", "Clinician", "Clerk", "Given", "Family",
         "Mobile", "Home", "Reference"]


class _Rows:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.c, self.rng, self.seq, self.pseq = connection, random.Random(7), 0, 0
        self.code: dict[str, str] = {}

    def uuid(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def concepts(self) -> None:
        for word in WORDS:
            key = self.code[word] = self.uuid()
            self.c.execute("INSERT INTO concept VALUES (?)", (key,))
            if word == "Clinician":  # renamed once: its first word obsoleted
                self.c.execute("INSERT INTO concept_version VALUES (?, ?, 'CLN', 0)", (self.uuid(), key))
            self.c.execute("INSERT INTO concept_version VALUES (?, ?, ?, 1)", (self.uuid(), key, word))

    def party(self, given: list[str], family: str, maiden: str | None = None) -> tuple[str, int, int]:
        party = self.uuid()
        self.c.execute("INSERT INTO party VALUES (?)", (party,))
        seqs = []
        for current in ([0, 1] if maiden else [1]):
            self.pseq += 1
            seqs.append(self.pseq)
            self.c.execute("INSERT INTO party_version VALUES (?, ?, ?, ?)", (self.uuid(), self.pseq, party, current))
        for family_name, since, until in ([(maiden, seqs[0], seqs[1]), (family, seqs[1], None)] if maiden
                                          else [(family, seqs[0], None)]):
            name = self.uuid()
            self.c.execute("INSERT INTO name_row VALUES (?, ?, ?, ?)", (name, party, since, until))
            for at, (kind, value) in enumerate([*(("Given", g) for g in given), ("Family", family_name)]):
                self.c.execute("INSERT INTO name_part VALUES (?, ?, ?, ?, ?)",
                               (self.uuid(), name, self.code[kind], at, value))
        return party, seqs[0], seqs[-1]

    def tel(self, party: str, use: str, number: str, since: int, until: int | None = None) -> None:
        self.c.execute("INSERT INTO telecom VALUES (?, ?, ?, ?, ?, ?)",
                       (self.uuid(), party, self.code[use], number, since, until))

    def version(self, booking: str, kind: str, status: str, start: datetime, current: bool) -> int:
        self.seq += 1
        self.c.execute("INSERT INTO booking_version VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (self.uuid(), self.seq, booking, self.code[kind], self.code[status], start,
                        start + timedelta(minutes=20), current))
        return self.seq

    def link(self, booking: str, party: str, role: str, since: int, until: int | None = None) -> None:
        self.links = getattr(self, "links", 0) + 1  # every third link classed (a second code of the dictionary)
        self.c.execute("INSERT INTO role_link VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (self.uuid(), booking, party, self.code[role],
                        self.code["Reference"] if self.links % 3 == 0 else None, since, until))


def build(path: Path) -> dict[str, dict[str, Any]]:
    """The rows; per consultation its fields as the store must hold them."""
    connection = sqlite3.connect(path)
    connection.executescript(DDL)
    rows, rng = _Rows(connection), random.Random(11)
    rows.concepts()
    now = datetime.now().replace(microsecond=0, second=0)
    doctors = [(rows.party([g], f)[0], f"{g} {f}") for g, f in (("Ana", "Lopez"), ("Ben", "Kerr"))]
    clerk = rows.party(["Dee"], "Desk")[0]
    patients = []
    for p in range(24):
        given = ["Kim"] + (["Lee"] if p % 5 == 2 else [])
        party, first, head = rows.party(given, f"Park{p}", maiden=f"Old{p}" if p % 4 == 1 else None)
        mobile = valid_number(rng, "+1416", 12)
        if p % 6 == 3:  # a landline only
            rows.tel(party, "Home", mobile, first)
        else:
            rows.tel(party, "Home", valid_number(rng, "+1416", 12), first)  # entered first
            if p % 4 == 1:  # a mobile given up with the name
                rows.tel(party, "Mobile", valid_number(rng, "+1647", 12), first, head)
            rows.tel(party, "Mobile", mobile, head)
        patients.append((party, " ".join([*given, f"Park{p}"]), mobile))
    expected = {}
    for n in range(40):
        booking = rows.uuid()
        connection.execute("INSERT INTO booking VALUES (?)", (booking,))
        start = now + timedelta(days=1 + n % 10, hours=n % 6)
        status = "Cancelled" if n % 9 == 4 else "Booked"
        first = rows.version(booking, "Consultation", "Booked", start - timedelta(days=2), False) if n % 5 == 1 \
            else None
        head = rows.version(booking, "Consultation", status, start, True)
        patient, doctor = patients[n % len(patients)], doctors[n % 2]
        rows.link(booking, patient[0], "Patient", first or head)
        rows.link(booking, clerk, "Clerk", first or head)
        if first is not None:  # the clinician first booked replaced with the move
            rows.link(booking, doctors[(n + 1) % 2][0], "Clinician", first, head)
        rows.link(booking, doctor[0], "Clinician", head)
        expected[booking] = {"begins": start, "status": status, "patient": patient[0], "name": patient[1],
                             "phone": patient[2], "doctor": doctor[0], "doctor_name": doctor[1]}
    for n in range(20):  # reminders ahead: a patient named, no clinician
        booking = rows.uuid()
        connection.execute("INSERT INTO booking VALUES (?)", (booking,))
        rows.link(booking, patients[n][0], "Patient",
                  rows.version(booking, "Reminder", "Booked", now + timedelta(days=3 + n), True))
    connection.commit()
    connection.close()
    return expected


def _read(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    proposal = discover_sql(f"sqlite:///{path}", name="store", clinic_zone="America/Toronto", region="CA",
                            stored_times="local")
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = connection.execute(text(proposal.connector["query"]), {
            "window_start": datetime(2000, 1, 1), "window_end": datetime(2100, 1, 1)}).mappings().all()
    return (proposal.mapping or {})["fields"], [dict(r) for r in rows], proposal


def _by_id(fields: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    key = fields["external_id"]["from"]
    return {str(r[key]): r for r in rows}


def test_versions_are_read_at_the_version_in_force_keyed_by_the_stable_id(tmp_path: Path) -> None:
    """One row per booking (the moved one at its new time), keyed by the booking, not the version;
    the reminders (a patient and no clinician) are no visits."""
    expected = build(tmp_path / "store.db")
    fields, rows, _ = _read(tmp_path / "store.db")
    assert fields["external_id"] == {"from": "booking_id"}, fields["external_id"]
    got = _by_id(fields, rows)
    assert set(got) == set(expected) and len(rows) == len(expected), (len(rows), len(expected))
    assert all(str(got[k]["begins"])[:16] == str(v["begins"])[:16] for k, v in expected.items())


def test_role_codes_are_read_by_their_words_and_only_links_in_force(tmp_path: Path) -> None:
    """The patient the party in the role whose code's word is 'Patient', the doctor the
    'Clinician' still in force (not the one replaced, not the clerk), by a subquery of the
    dictionary, never a list of its keys."""
    expected = build(tmp_path / "store.db")
    fields, rows, proposal = _read(tmp_path / "store.db")
    assert "'Clinician'" in proposal.connector["query"], proposal.connector["query"]
    got = _by_id(fields, rows)
    patient, doctor = fields["patient.external_id"]["from"], fields["practitioner.external_id"]["from"]
    assert {k: (got[k][patient], got[k][doctor]) for k in expected} == \
        {k: (v["patient"], v["doctor"]) for k, v in expected.items()}


def test_names_are_put_together_from_typed_parts_of_the_name_in_force(tmp_path: Path) -> None:
    """Given parts in order, then the family part, of the name row not ended (a maiden name is)."""
    expected = build(tmp_path / "store.db")
    fields, rows, _ = _read(tmp_path / "store.db")
    got = _by_id(fields, rows)
    for who, field in (("name", "patient.name"), ("doctor_name", "practitioner.name")):
        parts = fields[field]["concat"]
        assert {k: " ".join(str(got[k][p]) for p in parts) for k in expected} == \
            {k: v[who] for k, v in expected.items()}, field


def test_the_phone_is_the_telecom_in_force_whose_use_code_says_mobile(tmp_path: Path) -> None:
    """The mobile by its use's word (a home line entered first passed over, a mobile given up not
    read), else the landline; and the status read as its code's word."""
    expected = build(tmp_path / "store.db")
    fields, rows, proposal = _read(tmp_path / "store.db")
    got = _by_id(fields, rows)
    phone = fields["patient.phone"]["from"]
    assert {k: got[k][phone] for k in expected} == {k: v["phone"] for k, v in expected.items()}
    status = fields["status"]["from"]
    assert {k: got[k][status] for k in expected} == {k: v["status"] for k, v in expected.items()}
    assert proposal.mapping is not None
