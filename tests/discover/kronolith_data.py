"""Rows as Horde Kronolith writes them (tests/fixtures/ehr/kronolith, with its SOURCE note), for
the test of `discover` on its real shape: a Viennese group practice running its diaries in Horde
Groupware. Each doctor's calendar a ``kronolith_sharesng`` row (``share_name`` the calendar's
random id, ``share_owner`` the Horde login, ``attribute_name`` its title); an event a
``kronolith_events`` row (a random 32-character id, ``event_start``/``event_end`` in UTC as the
default ``utc`` setting stores them, ``event_status`` 0 none, 1 tentative, 2 confirmed,
3 cancelled, 4 free, ``event_attendees`` PHP's ``serialize()`` of a Kronolith_Attendee_List of
Kronolith_Attendee objects: u user, e email, p role, r response, n name), the patients' cards in
Turba's ``turba_objects`` (the mobile in ``object_cellphone`` as the desk typed it). Beside the
visits what a year of use leaves: team meetings, all-day days off, a weekly lunch block, past
visits."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.discover import real_ehr_support as real

ZONE, REGION = "Europe/Vienna", "AT"
FIXTURE = real.FIXTURES / "kronolith" / "schema.sql"
STATUS = {0: "booked", 1: "pending", 2: "booked", 3: "cancelled"}
DOCTORS = [("huber", "Dr. Claudia Huber", "claudia.huber@praxis-wieden.at"),
           ("berger", "Dr. Markus Berger", "markus.berger@praxis-wieden.at")]
GIVEN = ["Maria", "Johann", "Elisabeth", "Franz", "Anna", "Josef", "Theresa", "Karl", "Sabine", "Stefan"]
FAMILY = ["Gruber", "Pichler", "Steiner", "Moser", "Mayer", "Hofer", "Leitner", "Wimmer", "Fuchs", "Bauer"]
PATIENTS, VISITS = 60, 140
REASONS = ["Kontrolle", "Blutabnahme", "Impfung", "Erstgespräch", "Befundbesprechung"]


def php(value: Any) -> str:
    """PHP's ``serialize()`` of a str, int, None, list, dict or (class name, properties) object."""
    if value is None:
        return "N;"
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    if isinstance(value, str):
        return f's:{len(value.encode("utf-8"))}:"{value}";'
    if isinstance(value, tuple):  # an object whose class implements __serialize(): its array
        name, props = value
        return f'O:{len(name)}:"{name}":{len(props)}:{{' + "".join(php(k) + php(v) for k, v in props.items()) + "}"
    items = value.items() if isinstance(value, dict) else enumerate(value)
    pairs = list(items)
    return f"a:{len(pairs)}:{{" + "".join(php(k) + php(v) for k, v in pairs) + "}"


def attendees(people: list[tuple[str, str, int]]) -> str:
    """The serialized Kronolith_Attendee_List of (name, email, response) people, keyed by email."""
    return php(("Kronolith_Attendee_List", {email: ("Kronolith_Attendee", {"u": None, "e": email, "p": 1, "r": r,
                                                                          "n": name})
                                            for name, email, r in people}))


def _mobile(rng: random.Random) -> str:
    return real.valid_number(rng, "+43664", 13)


def _typed(e164: str, n: int) -> str:
    """An Austrian mobile as the desk types it: '0664 1234567', '+43 664 1234567', '0664/1234567'."""
    rest = e164[6:]
    return (f"0664 {rest}", f"+43 664 {rest}", f"0664/{rest}", e164)[n % 4]


