"""`discover` on the real shape of EGroupware's calendar in MariaDB (tests/fixtures/ehr/egroupware,
with its SOURCE note), the PHP groupware practices run their diaries in, a product it had never
met. What it has: no foreign key anywhere; an event an ``egw_cal`` row (title, location, owner =
the account whose calendar it is, creator and modifier, Unix-second stamps, ``cal_deleted`` for
the trash bin, ``cal_reference``/``cal_recurrence`` for a moved occurrence of a series); each
occurrence an ``egw_cal_dates`` row (Unix-second start and end, ``recur_exception`` for a date
taken out); the participants ``egw_cal_user`` rows (``cal_user_type`` 'u' an account, 'c' an
address-book contact, 'r' a resource; ``cal_user_id`` the id as TEXT; ``cal_status`` A, U, T, R;
``cal_recur_date`` 0 for the whole series or the occurrence a reply is for); people
``egw_addressbook`` rows (the accounts' own contacts with ``account_id``, the patients' with the
mobile in ``tel_cell`` as the desk typed it); accounts ``egw_accounts``. Beside the visits, what a
year of use leaves: team meetings, lunch blocks, days off, a deleted visit in the trash. Driven
as the admin would: ``discover --write`` (which runs ``check``), then ``sync --once``, every
visit compared field by field (matched by its start: the visit at that time)."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.discover import real_ehr_support as real

ZONE, REGION = "Europe/Berlin", "DE"
FIXTURE = real.FIXTURES / "egroupware" / "schema.sql"
DOCTORS = [(7, "anna.weber", "Anna", "Weber"), (8, "jonas.keller", "Jonas", "Keller"),
           (9, "mira.yilmaz", "Mira", "Yilmaz")]
GIVEN = ["Lena", "Paul", "Emma", "Felix", "Sofia", "Noah", "Mia", "Elias", "Hannah", "Luca", "Aylin", "Tom"]
FAMILY = ["Schneider", "Fischer", "Becker", "Hoffmann", "Schulz", "Koch", "Richter", "Wolf", "Demir"]
ROOMS = ["Sprechzimmer 1", "Sprechzimmer 2", "Labor"]
STATUS = {"A": "booked", "U": "booked", "T": "pending", "R": "cancelled"}
PATIENTS, VISITS = 40, 60


def _typed(e164: str, n: int) -> str:
    """A German mobile as a desk types it."""
    national = "0" + e164[3:]
    return (national, f"{national[:4]} {national[4:]}", f"+49 {e164[3:6]} {e164[6:]}", e164,
            f"{national[:4]}/{national[4:]}")[n % 5]


def _accounts(cursor: Any, now: int) -> dict[int, tuple[str, str]]:
    """The groups, the admin, the front desk and the doctors (an account and its own contact)."""
    for gid, lid in ((1, "Default"), (2, "Admins")):
        real.insert_row(cursor, "egw_accounts", {"account_id": gid, "account_lid": lid, "account_pwd": "",
                                         "account_status": "A", "account_type": "g", "account_primary_group": 0})
    people = [(5, "sysop", "Praxis", "Admin"), (6, "empfang", "Empfang", "Praxis Mitte"), *DOCTORS]
    out = {}
    for account, lid, given, family in people:
        real.insert_row(cursor, "egw_accounts", {"account_id": account, "account_lid": lid, "account_pwd": "{crypt}x",
                                         "account_lastlogin": now - 3600, "account_status": "A",
                                         "account_type": "u", "account_primary_group": -1})
        email = f"{lid}@praxis-mitte.example"
        title = "Dr. " if account >= 7 else ""
        real.insert_row(cursor, "egw_addressbook", {
            "contact_tid": "n", "contact_owner": 0, "n_family": family, "n_given": given, "n_prefix": title.strip()
            or None, "n_fn": f"{title}{given} {family}", "n_fileas": f"{family}, {given}",
            "org_name": "Praxis Mitte", "contact_email": email, "tel_work": "030 1234567",
            "contact_created": now - 86_400 * 400, "contact_creator": 5, "contact_modified": now - 86_400 * 30,
            "account_id": account, "contact_uid": f"urn:uuid:{hashlib.md5(lid.encode()).hexdigest()}",
            "contact_etag": 1})
        out[account] = (f"{title}{given} {family}", email)
    return out


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """Accounts, patients, events, occurrences and participants; the truth per visit, keyed by
    its UTC start (one visit a start)."""
    rng = random.Random(7311)
    clinic = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = int(now.timestamp())
    doctors = _accounts(cursor, stamp)
    cursor.execute("INSERT INTO egw_cal_timezones (tz_id, tz_tzid) VALUES (1, 'Europe/Berlin'), (2, 'UTC')")
    patients = []
    for n in range(PATIENTS):
        given, family = GIVEN[n % len(GIVEN)], FAMILY[(n * 5) % len(FAMILY)]
        e164 = real.valid_number(rng, "+4915", 14)
        email = f"{given.lower()}.{family.lower()}{n}@mail.example" if n % 3 else None
        contact = real.insert_row(cursor, "egw_addressbook", {
            "contact_tid": "n", "contact_owner": -1, "n_family": family, "n_given": given,
            "n_fn": f"{given} {family}", "n_fileas": f"{family}, {given}", "tel_cell": _typed(e164, n),
            "tel_home": "030 " + str(rng.randrange(1_000_000, 9_999_999)) if n % 4 == 0 else None,
            "contact_email": email, "contact_bday": f"19{50 + n}-0{1 + n % 9}-1{n % 9}",
            "adr_one_locality": "Berlin", "contact_created": stamp - 86_400 * (100 + n), "contact_creator": 6,
            "contact_modified": stamp - 86_400 * (n % 30), "contact_uid": f"urn:uuid:{rng.getrandbits(64):x}",
            "contact_etag": 1})
        patients.append((contact, f"{given} {family}", e164, email))
    truth: dict[str, dict[str, Any]] = {}
    today = now.astimezone(clinic).date()

    def event(owner: int, title: str, start: datetime, minutes: int, location: str | None, creator: int,
              deleted: bool = False, reference: int = 0, recurrence: int = 0) -> int:
        begin = int(start.timestamp())
        cal_id = real.insert_row(cursor, "egw_cal", {
            "cal_uid": f"calendar-{rng.getrandbits(48):x}-{owner}", "cal_owner": owner, "cal_modified": stamp,
            "cal_title": title, "cal_location": location, "cal_reference": reference, "cal_modifier": creator,
            "cal_creator": creator, "cal_created": stamp - 86_400 * 20, "cal_recurrence": recurrence, "tz_id": 1,
            "cal_deleted": stamp if deleted else None, "range_start": begin, "range_end": begin + 60 * minutes,
            "cal_etag": 1})
        return cal_id

    def occurs(cal_id: int, start: datetime, minutes: int, exception: int = 0) -> None:
        cursor.execute("INSERT INTO egw_cal_dates VALUES (%s, %s, %s, %s)",
                       (cal_id, int(start.timestamp()), int(start.timestamp()) + 60 * minutes, exception))

    def takes_part(cal_id: int, kind: str, who: int | str, status: str, role: str = "REQ-PARTICIPANT",
                   recur: int = 0) -> None:
        cursor.execute("INSERT INTO egw_cal_user (cal_id, cal_recur_date, cal_user_type, cal_user_id, cal_status, "
                       "cal_quantity, cal_role) VALUES (%s, %s, %s, %s, %s, 1, %s)",
                       (cal_id, recur, kind, str(who), status, role))

    for n in range(VISITS):
        owner = DOCTORS[n % 3][0]
        past = n >= VISITS - 8
        day = today + timedelta(days=(1 + n // 6) if not past else -(10 + n))
        start = datetime(day.year, day.month, day.day, 8 + n % 6, (0, 20, 40)[n % 3], tzinfo=clinic)
        minutes = (20, 30, 45)[n % 3]
        contact, name, e164, email = patients[(n * 7) % PATIENTS]
        status = "R" if n % 11 == 4 else "T" if n % 13 == 2 else "U" if n % 5 == 1 else "A"
        location = ROOMS[n % 3] if n % 4 != 1 else None
        cal_id = event(owner, f"{name} - Kontrolle" if n % 2 else "Kontrolle", start, minutes, location,
                       6 if n % 3 else owner, deleted=n == 17)
        occurs(cal_id, start, minutes)
        takes_part(cal_id, "u", owner, "A", "CHAIR")
        takes_part(cal_id, "c", contact, status)
        if n % 9 == 5:  # the ultrasound booked as a resource
            takes_part(cal_id, "r", 1, "A")
        if past or n == 17:  # a past visit is never compared; the deleted one is in the trash
            continue
        truth[start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")] = {
            "end": (start + timedelta(minutes=minutes)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": STATUS[status], "patient": str(contact), "name": name, "phone": e164, "email": email,
            "doctor": str(owner), "doctor_name": doctors[owner][0], "doctor_email": doctors[owner][1],
            "zone": ZONE, "location": location}
    _series(cursor, today, clinic, event, occurs, takes_part, patients[3], doctors, truth)
    _other_events(cursor, today, clinic, event, occurs, takes_part)
    return truth


def _series(cursor: Any, today: Any, clinic: ZoneInfo, event: Any, occurs: Any, takes_part: Any,
            patient: tuple[int, str, str, str | None], doctors: dict[int, tuple[str, str]],
            truth: dict[str, dict[str, Any]]) -> None:
    """A weekly physiotherapy series of six (one row an occurrence): the third taken out
    (``recur_exception``), the fourth moved to the next day at 11:00 (an exception event
    referring to the series), the patient declining the fifth (a reply for that occurrence)."""
    owner = DOCTORS[1][0]
    contact, name, e164, email = patient
    first = today + timedelta(days=3)
    week = [datetime(first.year, first.month, first.day, 7, 30, tzinfo=clinic) + timedelta(weeks=n) for n in range(6)]
    series = event(owner, "Physiotherapie", week[0], 30, "Sprechzimmer 2", 6)
    cursor.execute("INSERT INTO egw_cal_repeats VALUES (%s, 2, 1, 0)", (series,))  # weekly
    for n, start in enumerate(week):
        occurs(series, start, 30, 1 if n in (2, 3) else 0)
    takes_part(series, "u", owner, "A", "CHAIR")
    takes_part(series, "c", contact, "A")
    takes_part(series, "c", contact, "R", recur=int(week[4].timestamp()))
    moved = week[3].replace(hour=11) + timedelta(days=1)
    exception = event(owner, "Physiotherapie", moved, 30, "Sprechzimmer 2", 6, reference=series,
                      recurrence=int(week[3].timestamp()))
    occurs(exception, moved, 30)
    takes_part(exception, "u", owner, "A", "CHAIR")
    takes_part(exception, "c", contact, "A")
    for n, start in enumerate(week):
        if n == 2:
            continue
        at = moved if n == 3 else start
        truth[at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")] = {
            "end": (at + timedelta(minutes=30)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": "cancelled" if n == 4 else "booked", "patient": str(contact), "name": name, "phone": e164,
            "email": email, "doctor": str(owner), "doctor_name": doctors[owner][0],
            "doctor_email": doctors[owner][1], "zone": ZONE, "location": "Sprechzimmer 2"}


def _other_events(cursor: Any, today: Any, clinic: ZoneInfo, event: Any, occurs: Any, takes_part: Any) -> None:
    """What a year of use leaves beside the visits: the weekly team meeting (every doctor and the
    desk, no contact), a lunch block a day per doctor, a doctor's days off (all day), none a visit."""
    for week in range(6):
        day = today + timedelta(days=7 * week + 1)
        start = datetime(day.year, day.month, day.day, 17, 30, tzinfo=clinic)
        meeting = event(5, "Teambesprechung", start, 60, "Besprechungsraum", 5)
        occurs(meeting, start, 60)
        for account in (5, 6, *(d[0] for d in DOCTORS)):
            takes_part(meeting, "u", account, "A" if account != 6 else "T", "CHAIR" if account == 5 else
                       "REQ-PARTICIPANT")
    for account, *_ in DOCTORS:
        for d in range(4):
            day = today + timedelta(days=d + 1)
            start = datetime(day.year, day.month, day.day, 12, 30, tzinfo=clinic)
            block = event(account, "Mittagspause", start, 60, None, account)
            occurs(block, start, 60)
            takes_part(block, "u", account, "A", "CHAIR")
    off = today + timedelta(days=20)
    start = datetime(off.year, off.month, off.day, tzinfo=clinic)
    holiday = event(DOCTORS[2][0], "Urlaub", start, 3 * 24 * 60 - 1, None, DOCTORS[2][0])
    occurs(holiday, start, 3 * 24 * 60 - 1)
    takes_part(holiday, "u", DOCTORS[2][0], "A", "CHAIR")


def test_on_mariadb(mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    """The bar every product is held to: the six settings lines and ``discover --write``, then
    at least 95 % of the visits right on each field EGroupware keeps."""
    def fill(cursor: Any) -> dict[str, dict[str, Any]]:
        real.run_ddl(cursor, FIXTURE)
        return build(cursor)
    truth, settings, run = real.admin_start(mariadb_database, fill, tmp_path, ZONE, REGION, cli)
    code, out, err = run("discover", str(mariadb_database["url"]), "--write", expect=None)
    print(code, out, err, settings.read_text(encoding="utf-8"))
    assert code == 0 and "0 problems" in out, (code, out, err)
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    by_start = {v["start"]: v for v in found.values()}  # a visit is the one at its time
    keyed = {k: {**by_start[k], "start": k} for k in truth if k in by_start}
    scores = real.scores(keyed, {k: {**t, "start": k} for k, t in truth.items()})
    print("fields right of", len(truth), scores, "stored", len(found))
    assert all(right >= 0.95 * len(truth) for right in scores.values()), scores
