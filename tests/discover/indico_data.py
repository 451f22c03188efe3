"""Rows as Indico's room booking writes them (tests/fixtures/ehr/indico, with its SOURCE note), for
the test of `discover` on its real shape: a medical service in Geneva booking its consulting rooms
in Indico. Each consulting room (``roombooking.rooms``, ``verbose_name`` the room) is owned by its
doctor (``owner_id`` → ``users.users``); a booking (``roombooking.reservations``) is made by the
desk (``created_by_id``) for the patient (``booked_for_id``, ``booked_for_name`` the name Indico
copies from the user), ``booking_reason`` the kind of visit, ``state`` 1 pending (a room that
needs confirmation) 2 accepted 3 cancelled 4 rejected; each occurrence is a
``roombooking.reservation_occurrences`` row keyed by ``(reservation_id, start_dt)`` with its own
``state`` (2 valid, 3 cancelled, 4 rejected), a weekly series one reservation spanning all its
weeks. Start and end are naive server-local times (Europe/Zurich), the creation stamps naive UTC.
A user's phone is free text (``''`` when unknown), the emails ``users.emails`` rows, one primary.
Beside the visits: past ones, a cancelled and a rejected booking, a cancelled occurrence of a
series, the staff's weekly meeting in the seminar room (booked by a doctor for a doctor), and a
deleted user."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from tests.discover import real_ehr_support as real

ZONE, REGION = "Europe/Zurich", "CH"
FIXTURE = real.FIXTURES / "indico" / "schema.sql"
DOCTORS = [("Anne", "Meier", "anne.meier@cmg-geneve.example", "Cabinet 1"),
           ("Luc", "Favre", "luc.favre@cmg-geneve.example", "Cabinet 2"),
           ("Sofia", "Rossi", "sofia.rossi@cmg-geneve.example", "Cabinet 3 (pédiatrie)")]
GIVEN = ["Camille", "Léa", "Noah", "Emma", "Louis", "Chloé", "Gabriel", "Manon", "Arthur", "Zoé", "Julien"]
FAMILY = ["Dubois", "Müller", "Bonvin", "Perret", "Rochat", "Schmid", "Girard", "Keller", "Fontaine", "Baumann"]
REASONS = ["Consultation", "Contrôle", "Vaccination", "Prise de sang", "Première consultation"]
PATIENTS, VISITS = 48, 84


def _utc(local: datetime) -> str:
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _naive(local: datetime) -> datetime:
    return local.replace(tzinfo=None)


def _phone(rng: random.Random, p: int) -> tuple[str, str | None]:
    """The phone as typed into the profile, and its E.164 (none for an empty one)."""
    if p % 6 == 5:
        return "", None
    number = real.valid_number(rng, "+4179" if p % 2 else "+4122", 12)
    local = "0" + number[3:]
    typed = (f"{local[:3]} {local[3:6]} {local[6:8]} {local[8:]}" if p % 3 else
             f"+41 {number[3:5]} {number[5:8]} {number[8:10]} {number[10:]}")
    return typed, number


class _Db:
    def __init__(self, connection: psycopg.Connection[Any], now: datetime) -> None:
        self.ex = connection.execute
        self.now = now

    def user(self, first: str, last: str, email: str | None, phone: str = "", title: int = 0,
             pending: bool = False, deleted: bool = False) -> int:
        row = self.ex("INSERT INTO users.users (first_name, last_name, title, affiliation, phone, address, is_system, "
                      "is_admin, is_blocked, is_pending, is_deleted, signing_secret, picture_metadata, picture_source, "
                      "created_dt) VALUES (%s, %s, %s, '', %s, '', false, false, false, %s, %s, gen_random_uuid(), "
                      "'null', 0, %s) RETURNING id",
                      (first, last, title, phone, pending, deleted,
                       _naive(self.now - timedelta(days=400)))).fetchone()
        assert row is not None
        if email:
            self.ex("INSERT INTO users.emails (user_id, email, is_primary, is_user_deleted) VALUES (%s, %s, true, %s)",
                    (row[0], email.lower(), deleted))
        if email and row[0] % 3 == 0:  # a secondary address (Indico's profile keeps several): never the one used
            self.ex("INSERT INTO users.emails (user_id, email, is_primary, is_user_deleted) VALUES (%s, %s, false, %s)",
                    (row[0], f"{first}.{last}.{row[0]}@old-mail.example".lower(), deleted))
        return int(row[0])

    def room(self, location: int, owner: int, name: str, number: str, confirm: bool) -> int:
        row = self.ex("INSERT INTO roombooking.rooms (location_id, verbose_name, site, division, building, floor, "
                      "number, notification_emails, reservations_need_confirmation, notifications_enabled, "
                      "end_notifications_enabled, telephone, key_location, capacity, comments, owner_id, is_deleted, "
                      "is_reservable, protection_mode) VALUES (%s, %s, '', 'Médecine', '2', '1', %s, '{}', %s, true, "
                      "true, '+41 22 700 10 ' || %s, 'Réception', 3, '', %s, false, true, 0) RETURNING id",
                      (location, name, number, confirm, number, owner)).fetchone()
        assert row is not None
        return int(row[0])

    def booking(self, room: int, patient: tuple[int, str], desk: int, starts: list[datetime], minutes: int,
                state: int, reason: str, frequency: int = 0, occurrence_states: list[int] | None = None) -> int:
        """A reservation and its occurrences, as Reservation.create_from_data writes them."""
        created = self.now - timedelta(days=10)
        row = self.ex("INSERT INTO roombooking.reservations (created_dt, start_dt, end_dt, repeat_frequency, "
                      "repeat_interval, booked_for_id, booked_for_name, created_by_id, room_id, state, booking_reason, "
                      "rejection_reason, end_notification_sent, internal_note) VALUES (%s, %s, %s, %s, %s, %s, %s, "
                      "%s, %s, %s, %s, %s, false, '') RETURNING id",
                      (_naive(created.astimezone(UTC)), _naive(starts[0]),
                       _naive(starts[-1] + timedelta(minutes=minutes)), frequency, 1 if frequency else 0,
                       patient[0], patient[1], desk, room, state, reason,
                       "Salle indisponible" if state == 4 else None)).fetchone()
        assert row is not None
        occurrence_states = occurrence_states or [{1: 2, 2: 2}.get(state, state)] * len(starts)
        for start, occ in zip(starts, occurrence_states, strict=True):
            self.ex("INSERT INTO roombooking.reservation_occurrences (reservation_id, start_dt, end_dt, "
                    "notification_sent, state, rejection_reason) VALUES (%s, %s, %s, false, %s, %s)",
                    (row[0], _naive(start), _naive(start + timedelta(minutes=minutes)), occ,
                     "Salle indisponible" if occ == 4 else None))
        self.ex("INSERT INTO roombooking.reservation_edit_logs (timestamp, info, user_name, reservation_id) "
                "VALUES (%s, %s, 'Accueil CMG', %s)",
                (_naive(created.astimezone(UTC)), ["Booking created"], row[0]))
        return int(row[0])


def build(connection: psycopg.Connection[Any]) -> tuple[dict[str, dict[str, Any]], int]:
    """The schema from the fixture, filled; per visit ahead (keyed by its UTC start) every field the
    store must hold. Also the number of staff meetings ahead (no patient: none should be a visit)."""
    connection.execute(FIXTURE.read_text(encoding="utf-8"))
    rng = random.Random(7311)
    clinic = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    db = _Db(connection, now)
    location = db.ex("INSERT INTO roombooking.locations (name, map_url_template, room_name_format, is_deleted) "
                     "VALUES ('CMG Genève', '', '%%1$s/%%2$s-%%3$s', false) RETURNING id").fetchone()
    assert location is not None
    db.user("Indico", "System", None)  # Indico's system user (is_system is left false: one per install)
    desk = db.user("Accueil", "CMG", "accueil@cmg-geneve.example", "022 700 10 00")
    doctors, rooms = [], []
    for n, (first, last, email, room) in enumerate(DOCTORS):
        doctor = db.user(first, last, email, "022 700 10 2" + str(n), title=4)
        doctors.append((doctor, f"{first} {last}", email))
        rooms.append((db.room(location[0], doctor, room, f"10{n + 1}", confirm=n == 2), room))
    seminar = db.room(location[0], desk, "Salle de colloque", "120", confirm=False)
    patients = []
    for p in range(PATIENTS):
        first, last = GIVEN[p % len(GIVEN)], FAMILY[(p * 3) % len(FAMILY)]
        typed, e164 = _phone(rng, p)
        email = f"{first}.{last}{p}@mail.example".lower().replace("é", "e").replace("ü", "u").replace("ö", "o")
        patient = db.user(first, last, email if p % 7 else None, typed, pending=p % 4 == 0)
        patients.append((patient, f"{first} {last}", e164, email if p % 7 else None))
    gone = db.user("Marc", "Ancien", "marc.ancien@mail.example", "079 555 12 12", deleted=True)
    today = now.astimezone(clinic).date()
    truth: dict[str, dict[str, Any]] = {}

    def want(start: datetime, minutes: int, status: str, p: int, r: int, reason: str) -> None:
        patient, doctor = patients[p], doctors[r]
        truth[_utc(start)] = {"end": _utc(start + timedelta(minutes=minutes)), "status": status, "name": patient[1],
                              "phone": patient[2], "email": patient[3], "doctor_name": doctor[1],
                              "doctor_email": doctor[2], "type": reason, "location": rooms[r][1], "zone": ZONE}

    for n in range(VISITS):
        r, p = n % 3, (n * 5) % PATIENTS
        past = n % 6 == 5
        day = today + timedelta(days=1 + n // 5) if not past else today - timedelta(days=1 + n // 4)
        start = datetime(day.year, day.month, day.day, 8 + (n % 5) * 2, (0, 20, 40)[r] + n % 2 * 5, tzinfo=clinic)
        minutes = (20, 30, 45)[n % 3]
        reason = REASONS[n % len(REASONS)]
        state = 3 if n % 13 == 4 else 4 if n % 17 == 8 else 1 if r == 2 and n % 2 else 2
        db.booking(rooms[r][0], patients[p][:2], desk, [start], minutes, state, reason)
        if not past:
            want(start, minutes, {1: "pending", 2: "booked"}.get(state, "cancelled"), p, r, reason)
    for s in range(3):  # a weekly series of four per doctor, its third week cancelled on the first
        first = today + timedelta(days=2 + s)
        start = datetime(first.year, first.month, first.day, 17, 30, tzinfo=clinic)
        starts = [start + timedelta(weeks=w) for w in range(4)]
        states = [2, 2, 3, 2] if s == 0 else [2] * 4
        p = 40 + s
        db.booking(rooms[s][0], patients[p][:2], desk, starts, 30, 2, "Physiothérapie", frequency=2,
                   occurrence_states=states)
        for at, occ in zip(starts, states, strict=True):
            want(at, 30, "booked" if occ == 2 else "cancelled", p, s, "Physiothérapie")
    meetings = 0
    for w in range(8):  # the staff's weekly colloquium: a doctor books the seminar room for a doctor
        day = today + timedelta(days=1 + 7 * w - today.weekday() % 7)
        if day <= today:
            continue
        at = datetime(day.year, day.month, day.day, 12, 15, tzinfo=clinic)
        db.booking(seminar, (doctors[w % 3][0], doctors[w % 3][1]), doctors[0][0], [at], 60, 2, "Colloque")
        meetings += 1
    past_day = today - timedelta(days=30)
    db.booking(rooms[0][0], (gone, "Marc Ancien"), desk,
               [datetime(past_day.year, past_day.month, past_day.day, 9, 0, tzinfo=clinic)], 20, 2, "Consultation")
    json.dumps(truth)  # plain values only
    return truth, meetings
