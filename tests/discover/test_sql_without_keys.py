"""Schemas that declare no foreign key (many installs never do: MyISAM tables, Laravel and
WordPress apps, dumps restored without constraints): which table refers to which is read from
names and values, and it must come out as it would with the keys declared. Each schema is built
here, in an SQLite file without a single REFERENCES clause, and discover run on it.

- A contacts' email table whose two date columns are empty on every row is no diary: the
  activity table beside it, whose child rows name the contacts, is the visits' table.
- A code named with its own table's word (``crm_activity.activity_type_id``) refers to no table
  that shares only that word (``crm_activity_contact``); a code's word alone (``visit_type_id``)
  names no other table's list (``person_attribute_type``).
- A patient row keyed by its person's key (``patient.patient_id`` is ``person.person_id``) is
  followed to the person and its names, never a names table itself, never the patient's
  identifier rows.
- Of a participant row's two people columns, the person (patient, contact) before the login
  (a colleague's user row), whatever the columns' order.
- A login table without a name reaches its person in the 1:1 profile row keyed alike.
- A column whose name says no table refers to the one whose rows its values cover; one named
  like several tables' unique keys to the one holding all its values."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, inspect

from clinicsync.sync.discover.graph import read_schema
from clinicsync.sync.discover.sql import discover_sql
from clinicsync.sync.discover.sql_reading import quote_name, run_checked
from clinicsync.sync.discover.valuerefs import value_references

ZONE = "America/Chicago"


def _database(folder: Path, ddl: str, rows: dict[str, list[tuple[object, ...]]]) -> str:
    path = folder / "nokeys.db"
    connection = sqlite3.connect(path)
    connection.executescript(ddl)
    for table, values in rows.items():
        if values:
            marks = ", ".join("?" for _ in values[0])
            connection.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def _found_by_values(url: str) -> set[tuple[str, str, str]]:
    """The references discover finds by values: (table, column, target table)."""
    engine = create_engine(url)
    with engine.connect() as connection:
        inspector = inspect(connection)
        schema = read_schema(inspector, inspector.get_table_names(), ())
        refs = value_references(schema, lambda sql: run_checked(connection, sql),
                                lambda n: quote_name(connection, n), connection.dialect.name, mixed=True)
    engine.dispose()
    return {(r.table, r.column, r.target) for r in refs}


def _soon(n: int) -> datetime:
    return datetime.now().replace(microsecond=0, second=0, minute=0) + timedelta(days=1 + n % 20, hours=n % 7)


CRM = """
CREATE TABLE crm_contact (id INTEGER PRIMARY KEY, first_name VARCHAR(64), last_name VARCHAR(64),
  created_date DATETIME, modified_date DATETIME);
CREATE TABLE crm_email (id INTEGER PRIMARY KEY, contact_id INTEGER, email VARCHAR(254), is_primary TINYINT,
  hold_date DATETIME, reset_date DATETIME);
CREATE TABLE crm_phone (id INTEGER PRIMARY KEY, contact_id INTEGER, phone VARCHAR(32), is_primary TINYINT);
CREATE TABLE crm_activity (id INTEGER PRIMARY KEY, activity_type_id INTEGER, subject VARCHAR(255),
  activity_date_time DATETIME, duration INTEGER, status VARCHAR(16));
CREATE TABLE crm_activity_contact (id INTEGER PRIMARY KEY, activity_id INTEGER, contact_id INTEGER,
  record_type_id INTEGER);
