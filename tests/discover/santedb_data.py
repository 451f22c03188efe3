"""Rows as SanteDB writes them (tests/fixtures/ehr/santedb, with its SOURCE note), for the test of
`discover` on its real shape: a family clinic in Toronto booking its visits in SanteDB, the HL7
RIM health record server. Everything is a UUID. Every code is a concept: a ``cd_tbl`` key whose
``cd_vrsn_tbl`` rows carry its ``mnemonic`` (one row the ``head``, older ones obsoleted; the
concept UUIDs and mnemonics are SanteDB's own, from santedb-codes.sql, the ``NULLFIIED`` status
spelled as the product spells it). A visit is an act (``act_tbl``) whose versions
(``act_vrsn_tbl``) carry its class (Encounter), mood (``APT``: an appointment), status
(NEW/ACTIVE/CANCELLED/NULLFIIED) and ``act_start_utc``/``act_stop_utc``; a rescheduled visit keeps
its older version (``head`` false, ``obslt_utc`` set) at the old time. Who takes part is an
``act_ptcpt_tbl`` row typed by a role concept (``RecordTarget``: the patient, ``Performer``: the
doctor, ``Authororiginator``: the clerk who booked it), valid from one act version to another (a
doctor replaced keeps a row whose ``obslt_vrsn_seq_id`` is set). People are entities
(``ent_tbl``, versions in ``ent_vrsn_tbl``, ``psn_tbl``/``pat_tbl``/``pvdr_tbl`` per version);
a name is an ``ent_name_tbl`` row whose parts are ``ent_name_cmp_tbl`` rows typed Given/Family
(a maiden name obsoleted by a later entity version); a phone an ``ent_tel_tbl`` row typed by its
use concept (MobileContact, PrimaryHome, WorkPlace), some patients with a landline only. Beside
the appointments what SanteDB also keeps as acts: past encounters (mood ``Eventoccurrence``) and
the immunizations its care planner proposes ahead (SubstanceAdministration, mood ``Propose``)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.discover import real_ehr_support as real

ZONE, REGION = "America/Toronto", "CA"
FIXTURE = real.FIXTURES / "santedb" / "schema.sql"
SYSTEM = "fadca076-3690-4a6e-af9e-f1cd68e8c7e8"  # SanteDB's SYSTEM provenance, on every seeded row
STATUS = {"NEW": "booked", "ACTIVE": "booked", "CANCELLED": "cancelled", "NULLFIIED": "cancelled"}
DOCTORS = [("Helen", "Tremblay"), ("Ravi", "Sharma"), ("Lucia", "Moreau")]
GIVEN = ["Emma", "Liam", "Olivia", "Noah", "Ava", "Ethan", "Chloe", "Lucas", "Maya", "Owen", "Zoe", "Adam"]
FAMILY = ["Gagnon", "Roy", "Wong", "Singh", "Campbell", "Bouchard", "Nguyen", "Martin", "Lee", "Fraser"]
PATIENTS, VISITS = 45, 100
MINUTES = (15, 20, 30)

# (concept class id, name, mnemonic)
CLASSES = [("17fd5254-8c25-4abb-b246-083fbe9afa15", "Classification Concept", "ClassCode"),
           ("54b93182-fc19-47a2-82c6-089fd70a4f45", "Status", "Status"),
           ("bba99722-23ce-469a-8fa5-10deba853d35", "Mood", "Mood"),
           ("0d6b3439-c9be-4480-af39-eeb457c052d0", "Other Classification", "Other")]
# (concept id, mnemonic, class, sets) — SanteDB's own keys (santedb-codes.sql)
CONCEPTS = [
    ("c8064cbd-fa06-4530-b430-1a52f1530c27", "ACTIVE", "Status", ["ActStatus", "EntityStatus"]),
    ("c34fcbf1-e0fe-4989-90fd-0dc49e1b9685", "NEW", "Status", ["ActStatus", "EntityStatus"]),
    ("bdef5f90-5497-4f26-956c-8f818cce2bd2", "OBSOLETE", "Status", ["ActStatus", "EntityStatus"]),
    ("cd4aa3c4-02d5-4cc9-9088-ef8f31e321c5", "NULLFIIED", "Status", ["ActStatus", "EntityStatus"]),
    ("3efd3b6e-02d5-4cc9-9088-ef8f31e321c5", "CANCELLED", "Status", ["ActStatus"]),
    ("afc33800-8225-4061-b168-bacc09cdbae3", "COMPLETE", "Status", ["ActStatus"]),
    ("54b52119-1709-4098-8911-5df6d6c84140", "Encounter", "ClassCode", ["ActClass"]),
    ("932a3c7e-ad77-450a-8a1f-030fc2855450", "SubstanceAdministration", "ClassCode", ["ActClass"]),
    ("28d022c6-8a8b-47c4-9e6a-2bc67308739e", "Observation", "ClassCode", ["ActClass"]),
    ("c46eee70-5612-473f-8d24-595ea15c9c39", "APT", "Mood", ["ActMood"]),
    ("ec74541f-87c4-4327-a4b9-97f325501747", "Eventoccurrence", "Mood", ["ActMood"]),
    ("acf7baf2-221f-4bc2-8116-ceb5165be079", "Propose", "Mood", ["ActMood"]),
    ("3f92dbee-a65e-434f-98ce-841feeb02e3f", "RecordTarget", "Other", ["ActParticipationType"]),
    ("fa5e70a4-a46e-4665-8a20-94d4d7b86fc8", "Performer", "Other", ["ActParticipationType"]),
    ("f0cb3faf-435d-4704-9217-b884f757bc14", "Authororiginator", "Other", ["ActParticipationType"]),
    ("61848557-d78d-40e5-954f-0b9c97307a04", "Location", "Other", ["ActParticipationType"]),
    ("bacd9c6f-3fa9-481e-9636-37457962804d", "Patient", "ClassCode", ["EntityClass"]),
    ("6b04fed8-c164-469c-910b-f824c2bda4f0", "HealthcareProvider", "ClassCode", ["EntityClass"]),
    ("9de2a846-ddf2-4ebc-902e-84508c5089ea", "Person", "ClassCode", ["EntityClass"]),
    ("ff34dfa7-c6d3-4f8b-bc9f-14bcdc13ba6c", "ServiceDeliveryLocation", "ClassCode", ["EntityClass"]),
    ("f29f08de-78a7-4a5e-aeaf-7b545ba19a09", "Specific", "Other", ["EntityDeterminer"]),
    ("1ec9583a-b019-4baa-b856-b99caf368656", "OfficialRecord", "Other", ["NameUse"]),
    ("effe122d-8d30-491d-805d-addcb4466c35", "Legal", "Other", ["NameUse"]),
    ("2f64bde2-a696-4b0a-9690-b21ebd7e5092", "Given", "Other", ["NameComponentType"]),
    ("29b98455-ed61-49f8-a161-2d73363e1df0", "Family", "Other", ["NameComponentType"]),
    ("e161f90e-5939-430e-861a-f8e885cc353d", "MobileContact", "Other", ["TelecomAddressUse"]),
    ("c4faafd8-fc90-4330-8b4b-e4e64c86b87b", "PrimaryHome", "Other", ["TelecomAddressUse"]),
    ("eaa6f08e-bb8e-4457-9dc0-3a1555fadf5c", "WorkPlace", "Other", ["TelecomAddressUse"]),
    ("6e7a3521-2967-4c0a-80ec-6c5c197b2178", "Immunization", "Other", ["ActType"]),
]
KEY = {mnemonic: key for key, mnemonic, _, _ in CONCEPTS}
CLASS_KEY = {mnemonic: key for key, _, mnemonic in CLASSES}


class Rows:
    """An open cursor, the product's UUIDs drawn from a seeded generator (a table keyed by UUIDs
    is sampled in key order: fresh ones would give discover a different sample each run)."""

    def __init__(self, cursor: Any, rng: random.Random) -> None:
        self.cursor, self.rng = cursor, rng

    def uuid(self) -> str:
        return real.seeded_uuid(self.rng)

    def insert(self, table: str, row: dict[str, Any]) -> None:
        self.cursor.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})",
                            list(row.values()))

    def seq(self, sequence: str) -> int:
        self.cursor.execute(f"SELECT nextval('{sequence}')")
        return int(self.cursor.fetchone()[0])


def _concepts(rows: Rows, stamp: datetime) -> None:
    """The concept dictionary: classes, sets, each concept's head version and set membership;
    the Performer concept renamed once (its first mnemonic obsoleted, as a dictionary update leaves it)."""
    for key, name, mnemonic in CLASSES:
        rows.insert("cd_cls_tbl", {"cls_id": key, "cls_name": name, "mnemonic": mnemonic, "crt_utc": stamp,
                                   "crt_prov_id": SYSTEM})
    sets = sorted({s for *_, members in CONCEPTS for s in members})
    set_ids = {s: rows.uuid() for s in sets}
    for s in sets:
        rows.insert("cd_set_tbl", {"set_id": set_ids[s], "set_name": s, "mnemonic": s, "oid": f"1.3.6.1.{len(s)}.{s}",
                                   "url": f"http://santedb.org/conceptset/{s}", "crt_utc": stamp,
                                   "crt_prov_id": SYSTEM})
    for key, *_ in CONCEPTS:
        rows.insert("cd_tbl", {"cd_id": key})
    for key, mnemonic, cls, members in CONCEPTS:
        replaced = None
        if mnemonic == "Performer":
            replaced = rows.uuid()
            rows.insert("cd_vrsn_tbl", {"cd_vrsn_id": replaced, "cd_id": key, "sts_cd_id": KEY["ACTIVE"],
                                        "crt_utc": stamp, "crt_prov_id": SYSTEM,
                                        "obslt_utc": stamp + timedelta(days=30), "obslt_prov_id": SYSTEM,
                                        "cls_id": CLASS_KEY[cls], "mnemonic": "PRF", "head": False})
        rows.insert("cd_vrsn_tbl", {"cd_vrsn_id": rows.uuid(), "cd_id": key, "sts_cd_id": KEY["ACTIVE"],
                                    "crt_utc": stamp + timedelta(days=30 if replaced else 0), "crt_prov_id": SYSTEM,
                                    "rplc_vrsn_id": replaced, "cls_id": CLASS_KEY[cls], "mnemonic": mnemonic,
                                    "head": True})
        for s in members:
            rows.insert("cd_set_mem_assoc_tbl", {"set_id": set_ids[s], "cd_id": key})


def _phone(rng: random.Random, mobile: bool) -> tuple[str, str]:
    """A Toronto number as the desk types it and in E.164 (Canadian mobiles and landlines share
    their area codes: only the telecom's use tells one from the other)."""
    e164 = real.valid_number(rng, rng.choice(("+1416", "+1647", "+1437")) if mobile else "+1416", 12)
    area, exchange, line = e164[2:5], e164[5:8], e164[8:]
    typed = rng.choice((f"({area}) {exchange}-{line}", f"{area}-{exchange}-{line}", f"+1 {area} {exchange} {line}"))
    return typed, e164


class People:
    """Entities as SanteDB keeps them: a version per change, the person and role rows per version,
    names as typed components and telecoms typed by use, each valid from one version to another."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def version(self, ent: str, cls: str, stamp: datetime, head: bool, replaced: str | None,
                obsoleted: datetime | None) -> tuple[str, int]:
        rows = self.rows
        vrsn, seq = rows.uuid(), rows.seq("ent_vrsn_seq")
        rows.insert("ent_vrsn_tbl", {
            "ent_vrsn_id": vrsn, "vrsn_seq_id": seq, "ent_id": ent, "rplc_vrsn_id": replaced,
            "sts_cd_id": KEY["ACTIVE"], "crt_utc": stamp, "crt_prov_id": SYSTEM, "obslt_utc": obsoleted,
            "obslt_prov_id": SYSTEM if obsoleted else None, "cls_cd_id": KEY[cls], "dtr_cd_id": KEY["Specific"],
            "head": head})
        if cls != "ServiceDeliveryLocation":
            rows.insert("psn_tbl", {"ent_vrsn_id": vrsn, "dob": stamp.date() - timedelta(days=9000 + seq * 97),
                                    "dob_prec": "D"})
        if cls == "Patient":
            rows.insert("pat_tbl", {"ent_vrsn_id": vrsn})
        if cls == "HealthcareProvider":
            rows.insert("pvdr_tbl", {"ent_vrsn_id": vrsn})
        return vrsn, seq

    def name(self, ent: str, parts: list[tuple[str, str]], since: int, until: int | None = None,
             use: str = "OfficialRecord") -> None:
        rows = self.rows
        name = rows.uuid()
        rows.insert("ent_name_tbl", {"name_id": name, "ent_id": ent, "efft_vrsn_seq_id": since,
                                     "obslt_vrsn_seq_id": until, "use_cd_id": KEY[use]})
        for kind, value in parts:
            rows.insert("ent_name_cmp_tbl", {"cmp_id": rows.uuid(), "typ_cd_id": KEY[kind], "name_id": name,
                                             "seq_id": rows.seq("name_val_seq"), "val": value})

    def tel(self, ent: str, use: str, value: str, since: int, until: int | None = None) -> None:
        self.rows.insert("ent_tel_tbl", {"tel_id": self.rows.uuid(), "ent_id": ent, "use_cd_id": KEY[use],
                                         "tel_val": value, "efft_vrsn_seq_id": since, "obslt_vrsn_seq_id": until})

    def person(self, cls: str, given: list[str], family: str, stamp: datetime, *, maiden: str | None = None,
               changed: datetime | None = None) -> tuple[str, int, int]:
        """One person entity; with ``maiden``/``changed`` a second version (the name changed then).
        Its id, first and head version sequences."""
        ent = self.rows.uuid()
        self.rows.insert("ent_tbl", {"ent_id": ent})
        parts = [("Given", g) for g in given]
        if changed is None:
            _, seq = self.version(ent, cls, stamp, True, None, None)
            self.name(ent, [*parts, ("Family", family)], seq)
            return ent, seq, seq
        old, first = self.version(ent, cls, stamp, False, None, changed)
        _, head = self.version(ent, cls, changed, True, old, None)
        self.name(ent, [*parts, ("Family", maiden or family)], first, head)
        self.name(ent, [*parts, ("Family", family)], head)
        return ent, first, head


def _people(people: People, rng: random.Random, stamp: datetime, recent: datetime) -> tuple[
        list[tuple[str, str]], list[tuple[str, str, str | None]], str]:
    """The doctors (a work line each), the clerk who books, the patients: mostly a mobile, some
    a home landline beside it (entered before or after), a few a landline only, some a work line,
    a few a mobile given up (obsoleted by a later version). Doctors (id, name); patients (id,
    name, phone to text)."""
    doctors = []
    for given, family in DOCTORS:
        ent, seq, _ = people.person("HealthcareProvider", [given], family, stamp)
        people.tel(ent, "WorkPlace", _phone(rng, False)[0], seq)
        doctors.append((ent, f"{given} {family}"))
    clerk, _, _ = people.person("Person", ["Nadia"], "Okafor", stamp)
    patients: list[tuple[str, str, str | None]] = []
    for p in range(PATIENTS):
        given = [GIVEN[p % len(GIVEN)]] + (["Marie"] if p % 11 == 3 else [])
        family = FAMILY[(p * 3) % len(FAMILY)]
        married = p % 7 == 2
        ent, first, head = people.person("Patient", given, family, stamp - timedelta(days=p),
                                         maiden=FAMILY[(p * 3 + 1) % len(FAMILY)] if married else None,
                                         changed=recent - timedelta(days=p % 9) if married or p % 6 == 1 else None)
        phone: str | None
        if p % 9 == 4:  # a landline only
            typed, phone = _phone(rng, False)
            people.tel(ent, "PrimaryHome", typed, first)
        else:
            if p % 6 == 1:  # a mobile given up when the entity changed
                people.tel(ent, "MobileContact", _phone(rng, True)[0], first, head)
            if p % 5 == 0:  # a home line entered first
                people.tel(ent, "PrimaryHome", _phone(rng, False)[0], first)
            typed, phone = _phone(rng, True)
            people.tel(ent, "MobileContact", typed, head)
            if p % 4 == 3:  # a home line entered after the mobile
                people.tel(ent, "PrimaryHome", _phone(rng, False)[0], head)
        if p % 8 == 5:
            people.tel(ent, "WorkPlace", _phone(rng, False)[0], head)
        patients.append((ent, " ".join([*given, family]), phone))
    return doctors, patients, clerk


class Acts:
    """Acts as SanteDB keeps them: a version per change (the newest the ``head``), participations
    valid from one act version's sequence to another's."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows

    def version(self, act: str, cls: str, mood: str, status: str, start: datetime, stop: datetime | None,
                created: datetime, head: bool, replaced: str | None, obsoleted: datetime | None) -> tuple[str, int]:
        rows = self.rows
        vrsn, seq = rows.uuid(), rows.seq("act_vrsn_seq")
        rows.insert("act_vrsn_tbl", {
            "act_vrsn_id": vrsn, "vrsn_seq_id": seq, "act_id": act, "crt_utc": created, "crt_prov_id": SYSTEM,
            "obslt_utc": obsoleted, "obslt_prov_id": SYSTEM if obsoleted else None, "rplc_vrsn_id": replaced,
            "sts_cd_id": KEY[status], "act_start_utc": start, "act_stop_utc": stop,
            "act_utc": start if mood == "Eventoccurrence" else None, "cls_cd_id": KEY[cls], "mod_cd_id": KEY[mood],
            "typ_cd_id": KEY["Immunization"] if cls == "SubstanceAdministration" else None, "head": head})
        if cls == "Encounter":
            rows.insert("pat_enc_tbl", {"act_vrsn_id": vrsn})
        return vrsn, seq

    def act(self) -> str:
        act = self.rows.uuid()
        self.rows.insert("act_tbl", {"act_id": act})
        return act

    def part(self, act: str, ent: str, role: str, since: int, until: int | None = None) -> None:
        self.rows.insert("act_ptcpt_tbl", {"act_ptcpt_id": self.rows.uuid(), "ent_id": ent, "act_id": act,
                                           "efft_vrsn_seq_id": since, "obslt_vrsn_seq_id": until,
                                           "rol_cd_id": KEY[role], "ptcpt_seq_id": self.rows.seq("act_ptcpt_seq")})


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(connection: Any) -> dict[str, dict[str, Any]]:
    """The schema from the fixture, filled; per upcoming visit (by act id) every field the store must hold."""
    real.run_ddl(connection, FIXTURE)
    cursor = connection.cursor()
    rng = random.Random(2013)
    rows = Rows(cursor, rng)
    clinic = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    stamp, recent = now - timedelta(days=700), now - timedelta(days=20)
    _concepts(rows, stamp)
    people = People(rows)
    doctors, patients, clerk = _people(people, rng, stamp, recent)
    acts = Acts(rows)
    today = now.astimezone(clinic).date()
    truth: dict[str, dict[str, Any]] = {}
    for n in range(VISITS):
        day = today + timedelta(days=1 + n // 6)
        start = datetime(day.year, day.month, day.day, 9 + n % 8, (0, 20, 40)[n % 3], tzinfo=clinic)
        stop = start + timedelta(minutes=MINUTES[n % 3])
        created = now - timedelta(days=15 - n % 10, hours=n % 5)
        patient, name, phone = patients[(n * 7) % PATIENTS]
        doctor = doctors[n % len(doctors)]
        status = "CANCELLED" if n % 13 == 4 else "NULLFIIED" if n % 29 == 11 else ("ACTIVE", "NEW")[n % 3 == 0]
        act = acts.act()
        if n % 6 == 2:  # rescheduled: the first version obsoleted, at another time
            moved = created + timedelta(days=2)
            old_start = start - timedelta(days=1 + n % 3, hours=2)
            old, first = acts.version(act, "Encounter", "APT", "NEW", old_start, old_start + timedelta(minutes=30),
                                      created, False, None, moved)
            _, head = acts.version(act, "Encounter", "APT", status, start, stop, moved, True, old, None)
        else:
            _, first = acts.version(act, "Encounter", "APT", status, start, stop, created, True, None, None)
            head = first
        acts.part(act, patient, "RecordTarget", first)
        acts.part(act, clerk, "Authororiginator", first)
        if n % 8 == 5 and head != first:  # the doctor first booked was replaced with the new version
            acts.part(act, doctors[(n + 1) % len(doctors)][0], "Performer", first, head)
            acts.part(act, doctor[0], "Performer", head)
        else:
            acts.part(act, doctor[0], "Performer", first)
        truth[act] = {"start": _iso(start), "end": _iso(stop), "status": STATUS[status], "patient": patient,
                      "name": name, "phone": phone, "doctor": doctor[0], "doctor_name": doctor[1], "zone": ZONE}
    for n in range(60):  # the encounters that took place
        day = today - timedelta(days=1 + n)
        start = datetime(day.year, day.month, day.day, 9 + n % 8, 0, tzinfo=clinic)
        act = acts.act()
        _, seq = acts.version(act, "Encounter", "Eventoccurrence", "COMPLETE", start, start + timedelta(minutes=20),
                              start, True, None, None)
        acts.part(act, patients[(n * 5) % PATIENTS][0], "RecordTarget", seq)
        acts.part(act, doctors[n % len(doctors)][0], "Performer", seq)
    for n in range(30):  # the care planner's proposals ahead: a vaccine due, no doctor, no booking
        due = now + timedelta(days=3 + 2 * n)
        act = acts.act()
        _, seq = acts.version(act, "SubstanceAdministration", "Propose", "NEW", due, due + timedelta(days=30),
                              now - timedelta(days=1), True, None, None)
        acts.part(act, patients[(n * 3) % PATIENTS][0], "RecordTarget", seq)
    cursor.close()
    return truth
