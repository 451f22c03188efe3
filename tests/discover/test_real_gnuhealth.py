"""`discover` on the real shape of GNU Health on Tryton, in the real PostgreSQL whose server runs
on UTC (issue 57's held-out schema): the tables as the vendors define them
(tests/fixtures/ehr/gnuhealth, with its SOURCE note; the appointment has no end column), every
date-time written as naive UTC as Tryton does, realistic synthetic data — the patient and the
health professional each a ``party_party`` (``name`` + ``lastname``), an official row and
former (maiden, old) rows in ``gnuhealth_person_name``, phones in ``party_contact_mechanism``
typed 'mobile'/'phone'/'fax'/'email' (some inactive), free slots with no patient, users who
entered the rows — driven through the admin's path: ``discover --write`` -> ``check`` ->
``sync --once``, with no ``--timezone`` (the server's UTC is not the clinic's zone)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data

ZONE = "America/Chicago"
STATUS = {"confirmed": "booked", "checked_in": "checked-in", "done": "fulfilled", "user_cancelled": "cancelled",
          "center_cancelled": "cancelled", "no_show": "noshow"}
GIVEN = ["Maria", "José", "Lucía", "Carlos", "Ana", "Diego", "Sofía", "Miguel", "Elena", "Pablo", "Rosa"]
FAMILY = ["García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Díaz", "Torres", "Ruiz"]
PATIENTS, DOCTORS, VISITS, FREE = 100, 4, 200, 12


def _utc(local: datetime) -> datetime:
    """A wall-clock time in the clinic, as Tryton writes it: naive UTC."""
    return local.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC).replace(tzinfo=None)


def build(cursor: Any) -> dict[str, real.Want]:
    """The schema from the fixture, filled; per visit (free slots: none) what the store must hold."""
    real.load_schema(cursor, "gnuhealth")
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    base = now - timedelta(days=40)
    cursor.executemany("INSERT INTO res_user (id, login, name, create_date) VALUES (%s, %s, %s, %s)",
                       [(1, "admin", "Administrator", base), (2, "reception", "Front Desk", base)])
    people = PATIENTS + DOCTORS
    parties = [(p, GIVEN[p % len(GIVEN)], f"{FAMILY[p % len(FAMILY)]}{p}", f"PAC{p:05d}", p <= PATIENTS,
                p > PATIENTS, "fm"[p % 2], 1 + p % 2, base + timedelta(hours=p)) for p in range(1, people + 1)]
    parties.append((people + 1, "Hospital Central", None, "INST1", False, False, None, 1, base))
    cursor.executemany("INSERT INTO party_party (id, name, lastname, code, is_person, is_patient, is_healthprof, "
                       "gender, create_uid, create_date) VALUES (%s, %s, %s, %s, true, %s, %s, %s, %s, %s)", parties)
    names: list[tuple[Any, ...]] = []
    for p in range(1, people + 1):
        names.append((p, "official", f"{FAMILY[p % len(FAMILY)]}{p}", GIVEN[p % len(GIVEN)], None, base))
        if p % 4 == 0:  # a maiden name, kept with its end date, written later
            names.append((p, "maiden", f"Antes{p}", GIVEN[p % len(GIVEN)], (base - timedelta(days=900)).date(),
                          base + timedelta(days=2)))
    cursor.executemany("INSERT INTO gnuhealth_person_name (party, use, family, given, date_to, create_uid, "
                       "create_date) VALUES (%s, %s, %s, %s, %s, 1, %s)", names)
    contacts: list[tuple[Any, ...]] = []
    phone: dict[int, str | None] = {}
    for p in range(1, PATIENTS + 1):
        phone[p] = None
        if p % 5 == 0:
            contacts.append((p, "fax", f"+1 312-555-{7000 + p:04d}", True, base))
        if p % 3 == 0:  # a home phone
            contacts.append((p, "phone", f"(312) 555-{3000 + p:04d}", True, base))
            phone[p] = f"+1312555{3000 + p:04d}"
        if p % 7 != 0:  # a mobile: the one to text
            contacts.append((p, "mobile", f"+1 312-555-{1000 + p:04d}", True, base + timedelta(hours=1)))
            phone[p] = f"+1312555{1000 + p:04d}"
        if p % 6 == 0:  # an old mobile switched off, the newest row
            contacts.append((p, "mobile", f"+1 312-555-{9000 + p:04d}", False, base + timedelta(days=3)))
        if p % 2 == 0:
            contacts.append((p, "email", f"paciente{p}@example.org", True, base))
    cursor.executemany("INSERT INTO party_contact_mechanism (party, type, value, value_compact, active, sequence, "
                       "create_uid, create_date) VALUES (%s, %s, %s, "
                       "regexp_replace(%s, '[^0-9+@.a-z]', '', 'g'), %s, 10, 1, %s)",
                       [(p, kind, value, value, active, when) for p, kind, value, active, when in contacts])
    cursor.execute("INSERT INTO gnuhealth_institution (id, name, code, create_date) VALUES (1, %s, 'INST1', %s)",
                   (people + 1, base))
    cursor.executemany("INSERT INTO gnuhealth_specialty (id, code, name, create_date) VALUES (%s, %s, %s, %s)",
                       [(1, "FAM", "Family medicine", base), (2, "PED", "Pediatrics", base)])
    cursor.executemany("INSERT INTO gnuhealth_patient (id, name, create_uid, create_date) VALUES (%s, %s, 1, %s)",
                       [(500 + p, p, base) for p in range(1, PATIENTS + 1)])
    cursor.executemany("INSERT INTO gnuhealth_healthprofessional (id, name, institution, code, create_date) "
                       "VALUES (%s, %s, 1, %s, %s)",
                       [(d, PATIENTS + d, f"LIC{d}", base) for d in range(1, DOCTORS + 1)])
    rows: list[tuple[Any, ...]] = []
    expected: dict[str, real.Want] = {}
    words = list(STATUS)
    slots = data.future_slots(ZONE, VISITS + FREE, seed=573)
    for n, start in enumerate(slots[:VISITS], start=1):
        p, d, word = 1 + n % PATIENTS, 1 + n % DOCTORS, words[n % len(words)]
        created = now - timedelta(hours=VISITS + 1 - n)  # booked over the last days, the newest an hour ago
        changed = created + timedelta(minutes=30) if word != "confirmed" else None
        rows.append((n, f"APP{n:06d}", d, 500 + p, _utc(start), 1, 1 + n % 2, word, "a", "outpatient",
                     ["new", "followup"][n % 2], 1 + n % 2, created, 1 if changed else None, changed))
        expected[str(n)] = (data.utc(start, ZONE), STATUS[word], str(500 + p),
                            f"{GIVEN[p % len(GIVEN)]} {FAMILY[p % len(FAMILY)]}{p}", phone[p], str(d))
    for n, start in enumerate(slots[VISITS:], start=VISITS + 1):  # free slots a doctor opened: no patient yet
        rows.append((n, None, 1 + n % DOCTORS, None, _utc(start), 1, 1, "free", None, None, None, 1, base, None,
                     None))
    cursor.executemany(
        "INSERT INTO gnuhealth_appointment (id, name, healthprof, patient, appointment_date, institution, speciality, "
        "state, urgency, appointment_type, visit_type, create_uid, create_date, write_uid, write_date) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    return expected


def build_with_addresses(cursor: Any) -> dict[str, real.Want]:
    """``build``, and a third of the patients given the optional ``current_address``: for half of
    them an address of their own party (a hotel, no contacts of its own), for the other half an
    address of a relative's party (the domiciliary unit's contact, as GNU Health's help says) who
    has a mobile of their own. The patient's phone is still their own party's: what the store
    must hold does not change."""
    expected = build(cursor)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    first = PATIENTS + DOCTORS + 2
    relatives = [p for p in range(1, PATIENTS + 1) if p % 3 == 1 and p % 2 == 0]
    cursor.executemany("INSERT INTO party_party (id, name, lastname, code, is_person, is_patient, is_healthprof, "
                       "create_uid, create_date) VALUES (%s, %s, %s, %s, true, false, false, 1, %s)",
                       [(first + n, "Pariente", f"Familia{p}", f"REL{p:05d}", now) for n, p in enumerate(relatives)])
    cursor.executemany("INSERT INTO party_contact_mechanism (party, type, value, value_compact, active, sequence, "
                       "create_uid, create_date) VALUES (%s, 'mobile', %s, %s, true, 10, 1, %s)",
                       [(first + n, f"+1 773-555-{2000 + p:04d}", f"+1773555{2000 + p:04d}", now)
                        for n, p in enumerate(relatives)])
    for p in range(1, PATIENTS + 1):
        if p % 3 != 1:
            continue
        owner = first + relatives.index(p) if p in relatives else p
        row = cursor.execute("INSERT INTO party_address (party, name, street, city, active, sequence, create_uid, "
                             "create_date) VALUES (%s, %s, %s, 'Chicago', true, 10, 1, %s) RETURNING id",
                             (owner, "Domicilio" if owner != p else "Hotel", f"{100 + p} W Madison St", now)).fetchone()
        cursor.execute("UPDATE gnuhealth_patient SET current_address = %s WHERE id = %s", (row[0], 500 + p))
    return expected


@pytest.mark.postgres
def test_gnuhealth_current_address_beside_the_direct_party(postgres_url: str, tmp_path: Path, cli: Any) -> None:
    """The patient's party is reached through the NOT NULL ``name`` reference, never through the
    optional ``current_address``, whose party may be a relative: no visit gets the relative's
    mobile, and the patients with a mobile of their own keep it."""
    with psycopg.connect(postgres_url, autocommit=True) as connection, connection.cursor() as cursor:
        expected = build_with_addresses(cursor)
    settings = real.settings_file(tmp_path, ZONE, "US")
    run = cli(settings)
    connector = real.discover_then_check(run, settings, [postgres_url])
    found = real.sync_and_compare(run, connector, expected, ZONE)
    assert "+1773555" not in json.dumps(found)


@pytest.mark.postgres
@pytest.mark.parametrize("given", [[], ["--timezone", ZONE]], ids=["clinic-timezone-only", "timezone-given"])
def test_gnuhealth_on_postgresql_through_discover_check_and_sync(postgres_url: str, tmp_path: Path, cli: Any,
                                                                 given: list[str]) -> None:
    """Without --timezone (the issue's admin) or with it (as the docs said): stored_times utc,
    every visit in the clinic's zone."""
    with psycopg.connect(postgres_url, autocommit=True) as connection, connection.cursor() as cursor:
        expected = build(cursor)
    settings = real.settings_file(tmp_path, ZONE, "US")
    command = [postgres_url, *given]
    run = cli(settings)
    connector = real.discover_then_check(run, settings, command)
    assert connector.get("stored_times") == "utc" and connector.get("timezone", ZONE) == ZONE
    query = connector["query"]
    # the clerk's login is no part of the patient: no hop party -> res_user, no contacts by create_uid
    assert "res_user" not in query and "create_uid =" not in query and "write_uid =" not in query, query
    real.sync_and_compare(run, connector, expected, ZONE)
    # the front desk switches a patient's mobile off and adds a new one (Tryton stamps both in
    # UTC): the next incremental poll sees it, though no appointment row changed
    visit, want = next((k, w) for k, w in expected.items() if w[4] and w[4].startswith("+13125551"))
    party = int(want[2]) - 500
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("UPDATE party_contact_mechanism SET active = false, write_uid = 2, "
                           "write_date = now() AT TIME ZONE 'UTC' WHERE party = %s AND type = 'mobile'", (party,))
        connection.execute("INSERT INTO party_contact_mechanism (party, type, value, value_compact, active, sequence, "
                           "create_uid, create_date) VALUES (%s, 'mobile', '+1 312-555-7777', '+13125557777', true, "
                           "10, 2, now() AT TIME ZONE 'UTC')", (party,))
    _, sync_out, _ = run("sync", "--once", "--json")
    assert json.loads(sync_out)["connectors"][connector["name"]]["error"] is None
    after = data.stored(run)
    assert after[visit]["patient"]["phone"] == "+13125557777"
    assert all(after[k]["patient"]["phone"] == w[4] for k, w in expected.items() if w[2] != want[2])
