"""Rows as OpenProject's meetings module writes them (tests/fixtures/ehr/openproject, with its
SOURCE note), for the test of `discover` on its real shape: a physiotherapy practice in Berlin
keeping its appointments as OpenProject meetings. A meeting (``meetings``) is an appointment:
``author_id`` the therapist who booked it, ``title`` the kind of visit, ``location`` the room,
``start_time`` a naive UTC TIMESTAMP (Rails), ``duration`` a float in hours (0.5, 0.75, 1.0,
1.5), ``state`` the model's enum (0 open, 1 draft, 4 cancelled, 5 closed). Its participants are
``meeting_participants`` rows (the author too, as OpenProject adds them), the patient a user of
its own (``type`` 'User', ``status`` 1 active or 4 invited: patients never log in). Beside the
visits: past ones, series templates (``template`` true), the team's weekly meetings with staff
only, a group and a deleted user."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from tests.discover import real_ehr_support as real

ZONE, REGION = "Europe/Berlin", "DE"
FIXTURE = real.FIXTURES / "openproject" / "schema.sql"
THERAPISTS = [("Katrin", "Vogel"), ("Jonas", "Brandt"), ("Aylin", "Demir")]
GIVEN = ["Lena", "Paul", "Mia", "Felix", "Hannah", "Lukas", "Emma", "Leon", "Sophie", "Elias", "Marie"]
FAMILY = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann", "Koch"]
TITLES = ["Erstbefund", "Krankengymnastik", "Manuelle Therapie", "Lymphdrainage", "Kontrolle"]
HOURS = [0.5, 0.75, 1.0, 0.5, 1.5, 0.25]
STATES = {0: "booked", 1: "pending", 4: "cancelled"}
PATIENTS, VISITS = 40, 96


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(connection: psycopg.Connection[Any]) -> tuple[dict[str, dict[str, Any]], int]:
    """The schema from the fixture, filled; per visit ahead (keyed by its UTC start) every field the
    store must hold; and how many staff-only meetings lie ahead (no patient: no visit)."""
    connection.execute(FIXTURE.read_text(encoding="utf-8"))
    ex = connection.execute
    rng = random.Random(5150)
    clinic = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = (now - timedelta(days=40)).replace(tzinfo=None)

    def user(first: str, last: str, mail: str, status: int = 1, kind: str = "User") -> int:
        row = ex("INSERT INTO users (login, firstname, lastname, mail, admin, status, language, created_at, "
                 "updated_at, type, first_login) VALUES (%s, %s, %s, %s, false, %s, 'de', %s, %s, %s, %s) RETURNING id",
                 (mail if kind == "User" else "", first, last, mail, status, stamp, stamp, kind,
                  status != 1)).fetchone()
        assert row is not None
        return int(row[0])

    user("OpenProject", "Admin", "admin@physio-mitte.example")
    user("System", "", "", kind="SystemUser")
    team = user("Team", "Physio", "", kind="Group")
    user("Deleted", "user", "", status=3, kind="DeletedUser")
    therapists = [(user(given, family, f"{given}.{family}@physio-mitte.example".lower()), f"{given} {family}",
                   f"{given}.{family}@physio-mitte.example".lower()) for given, family in THERAPISTS]
    patients = []
    for p in range(PATIENTS):
        first, last = GIVEN[p % len(GIVEN)], FAMILY[(p * 5) % len(FAMILY)]
        mail = f"{first}.{last}.{p}@posteo.example".lower().replace("ü", "ue")
        patients.append((user(first, last, mail, status=4 if p % 3 else 1), f"{first} {last}", mail))
    project = ex("INSERT INTO projects (name, identifier, created_at, updated_at, lft, rgt) "
                 "VALUES ('Praxis Mitte', 'praxis-mitte', %s, %s, 1, 2) RETURNING id", (stamp, stamp)).fetchone()
    assert project is not None

    def meeting(author: int, title: str, start: datetime, hours: float, room: str, state: int,
                people: list[int], template: bool = False, series: int | None = None) -> int:
        booked = min(start.astimezone(UTC) - timedelta(days=1), now - timedelta(minutes=rng.randint(5, 30 * 1440)))
        created = booked.replace(tzinfo=None)  # when the desk booked it: always past
        row = ex("INSERT INTO meetings (title, author_id, project_id, location, start_time, duration, created_at, "
                 "updated_at, state, lock_version, recurring_meeting_id, template, uid, notify, recurrence_start_time) "
                 "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, true, %s) RETURNING id",
                 (title, author, project[0], room, start.astimezone(UTC).replace(tzinfo=None), hours, created,
                  created, state, rng.randint(0, 3), series, template,
                  str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                  start.astimezone(UTC).replace(tzinfo=None) if series and not template else None)).fetchone()
        assert row is not None
        for who in [author, *people]:
            ex("INSERT INTO meeting_participants (user_id, meeting_id, email, name, invited, attended, created_at, "
               "updated_at, participation_status) VALUES (%s, %s, NULL, NULL, true, false, %s, %s, %s)",
               (who, row[0], created, created, "accepted" if who == author else "needs-action"))
        return int(row[0])

    today = now.astimezone(clinic).date()
    truth: dict[str, dict[str, Any]] = {}
    for n in range(VISITS):
        t, p = n % 3, (n * 7) % PATIENTS
        past = n % 6 == 5
        day = today + timedelta(days=1 + n // 6) if not past else today - timedelta(days=1 + n // 5)
        start = datetime(day.year, day.month, day.day, 8 + (n % 6) * 2, (0, 15, 30)[t], tzinfo=clinic)
        hours = HOURS[n % len(HOURS)]
        state = 4 if n % 11 == 3 else 1 if n % 13 == 6 else 0
        state = 5 if past else state
        title = TITLES[n % len(TITLES)]
        room = f"Behandlungsraum {t + 1}"
        meeting(therapists[t][0], title, start, hours, room, state, [patients[p][0]])
        if not past:
            truth[_utc(start)] = {"end": _utc(start + timedelta(hours=hours)), "status": STATES[state],
                                  "name": patients[p][1], "email": patients[p][2], "doctor_name": therapists[t][1],
                                  "doctor_email": therapists[t][2], "type": title, "location": room, "zone": ZONE}
    series = ex("INSERT INTO recurring_meetings (start_time, title, frequency, end_after, iterations, \"interval\", "
                "project_id, author_id, time_zone, created_at, updated_at) VALUES (%s, 'Teambesprechung', 1, 1, 8, 1, "
                "%s, %s, 'Europe/Berlin', %s, %s) RETURNING id",
                (stamp, project[0], therapists[0][0], stamp, stamp)).fetchone()
    assert series is not None
    first = today + timedelta(days=(7 - today.weekday()) % 7 or 7)  # next Monday
    at = datetime(first.year, first.month, first.day, 7, 30, tzinfo=clinic)
    meeting(therapists[0][0], "Teambesprechung", at, 0.5, "Küche", 0, [therapists[1][0], therapists[2][0]],
            template=True, series=series[0])
    staff = 0
    for w in range(6):  # the team's weekly meeting: therapists only, the group invited too
        when = at + timedelta(weeks=w)
        meeting(therapists[0][0], "Teambesprechung", when, 0.5, "Küche", 0,
                [therapists[1][0], therapists[2][0], team], series=series[0])
        staff += 1
    return truth, staff