def _hex(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(32))


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The schema from the fixture, filled; per visit ahead every field the store must hold."""
    real.run_ddl(cursor, FIXTURE)
    rng = random.Random(1843)
    vienna = ZoneInfo(ZONE)
    calendars = {}
    for login, name, email in [("empfang", "Empfang", "empfang@praxis-wieden.at"), *DOCTORS]:
        real.insert_row(cursor, "horde_users", {"user_uid": login, "user_pass": "$2y$10$" + "x" * 53})
        calendar = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(23))
        real.insert_row(cursor, "kronolith_sharesng",
                        {"share_name": calendar, "share_owner": login, "attribute_name": name,
                                               "attribute_color": "#a3c2e8", "perm_creator_2": 1,
                                               "perm_creator_4": 1, "attribute_type": 1})
        calendars[login] = calendar
    patients = []
    for p in range(PATIENTS):
        first, last = GIVEN[p % len(GIVEN)], FAMILY[(p * 7) % len(FAMILY)]
        mobile = _mobile(rng) if p % 9 != 4 else None
        email = f"{first.lower()}.{last.lower()}{p}@gmx.at"
        real.insert_row(cursor, "turba_objects",
                        {"object_id": _hex(rng), "owner_id": "empfang", "object_type": "Object",
                                          "object_uid": f"{_hex(rng)}@praxis-wieden.at", "object_firstname": first,
                                          "object_lastname": last, "object_email": email,
                                          "object_cellphone": _typed(mobile, p) if mobile else None,
                                          "object_homecity": "Wien", "object_homepostalcode": "1040"})
        patients.append((f"{first} {last}", email, mobile))
    today = datetime.now(vienna).date()
    expected: dict[str, dict[str, Any]] = {}
    for n in range(VISITS):
        future = n % 4 != 0
        day = today + timedelta(days=1 + n % 28) if future else today - timedelta(days=1 + n % 60)
        local = datetime(day.year, day.month, day.day, 8 + n % 9, 20 * (n % 3), tzinfo=vienna)
        start = local.astimezone(UTC).replace(tzinfo=None)
        login, doctor_name, _doctor_email = DOCTORS[n % 2]
        name, email, mobile = patients[rng.randrange(PATIENTS)]
        status = rng.choices([2, 0, 1, 3], [70, 12, 8, 10])[0]
        reason = REASONS[n % len(REASONS)]
        event_id = _hex(rng)
        real.insert_row(cursor, "kronolith_events", {
            "event_id": event_id, "event_uid": f"{time.strftime('%Y%m%d')}{_hex(rng)[:20]}@praxis-wieden.at",
            "calendar_id": calendars[login], "event_creator_id": "empfang", "event_title": f"{name} - {reason}",
            "event_description": "Bitte e-card mitbringen", "event_location": "Praxis Wieden, Ordination 1",
            "event_status": status, "event_attendees": attendees([(name, email, (1, 2)[n % 2])]),
            "event_start": start, "event_end": start + timedelta(minutes=20), "event_allday": 0,
            "event_alarm": 0, "event_modified": int(time.time()) - 3600 * (n % 50), "event_private": 0,
            "event_recurtype": 0, "event_timezone": ZONE if n % 3 == 0 else None, "event_resources": "a:0:{}",
            "event_alarm_methods": "a:0:{}", "event_baseid": "", "event_organizer": None,
            "other_attributes": "[]", "event_keywords": "", "event_exceptions": ""})
        if not future:
            continue
        expected[event_id] = {
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "zone": ZONE, "status": STATUS[status], "name": name,
            "phone": mobile, "email": email, "doctor_name": doctor_name, "location": "Praxis Wieden, Ordination 1"}
    for n in range(10):  # team meetings: the doctors as attendees, no patient
        local = datetime.combine(today + timedelta(days=2 + 7 * n), datetime.min.time()).replace(hour=13,
                                                                                                 tzinfo=vienna)
        real.insert_row(cursor, "kronolith_events", {
            "event_id": _hex(rng), "event_uid": _hex(rng), "calendar_id": calendars["empfang"],
            "event_creator_id": "empfang", "event_title": "Teambesprechung", "event_status": 2,
            "event_attendees": attendees([(d[1], d[2], 2) for d in DOCTORS]),
            "event_start": local.astimezone(UTC).replace(tzinfo=None),
            "event_end": (local + timedelta(hours=1)).astimezone(UTC).replace(tzinfo=None), "event_allday": 0,
            "event_modified": int(time.time()), "event_private": 0, "event_recurtype": 0, "other_attributes": "[]"})
    for n, login in enumerate(["huber", "berger"] * 3):  # days off: all-day, local midnight to midnight
        day = today + timedelta(days=5 + 9 * n)
        real.insert_row(cursor, "kronolith_events", {
            "event_id": _hex(rng), "event_uid": _hex(rng), "calendar_id": calendars[login], "event_creator_id": login,
            "event_title": "Urlaub", "event_status": 4, "event_attendees": "a:0:{}",
            "event_start": datetime.combine(day, datetime.min.time()),
            "event_end": datetime.combine(day + timedelta(days=1), datetime.min.time()), "event_allday": 1,
            "event_modified": int(time.time()), "event_private": 0, "event_recurtype": 0, "other_attributes": "[]"})
    lunch = datetime.combine(today - timedelta(days=90), datetime.min.time()).replace(hour=12, tzinfo=vienna)
    real.insert_row(cursor, "kronolith_events", {  # a weekly lunch block, every weekday since three months
        "event_id": _hex(rng), "event_uid": _hex(rng), "calendar_id": calendars["empfang"],
        "event_creator_id": "empfang", "event_title": "Mittagspause", "event_status": 4, "event_attendees": "a:0:{}",
        "event_start": lunch.astimezone(UTC).replace(tzinfo=None),
        "event_end": (lunch + timedelta(hours=1)).astimezone(UTC).replace(tzinfo=None), "event_allday": 0,
        "event_recurtype": 2, "event_recurinterval": 1, "event_recurdays": 62, "event_modified": int(time.time()),
        "event_private": 0, "other_attributes": "[]"})
    return expected