"""


def _crm(folder: Path) -> str:
    contacts = [(c, f"Given{c}", f"Family{c}", "2024-01-05 10:00:00", "2024-02-05 10:00:00") for c in range(1, 41)]
    activities, links = [], []
    for n in range(1, 121):
        activities.append((n, 1 + n % 3, "Consultation", str(_soon(n)), 30, "Scheduled"))
        links.append((2 * n - 1, n, 1 + n % 40, 3))  # the patient's row
        links.append((2 * n, n, 41 + n % 2, 1))  # the assignee's row (a doctor, a contact too)
    contacts += [(41, "Amara", "Diallo", "2024-01-05 10:00:00", None), (42, "Henrik", "Olsen", None, None)]
    return _database(folder, CRM, {
        "crm_contact": contacts,
        "crm_email": [(c, c, f"given{c}@example.org", 1, None, None) for c in range(1, 43)],
        "crm_phone": [(c, c, f"(312) 555-{1000 + c:04d}", 1) for c in range(1, 41)],
        "crm_activity": activities, "crm_activity_contact": links})


def test_an_email_table_with_empty_dates_is_no_diary_and_a_code_is_no_reference(tmp_path: Path) -> None:
    url = _crm(tmp_path)
    assert ("crm_activity", "activity_type_id", "crm_activity_contact") not in _found_by_values(url)
    assert ("crm_activity_contact", "activity_id", "crm_activity") in _found_by_values(url)
    proposal = discover_sql(url, stored_times="local", clinic_zone=ZONE, region="US")
    assert "FROM crm_activity AS a" in proposal.connector["query"], proposal.connector["query"]
    fields = (proposal.mapping or {})["fields"]
    assert fields["start"] == {"from": "activity_date_time"}, fields["start"]


OPENMRS_LIKE = """
CREATE TABLE person (person_id INTEGER PRIMARY KEY, gender VARCHAR(1), birthdate DATE, voided TINYINT,
  date_created DATETIME);
CREATE TABLE person_name (person_name_id INTEGER PRIMARY KEY, person_id INTEGER, given_name VARCHAR(50),
  family_name VARCHAR(50), preferred TINYINT, voided TINYINT);
CREATE TABLE person_attribute_type (person_attribute_type_id INTEGER PRIMARY KEY, name VARCHAR(50));
CREATE TABLE person_attribute (person_attribute_id INTEGER PRIMARY KEY, person_id INTEGER, value VARCHAR(50),
  person_attribute_type_id INTEGER, voided TINYINT);
CREATE TABLE patient (patient_id INTEGER PRIMARY KEY, allergy_status VARCHAR(50), voided TINYINT,
  date_created DATETIME);
CREATE TABLE patient_identifier (patient_identifier_id INTEGER PRIMARY KEY, patient_id INTEGER,
  identifier VARCHAR(50), voided TINYINT);
CREATE TABLE visit (visit_id INTEGER PRIMARY KEY, patient_id INTEGER, visit_type_id INTEGER,
  date_started DATETIME);
CREATE TABLE appointment (appointment_id INTEGER PRIMARY KEY, patient_id INTEGER, start_date_time DATETIME,
  end_date_time DATETIME, status VARCHAR(45), date_created DATETIME);
"""


def _openmrs_like(folder: Path) -> str:
    # Persons 1-10 are staff, 11-70 patients: a patient's key is its person's key.
    people = [(p, "F", "1980-01-01", 0, "2024-01-05 10:00:00") for p in range(1, 71)]
    names = [(p + 500, p, f"Given{p}", f"Family{p}", 1, 0) for p in range(1, 71)]  # names keyed apart
    phones = [(p + 900, p, f"(312) 555-{1000 + p:04d}", 1, 0) for p in range(11, 71)]
    patients = [(p, "Unknown", 0, "2024-01-05 10:00:00") for p in range(11, 71)]
    identifiers = [(p - 10, p, f"GAN{p:06d}", 0) for p in range(11, 71)]  # 1, 2, 3 … as persons are
    visits = [(v, 11 + v % 60, 1 + v % 2, "2024-03-01 09:00:00") for v in range(1, 80)]
    appointments = [(n, 11 + n % 60, str(_soon(n)), str(_soon(n) + timedelta(minutes=30)), "Scheduled",
                     "2024-03-01 09:00:00") for n in range(1, 121)]
    return _database(folder, OPENMRS_LIKE, {
        "person": people, "person_name": names, "person_attribute_type": [(1, "phoneNumber"), (2, "email")],
        "person_attribute": phones, "patient": patients, "patient_identifier": identifiers, "visit": visits,
        "appointment": appointments})


def test_a_patient_keyed_by_its_persons_key_reaches_the_persons_names(tmp_path: Path) -> None:
    url = _openmrs_like(tmp_path)
    found = _found_by_values(url)
    assert ("patient", "patient_id", "person") in found, found
    assert not {f for f in found if f[0] == "patient_identifier" and f[1] == "patient_identifier_id"}, found
    assert ("visit", "visit_type_id", "person_attribute_type") not in found, found
    proposal = discover_sql(url, stored_times="local", clinic_zone=ZONE, region="US")
    fields = (proposal.mapping or {})["fields"]
    assert fields["patient.external_id"] == {"from": "patient_id"}, fields
    assert "patient_given_name" in str(fields["patient.name"]), fields["patient.name"]
    assert "patient.phone" in fields, fields
    why = next(g.why for g in proposal.guesses if g.field == "patient.external_id")
    assert "appointment -> patient -> person" in why, why


CRM_LINKS = """
CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100), email VARCHAR(120), status TINYINT);
CREATE TABLE persons (id INTEGER PRIMARY KEY, name VARCHAR(100), email VARCHAR(120), phone VARCHAR(32),
  user_id INTEGER);
CREATE TABLE activities (id INTEGER PRIMARY KEY, title VARCHAR(100), type VARCHAR(20), schedule_from DATETIME,
  schedule_to DATETIME, user_id INTEGER);
CREATE TABLE activity_participants (id INTEGER PRIMARY KEY, activity_id INTEGER, user_id INTEGER,
  person_id INTEGER);
"""


def _crm_links(folder: Path) -> str:
    activities, participants = [], []
    for n in range(1, 81):
        activities.append((n, "Visit", "meeting", str(_soon(n)), str(_soon(n) + timedelta(minutes=30)), 1 + n % 3))
        participants.append((2 * n - 1, n, 1 + (n + 1) % 3, None))  # a colleague invited, written first
        participants.append((2 * n, n, None, 1 + n % 50))
    return _database(folder, CRM_LINKS, {
        "users": [(u, f"Dr. User{u}", f"user{u}@clinic.example.com", 1) for u in range(1, 4)],
        "persons": [(p, f"Person {p}", f"person{p}@example.org", f"(312) 555-{2000 + p:04d}", None)
                    for p in range(1, 51)],
        "activities": activities, "activity_participants": participants})


def test_a_participant_row_names_the_person_before_the_colleagues_login(tmp_path: Path) -> None:
    proposal = discover_sql(_crm_links(tmp_path), stored_times="local", clinic_zone=ZONE, region="US")
    why = next(g.why for g in proposal.guesses if g.field == "patient.external_id")
    assert "links it to 'persons'" in why, why
    fields = (proposal.mapping or {})["fields"]
    assert "patient.phone" in fields, fields


TRYTON_LIKE = """
CREATE TABLE party_party (id INTEGER PRIMARY KEY, name VARCHAR(80), lastname VARCHAR(80), active BOOLEAN);
CREATE TABLE party_contact_mechanism (id INTEGER PRIMARY KEY, party INTEGER, type VARCHAR(20), value VARCHAR(120),
  active BOOLEAN);
CREATE TABLE person_name (id INTEGER PRIMARY KEY, party INTEGER, given VARCHAR(80), family VARCHAR(80));
CREATE TABLE clinic_patient (id INTEGER PRIMARY KEY, name INTEGER, puid VARCHAR(20));
CREATE TABLE clinic_doctor (id INTEGER PRIMARY KEY, name INTEGER, code VARCHAR(20));
CREATE TABLE clinic_appointment (id INTEGER PRIMARY KEY, patient INTEGER, healthprof INTEGER,
  appointment_date DATETIME, state VARCHAR(20));
"""


def _tryton_like(folder: Path) -> str:
    parties = [(p, f"Given{p}", f"Family{p}", 1) for p in range(1, 81)]
    mechanisms = [(p, p, "mobile", f"(312) 555-{3000 + p:04d}", 1) for p in range(1, 81)]
    mechanisms += [(100 + p, p, "email", f"party{p}@example.org", 1) for p in range(1, 81)]
    names = [(p, p, f"Given{p}", f"Family{p}") for p in range(1, 81)]  # numbered as the parties are
    patients = [(n, 4 + n, f"PUID{n}") for n in range(1, 71)]  # parties 5-74
    doctors = [(d, d, f"DOC{d}") for d in range(1, 4)]  # parties 1-3
    appointments = [(n, 1 + n % 70, 1 + n % 3, str(_soon(n)), "confirmed") for n in range(1, 121)]
    return _database(folder, TRYTON_LIKE, {
        "party_party": parties, "party_contact_mechanism": mechanisms, "person_name": names,
        "clinic_patient": patients, "clinic_doctor": doctors, "clinic_appointment": appointments})


def test_a_name_kept_as_a_number_is_the_party_that_holds_the_name(tmp_path: Path) -> None:
    """Tryton's ``name`` (an integer) is the party; a table's first word names its parent
    (``party_contact_mechanism.party``), not the row itself; the person's names table, numbered as
    the parties are, is not the party."""
    url = _tryton_like(tmp_path)
    found = _found_by_values(url)
    assert {("clinic_patient", "name", "party_party"), ("clinic_doctor", "name", "party_party"),
            ("party_contact_mechanism", "party", "party_party")} <= found, found
    proposal = discover_sql(url, stored_times="utc", clinic_zone=ZONE, region="US")
    fields = (proposal.mapping or {})["fields"]
    assert "party_party_name" in str(fields["patient.name"]), fields["patient.name"]
    assert "patient.phone" in fields and "practitioner.name" in fields, fields


KHANZA_LIKE = """
CREATE TABLE dokter (kd_dokter VARCHAR(20) PRIMARY KEY, nm_dokter VARCHAR(50), email VARCHAR(80));
CREATE TABLE pasien (no_rkm_medis VARCHAR(15) PRIMARY KEY, nm_pasien VARCHAR(40), no_tlp VARCHAR(40));
CREATE TABLE booking_registrasi (no_rkm_medis VARCHAR(15), tanggal_periksa DATE, kd_dokter VARCHAR(20),
  waktu_kunjungan DATETIME, status VARCHAR(20), PRIMARY KEY (no_rkm_medis, tanggal_periksa));
"""


def test_codes_named_for_their_table_refer_to_it(tmp_path: Path) -> None:
    """A key named for its table in two words (``kd_dokter`` of ``dokter``, ``no_rkm_medis`` of
    ``pasien``) is what a column of that name elsewhere refers to, without a declared key."""
    appointments = [(f"{1 + n % 60:06d}", str(_soon(n).date()), f"D{1 + n % 3:03d}", str(_soon(n)), "Belum")
                    for n in range(1, 121)]
    url = _database(tmp_path, KHANZA_LIKE, {
        "dokter": [(f"D{d:03d}", f"dr. Dokter {d}", f"dokter{d}@rs.example.id") for d in range(1, 4)],
        "pasien": [(f"{p:06d}", f"Pasien {p}", f"0812-3456-{p:04d}") for p in range(1, 61)],
        "booking_registrasi": list({(a[0], a[1]): a for a in appointments}.values())})
    proposal = discover_sql(url, stored_times="local", clinic_zone="Asia/Jakarta", region="ID")
    fields = (proposal.mapping or {})["fields"]
    assert "nm_dokter" in str(fields.get("practitioner.name")), fields
    assert "nm_pasien" in str(fields.get("patient.name")), fields


BOOKING_TOOL = """
CREATE TABLE wp_ea_staff (id INTEGER PRIMARY KEY, name VARCHAR(100), email VARCHAR(100), phone VARCHAR(45));
CREATE TABLE wp_ea_services (id INTEGER PRIMARY KEY, name VARCHAR(100), duration INTEGER);
CREATE TABLE wp_ea_appointments (id INTEGER PRIMARY KEY, service INTEGER, worker INTEGER, name VARCHAR(255),
  email VARCHAR(255), phone VARCHAR(45), date DATE, start TIME, end TIME, status VARCHAR(45));
"""


def test_a_worker_column_is_the_staff_row_it_numbers(tmp_path: Path) -> None:
    """Easy Appointments' ``worker`` (3 staff: a few small numbers, as every table's keys are)
    refers to the staff table, the one table of the same kind of person."""
    appointments = [(n, 1 + n % 3, 1 + n % 3, f"Client {n}", f"client{n}@example.org", f"(312) 555-{4000 + n:04d}",
                     str(_soon(n).date()), _soon(n).strftime("%H:%M:%S"),
                     (_soon(n) + timedelta(minutes=30)).strftime("%H:%M:%S"), "confirmed") for n in range(1, 101)]
    url = _database(tmp_path, BOOKING_TOOL, {
        "wp_ea_staff": [(s, f"Dr. Staff {s}", f"staff{s}@clinic.example.com", None) for s in range(1, 4)],
        "wp_ea_services": [(s, f"Service {s}", 30) for s in range(1, 4)],
        "wp_ea_appointments": appointments})
    assert ("wp_ea_appointments", "worker", "wp_ea_staff") in _found_by_values(url)
    fields = (discover_sql(url, stored_times="local", clinic_zone=ZONE, region="US").mapping or {})["fields"]
    assert fields["practitioner.external_id"] == {"from": "worker"}, fields


CRM_ENTITY = """
CREATE TABLE crm_users (id INTEGER PRIMARY KEY, user_name VARCHAR(60), first_name VARCHAR(30),
  last_name VARCHAR(30), email1 VARCHAR(100));
CREATE TABLE crm_entity (crmid INTEGER PRIMARY KEY, smcreatorid INTEGER, smownerid INTEGER, setype VARCHAR(30),
  deleted INTEGER, modifiedtime DATETIME);
CREATE TABLE crm_contactdetails (contactid INTEGER PRIMARY KEY, firstname VARCHAR(40), lastname VARCHAR(80),
  mobile VARCHAR(50), email VARCHAR(100));
CREATE TABLE crm_activity (activityid INTEGER PRIMARY KEY, subject VARCHAR(100), date_start DATE,
  time_start TIME, time_end TIME, eventstatus VARCHAR(50));
CREATE TABLE crm_activitycf (activityid INTEGER PRIMARY KEY, cf_room VARCHAR(20));
CREATE TABLE crm_cntactivityrel (contactid INTEGER, activityid INTEGER, PRIMARY KEY (contactid, activityid));
"""


def test_a_record_keyed_by_its_shared_rows_key_reaches_the_owner_and_the_deleted_flag(tmp_path: Path) -> None:
    """Vtiger's shape without its keys: contacts and activities numbered from one sequence, each
    with its row in the entity table (its owner user, its deleted flag); the activity's key is
    that row's key under another name, and its custom-fields row holds the same numbers. The
    activity reaches its owner as the doctor, and a deleted entity row leaves it out."""
    entity, contacts, activities, cf, links = [], [], [], [], []
    for c in range(1, 41):
        entity.append((c, 1, 1, "Contacts", 0, "2024-01-05 10:00:00"))
        contacts.append((c, f"Given{c}", f"Family{c}", f"(312) 555-{5000 + c:04d}", f"c{c}@example.org"))
    for n in range(41, 161):
        at = _soon(n)
        entity.append((n, 1, 2 + n % 3, "Events", int(n % 20 == 0), "2024-03-01 09:00:00"))
        activities.append((n, "Consultation", str(at.date()), at.strftime("%H:%M:%S"),
                           (at + timedelta(minutes=30)).strftime("%H:%M:%S"), "Planned"))
        cf.append((n, "Room 1"))
        links.append((1 + n % 40, n))
    url = _database(tmp_path, CRM_ENTITY, {
        "crm_users": [(u, f"user{u}", f"First{u}", f"Last{u}", f"user{u}@clinic.example.com") for u in range(1, 5)],
        "crm_entity": entity, "crm_contactdetails": contacts, "crm_activity": activities, "crm_activitycf": cf,
        "crm_cntactivityrel": links})
    found = _found_by_values(url)
    assert ("crm_activity", "activityid", "crm_entity") in found, found
    assert not {f for f in found if f[0] == "crm_contactdetails"}, found  # numbered 1, 2, 3 …: held by any table
    proposal = discover_sql(url, stored_times="local", clinic_zone=ZONE, region="US")
    query = proposal.connector["query"]
    assert "FROM crm_activity AS a" in query and "crm_cntactivityrel" in query, query
    assert "crmid = a.activityid" in query and ".deleted, 0) = 0" in query, query
    why = next(g.why for g in proposal.guesses if g.field == "practitioner.external_id")
    assert "'smownerid'" in why, why


UNIQUE_KEY = """
CREATE TABLE patient_data (id INTEGER PRIMARY KEY, pid BIGINT NOT NULL UNIQUE, fname VARCHAR(60),
  lname VARCHAR(60), phone_cell VARCHAR(30));
CREATE TABLE calendar_events (pc_eid INTEGER PRIMARY KEY, pc_pid VARCHAR(11), pc_eventDate DATE,
  pc_startTime TIME, pc_endTime TIME, pc_title VARCHAR(40));
"""


def test_a_column_named_after_a_unique_key_refers_to_it(tmp_path: Path) -> None:
    """OpenEMR's shape: the visit's ``pc_pid`` (text) holds ``patient_data.pid``, a unique key
    beside the table's own ``id``, numbered apart from it; no key declares it. The patient is
    the row whose ``pid`` it names, never the row whose ``id`` happens to be that number."""
    patients = [(p, 1000 + p, f"Given{p}", f"Family{p}", f"(617) 253-{1000 + p:04d}") for p in range(1, 41)]
    patients += [(1000 + p, p, f"Other{p}", f"Other{p}", None) for p in range(1, 41)]  # ids that read as pids
    visits = [(n, str(1000 + 1 + n % 40), str(_soon(n).date()), _soon(n).strftime("%H:%M:%S"),
               (_soon(n) + timedelta(minutes=20)).strftime("%H:%M:%S"), "visit") for n in range(1, 121)]
    url = _database(tmp_path, UNIQUE_KEY, {"patient_data": patients, "calendar_events": visits})
    assert ("calendar_events", "pc_pid", "patient_data") in _found_by_values(url)
    proposal = discover_sql(url, stored_times="local", clinic_zone="America/New_York", region="US")
    assert "ON t1.pid = a.pc_pid" in proposal.connector["query"] or ".pid = a.pc_pid" in proposal.connector["query"], \
        proposal.connector["query"]
    fields = (proposal.mapping or {})["fields"]
    assert "fname" in str(fields["patient.name"]) and "patient.phone" in fields, fields


LOGIN_PROFILE = """
CREATE TABLE app_users (user_id INTEGER PRIMARY KEY, username VARCHAR(60), password VARCHAR(60), disabled TINYINT);
CREATE TABLE app_user_profile (user_profile_id INTEGER PRIMARY KEY, first_name VARCHAR(60),
  last_name VARCHAR(60), email VARCHAR(120));
CREATE TABLE clients (client_id INTEGER PRIMARY KEY, first_name VARCHAR(60), last_name VARCHAR(60),
  mobile VARCHAR(32));
CREATE TABLE bookings (booking_id INTEGER PRIMARY KEY, client_id INTEGER, assigned_user_id INTEGER,
  starts_at DATETIME, ends_at DATETIME, status VARCHAR(16));
"""


def _login_profile(folder: Path) -> str:
    # Three doctors' logins, numbered past the first users (admins); their names only in the profile rows.
    users = [(u, f"login{u}", "x", 0) for u in range(1, 8)]
    profiles = [(u, f"Given{u}", f"Family{u}", f"doctor{u}@clinic.example.com") for u in range(1, 8)]
    clients = [(c, f"Client{c}", f"Surname{c}", f"(312) 555-{3000 + c:04d}") for c in range(1, 41)]
    bookings = [(n, 1 + n % 40, 5 + n % 3, str(_soon(n)), str(_soon(n) + timedelta(minutes=20)), "booked")
                for n in range(1, 91)]
    return _database(folder, LOGIN_PROFILE, {"app_users": users, "app_user_profile": profiles, "clients": clients,
                                              "bookings": bookings})


def test_a_nameless_login_reaches_its_person_in_a_profile_row_keyed_alike(tmp_path: Path) -> None:
    """A login table without a name (username, password) whose key is a profile table's key: the
    doctor's name and email are that profile row's, reached from the booking's user through the
    login as a declared key would (without it the doctor had an id and no name, and `check`
    failed: no agenda could reach them)."""
    url = _login_profile(tmp_path)
    found = _found_by_values(url)
    assert ("app_users", "user_id", "app_user_profile") in found, found
    assert not {f for f in found if f[0] == "app_user_profile"}, found  # the profile refers to no login
    proposal = discover_sql(url, stored_times="local", clinic_zone=ZONE, region="US")
    fields = (proposal.mapping or {})["fields"]
    assert "first_name" in str(fields["practitioner.name"]) and "last_name" in str(fields["practitioner.name"]), fields
    assert "practitioner.email" in fields, fields
    assert "JOIN app_user_profile" in proposal.connector["query"], proposal.connector["query"]


OWNED_ROWS = """
CREATE TABLE shop_shows (id INTEGER PRIMARY KEY, title VARCHAR(100), starts_at DATETIME);
CREATE TABLE shop_show_options (id INTEGER PRIMARY KEY, "key" VARCHAR(60), value TEXT, object_id INTEGER);
CREATE TABLE shop_item (id INTEGER PRIMARY KEY, label VARCHAR(80), position INTEGER);
CREATE TABLE shop_ticket (id INTEGER PRIMARY KEY, show_id INTEGER, item_id INTEGER, seq_no INTEGER,
  holder VARCHAR(100));
"""


def test_a_row_named_for_its_parent_and_a_word_a_table_is_named_by_refer_to_them(tmp_path: Path) -> None:
    """An object's settings rows in a table named for it (``shop_show_options`` beside
    ``shop_shows``) point at it by ``object_id``, a name that says no table; a ticket's
    ``item_id`` (a word that elsewhere numbers a row) names the ``shop_item`` table. A handful of
    small numbers each, keys of every table: the names decide, the values confirm. The ticket's
    own ``seq_no`` refers to nothing."""
    shows = [(s, f"Show {s}", str(_soon(s))) for s in range(1, 4)]
    options = [(o, key, value, s) for o, (s, key, value) in enumerate(
        [(s, k, v) for s in range(1, 4) for k, v in (("timezone", "Europe/Vienna"), ("locale", "de"))], start=1)]
    items = [(i, f"Seat class {i}", i) for i in range(1, 5)]
    tickets = [(n, 1 + n % 3, 1 + n % 4, n, f"Holder {n}") for n in range(1, 31)]
    url = _database(tmp_path, OWNED_ROWS, {"shop_shows": shows, "shop_show_options": options, "shop_item": items,
                                           "shop_ticket": tickets})
    found = _found_by_values(url)
    assert ("shop_show_options", "object_id", "shop_shows") in found, found
    assert ("shop_ticket", "item_id", "shop_item") in found, found
    assert not {f for f in found if f[1] == "seq_no"}, found


COVERED = """
CREATE TABLE surgery (id INTEGER PRIMARY KEY, eye VARCHAR(8), minutes INTEGER);
CREATE TABLE happening (id INTEGER PRIMARY KEY, kind VARCHAR(16), created DATETIME);
CREATE TABLE theatre_slot (id INTEGER PRIMARY KEY, element_id INTEGER, slot_date DATE, admission_time TIME);
"""


def test_a_reference_its_name_does_not_decide_is_the_table_its_values_cover(tmp_path: Path) -> None:
    """A booking's ``element_id`` names no table; its values 1 … 30 are keys of the 30 surgeries
    and of the first 30 of 60 bigger rows numbered alike. It names every surgery and half the
    others: it refers to the surgeries, the table whose rows its values cover."""
    surgeries = [(s, "left" if s % 2 else "right", 30 + s % 4 * 15) for s in range(1, 31)]
    happenings = [(h, "booking" if h <= 30 else "letter", str(_soon(h))) for h in range(1, 61)]
    slots = [(n, 1 + n % 30, str(_soon(n).date()), _soon(n).strftime("%H:%M:%S")) for n in range(1, 46)]
    url = _database(tmp_path, COVERED, {"surgery": surgeries, "happening": happenings, "theatre_slot": slots})
    assert ("theatre_slot", "element_id", "surgery") in _found_by_values(url)


NAMED_ALIKE = """
CREATE TABLE appointment_version (version_id VARCHAR(36) PRIMARY KEY, seq_no INTEGER UNIQUE, starts DATETIME);
CREATE TABLE party_version (version_id VARCHAR(36) PRIMARY KEY, seq_no INTEGER UNIQUE, born DATE);
CREATE TABLE share_row (id INTEGER PRIMARY KEY, since_seq_no INTEGER, role VARCHAR(16));
"""


def test_a_column_named_like_two_tables_unique_keys_refers_to_the_one_holding_its_values(tmp_path: Path) -> None:
    """``since_seq_no`` is named like the unique ``seq_no`` of the appointment versions (1 … 120)
    and of the party versions (1 … 40); the rows read first hold only early numbers, in both,
    the later rows numbers only the appointment versions hold: it refers to those, though the
    party versions come last."""
    visits = [(f"v{n:035d}", n, str(_soon(n))) for n in range(1, 121)]
    parties = [(f"p{n:035d}", n, "1970-01-01") for n in range(1, 41)]
    shares = [(n, 1 + n % 40, "performer") for n in range(1, 241)]
    shares += [(240 + n, n, "performer") for n in range(41, 121)]
    url = _database(tmp_path, NAMED_ALIKE, {"appointment_version": visits, "party_version": parties,
                                             "share_row": shares})
    assert ("share_row", "since_seq_no", "appointment_version") in _found_by_values(url)
