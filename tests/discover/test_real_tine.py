"""`discover` on the real shape of Tine 2.0's calendar in MariaDB (tests/fixtures/ehr/tine, with its
SOURCE note), the groupware a small practice keeps its appointment book in, a product it had never
met. What it has: an event a ``tine20_cal_events`` row (40-character text keys, ``dtstart``/``dtend``
DATETIME in UTC, the zone the event was written in as ``originator_tz``, ``summary``, ``location``,
an iCalendar status word, ``is_all_day_event``, the RRULE of a series as text with ``rrule_until``, a
moved or answered occurrence its own row naming ``base_event_id`` and ``recurid``, the trash bin
``is_deleted``/``deleted_time``), the calendar it is in a ``tine20_container`` row (``owner_id`` the
account), its organizer an address-book contact's id; the participants ``tine20_cal_attendee`` rows
(``user_type`` 'user' a contact — a doctor's own or a patient's —, 'group', 'resource'; ``status``
NEEDS-ACTION/ACCEPTED/DECLINED/TENTATIVE); the dates taken out of a series ``tine20_cal_exdate``
rows; people ``tine20_addressbook`` rows (``type`` 'user' for an account's own contact, the
patients' 'contact', the mobile in ``tel_cell`` as the desk typed it), accounts ``tine20_accounts``
with their ``contact_id``. Beside the visits: weekly staff meetings (a group and the doctors), days
off (all day), a deleted visit. Driven as the admin would: ``discover --write`` (which runs
``check``), then ``sync --once``, every visit compared field by field (matched by its start)."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.discover import real_ehr_support as real

ZONE, REGION = "Europe/Berlin", "DE"
FIXTURE = real.FIXTURES / "tine" / "schema.sql"
DOCTORS = [("anna.weber", "Anna", "Weber"), ("jonas.keller", "Jonas", "Keller"), ("mira.yilmaz", "Mira", "Yilmaz")]
GIVEN = ["Lena", "Paul", "Emma", "Felix", "Sofia", "Noah", "Mia", "Elias", "Hannah", "Luca", "Aylin", "Tom"]
FAMILY = ["Schneider", "Fischer", "Becker", "Hoffmann", "Schulz", "Koch", "Richter", "Wolf", "Demir"]
ROOMS = ["Sprechzimmer 1", "Sprechzimmer 2", "Labor"]
PATIENTS, VISITS = 40, 72
# The event's own word is the visit's status (a tentative booking is booked, as every SQL source's
# 'tentative' is); the patient's row holds the patient's reply, the visit's answer.
EVENT = {"CONFIRMED": "booked", "TENTATIVE": "booked", "CANCELLED": "cancelled"}
REPLY = {"ACCEPTED": "accepted", "NEEDS-ACTION": None, "TENTATIVE": None, "DECLINED": "declined"}


def _id(rng: random.Random) -> str:
    """Tine's record id: 40 hex characters (``Tinebase_Record_Abstract::generateUID``)."""
    return hashlib.sha1(rng.getrandbits(64).to_bytes(8, "big"), usedforsecurity=False).hexdigest()


def _typed(e164: str, n: int) -> str:
    """A German mobile as a desk types it."""
    national = "0" + e164[3:]
    return (
        national,
        f"{national[:4]} {national[4:]}",
        f"+49 {e164[3:6]} {e164[6:]}",
        e164,
        f"{national[:4]}/{national[4:]}",
    )[n % 5]


def _utc(moment: datetime) -> datetime:
    """As Tine keeps every date: naive, in UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None)


class Clinic:
    """The practice's Tine: applications, groups, accounts with their contacts, containers."""

    def __init__(self, cursor: Any, rng: random.Random, now: datetime) -> None:
        self.cursor, self.rng, self.now = cursor, rng, now
        self.apps = {name: _id(rng) for name in ("Tinebase", "Addressbook", "Calendar")}
        for order, (name, app) in enumerate(self.apps.items()):
            real.insert_row(
                cursor,
                "tine20_applications",
                {"id": app, "name": name, "status": "enabled", "order": order, "version": "12.7"},
            )
        self.users, self.admins = _id(rng), _id(rng)
        for gid, name in ((self.users, "Users"), (self.admins, "Administrators")):
            real.insert_row(
                cursor,
                "tine20_groups",
                {
                    "id": gid,
                    "name": name,
                    "description": f"Group of {name.lower()}",
                    "visibility": "displayed",
                    "created_by": None,
                    "seq": 1,
                },
            )
        self.internal = self.container("Internal Contacts", "shared", None, "Addressbook", "Addressbook_Model_Contact")
        self.patients_book = self.container("Patienten", "shared", None, "Addressbook", "Addressbook_Model_Contact")
        self.accounts: dict[str, tuple[str, str, str, str]] = {}  # login: account id, contact id, name, email
        for login, given, family in (
            ("tine20admin", "Praxis", "Admin"),
            ("empfang", "Empfang", "Praxis Mitte"),
            *DOCTORS,
        ):
            self.account(login, given, family)
        self.desk = self.accounts["empfang"][0]
        self.calendars = {
            login: self.container(
                f"{given} {family}s persönlicher Kalender",
                "personal",
                self.accounts[login][0],
                "Calendar",
                "Calendar_Model_Event",
            )
            for login, given, family in DOCTORS
        }
        self.shared = self.container("Praxis", "shared", None, "Calendar", "Calendar_Model_Event")
        self.room = _id(rng)
        real.insert_row(
            cursor,
            "tine20_cal_resources",
            {
                "id": self.room,
                "container_id": self.container("Ultraschall", "shared", None, "Calendar", "Calendar_Model_Event"),
                "name": "Ultraschall",
                "email": "ultraschall@praxis-mitte.example",
                "is_location": 0,
                "type": "RESOURCE",
                "status": "ACCEPTED",
                "busy_type": "BUSY",
                "seq": 1,
            },
        )

    def container(self, name: str, kind: str, owner: str | None, app: str, model: str) -> str:
        cid = _id(self.rng)
        real.insert_row(
            self.cursor,
            "tine20_container",
            {
                "id": cid,
                "name": name,
                "type": kind,
                "owner_id": owner,
                "color": "#ff6600",
                "order": 0,
                "backend": "Sql",
                "application_id": self.apps[app],
                "content_seq": 1,
                "created_by": None,
                "creation_time": _utc(self.now - timedelta(days=400)),
                "is_deleted": 0,
                "seq": 1,
                "model": model,
            },
        )
        return cid

    def account(self, login: str, given: str, family: str) -> None:
        account, contact = _id(self.rng), _id(self.rng)
        title = "Dr. " if login in {d[0] for d in DOCTORS} else ""
        email = f"{login}@praxis-mitte.example"
        real.insert_row(
            self.cursor,
            "tine20_addressbook",
            {
                "id": contact,
                "n_family": family,
                "n_given": given,
                "n_prefix": title.strip() or None,
                "n_fn": f"{title}{given} {family}",
                "n_fileas": f"{family}, {given}",
                "org_name": "Praxis Mitte",
                "email": email,
                "tel_work": "030 1234567",
                "tel_work_normalized": "+49301234567",
                "container_id": self.internal,
                "tid": "n",
                "type": "user",
                "created_by": None,
                "creation_time": _utc(self.now - timedelta(days=400)),
                "seq": 1,
            },
        )
        real.insert_row(
            self.cursor,
            "tine20_accounts",
            {
                "id": account,
                "login_name": login,
                "password": "{SSHA256}x",
                "status": "enabled",
                "last_login": _utc(self.now - timedelta(hours=2)),
                "primary_group_id": self.users,
                "visibility": "displayed",
                "email": email,
                "first_name": given,
                "last_name": family,
                "full_name": f"{given} {family}",
                "display_name": f"{family}, {given}",
                "contact_id": contact,
                "seq": 1,
            },
        )
        self.cursor.execute(
            "INSERT INTO tine20_group_members (group_id, account_id) VALUES (%s, %s)", (self.users, account)
        )
        self.accounts[login] = (account, contact, f"{title}{given} {family}", email)

    def event(
        self,
        container: str,
        organizer: str,
        summary: str,
        start: datetime,
        minutes: int,
        location: str | None,
        status: str = "CONFIRMED",
        **extra: Any,
    ) -> str:
        eid = _id(self.rng)
        real.insert_row(
            self.cursor,
            "tine20_cal_events",
            {
                "id": eid,
                "container_id": container,
                "created_by": self.desk,
                "creation_time": _utc(self.now - timedelta(days=20)),
                "last_modified_by": self.desk,
                "last_modified_time": _utc(self.now - timedelta(minutes=self.rng.randrange(3, 900))),  # the desk edits
                "is_deleted": 0,
                "seq": 2,
                "external_seq": 0,
                "dtstart": _utc(start),
                "dtend": _utc(start + timedelta(minutes=minutes)),
                "transp": "OPAQUE",
                "class": "PUBLIC",
                "location": location,
                "organizer": organizer,
                "status": status,
                "summary": summary,
                "uid": extra.pop("uid", _id(self.rng)),
                "etag": _id(self.rng),
                "is_all_day_event": 0,
                "originator_tz": ZONE,
                **extra,
            },
        )
        return eid

    def attends(self, event: str, kind: str, who: str, status: str, display: str | None = None) -> None:
        real.insert_row(
            self.cursor,
            "tine20_cal_attendee",
            {
                "id": _id(self.rng),
                "cal_event_id": event,
                "user_id": who,
                "user_type": kind,
                "role": "REQ",
                "quantity": 1,
                "status": status,
                "status_authkey": _id(self.rng),
                "displaycontainer_id": display,
                "transp": "OPAQUE",
                "created_by": self.desk,
                "creation_time": _utc(self.now - timedelta(days=20)),
                "is_deleted": 0,
                "seq": 1,
            },
        )


def _patients(clinic: Clinic) -> list[tuple[str, str, str, str | None]]:
    out = []
    for n in range(PATIENTS):
        given, family = GIVEN[n % len(GIVEN)], FAMILY[(n * 5) % len(FAMILY)]
        e164 = real.valid_number(clinic.rng, "+4915", 14)
        email = f"{given.lower()}.{family.lower()}{n}@mail.example" if n % 3 else None
        contact = _id(clinic.rng)
        real.insert_row(
            clinic.cursor,
            "tine20_addressbook",
            {
                "id": contact,
                "n_family": family,
                "n_given": given,
                "n_fn": f"{given} {family}",
                "n_fileas": f"{family}, {given}",
                "tel_cell": _typed(e164, n),
                "tel_cell_normalized": e164,
                "tel_home": "030 " + str(clinic.rng.randrange(1_000_000, 9_999_999)) if n % 4 == 0 else None,
                "email": email,
                "bday": datetime(1950 + n, 1 + n % 9, 10 + n % 9),
                "adr_one_locality": "Berlin",
                "container_id": clinic.patients_book,
                "tid": "n",
                "type": "contact",
                "created_by": clinic.desk,
                "creation_time": _utc(clinic.now - timedelta(days=100 + n)),
                "seq": 1,
            },
        )
        out.append((contact, f"{given} {family}", e164, email))
    return out


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The practice, its patients and a quarter of its diary; the truth per visit, by UTC start."""
    rng = random.Random(2077)
    zone = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    clinic = Clinic(cursor, rng, now)
    patients = _patients(clinic)
    today = now.astimezone(zone).date()
    truth: dict[str, dict[str, Any]] = {}
    for n in range(VISITS):
        login = DOCTORS[n % 3][0]
        _, doctor_contact, doctor_name, doctor_email = clinic.accounts[login]
        past = n >= VISITS - 12
        day = today + timedelta(days=(1 + n // 6) if not past else -(10 + n))
        start = datetime(day.year, day.month, day.day, 8 + n % 6, (0, 20, 40)[n % 3], tzinfo=zone)
        minutes = (20, 30, 45)[n % 3]
        contact, name, e164, email = patients[(n * 7) % PATIENTS]
        word = "CANCELLED" if n % 17 == 4 else "TENTATIVE" if n % 13 == 2 else "CONFIRMED"
        reply = (
            "DECLINED" if n % 11 == 5 else "TENTATIVE" if n % 19 == 7 else "NEEDS-ACTION" if n % 5 == 1 else "ACCEPTED"
        )
        location = ROOMS[n % 3] if n % 4 != 1 else None
        deleted = n == 23
        eid = clinic.event(
            clinic.calendars[login],
            doctor_contact,
            f"{name} - Kontrolle" if n % 2 else "Kontrolle",
            start,
            minutes,
            location,
            word,
            **(
                {"is_deleted": 1, "deleted_time": _utc(now - timedelta(days=1)), "deleted_by": clinic.desk}
                if deleted
                else {}
            ),
        )
        clinic.attends(eid, "user", doctor_contact, "ACCEPTED", clinic.calendars[login])
        clinic.attends(eid, "user", contact, reply)
        if n % 9 == 5:  # the ultrasound booked as a resource
            clinic.attends(eid, "resource", clinic.room, "ACCEPTED")
        if past or deleted:
            continue
        truth[_utc(start).strftime("%Y-%m-%dT%H:%M:%SZ")] = {
            "end": _utc(start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": EVENT[word],
            "answer": REPLY[reply],
            "patient": contact,
            "name": name,
            "phone": e164,
            "email": email,
            "doctor": doctor_contact,
            "doctor_name": doctor_name,
            "doctor_email": doctor_email,
            "zone": ZONE,
            "location": location,
        }
    _series(clinic, today, zone, patients[3], truth)
    _other_events(clinic, today, zone)
    return truth


def _series(
    clinic: Clinic,
    today: Any,
    zone: ZoneInfo,
    patient: tuple[str, str, str, str | None],
    truth: dict[str, dict[str, Any]],
) -> None:
    """A weekly physiotherapy series of six: the third taken out (an exdate), the fourth moved to
    the next day at 11:00 and the fifth declined by the patient (each an exception event naming
    the series, its original start an exdate of the series too, as Tine keeps them)."""
    login = DOCTORS[1][0]
    _, doctor_contact, doctor_name, doctor_email = clinic.accounts[login]
    contact, name, e164, email = patient
    first = today + timedelta(days=3)
    week = [datetime(first.year, first.month, first.day, 7, 30, tzinfo=zone) + timedelta(weeks=n) for n in range(6)]
    uid = _id(clinic.rng)
    until = _utc(week[-1] + timedelta(minutes=30))
    series = clinic.event(
        clinic.calendars[login],
        doctor_contact,
        "Physiotherapie",
        week[0],
        30,
        "Sprechzimmer 2",
        uid=uid,
        rrule=f"FREQ=WEEKLY;INTERVAL=1;UNTIL={until:%Y-%m-%d %H:%M:%S};BYDAY={week[0].strftime('%a')[:2].upper()}",
        rrule_until=until,
    )
    clinic.attends(series, "user", doctor_contact, "ACCEPTED", clinic.calendars[login])
    clinic.attends(series, "user", contact, "ACCEPTED")
    for n in (2, 3, 4):
        clinic.cursor.execute(
            "INSERT INTO tine20_cal_exdate (id, cal_event_id, exdate) VALUES (%s, %s, %s)",
            (_id(clinic.rng), series, _utc(week[n])),
        )
    moved = week[3].replace(hour=11) + timedelta(days=1)
    for n, start, reply in ((3, moved, "ACCEPTED"), (4, week[4], "DECLINED")):
        exception = clinic.event(
            clinic.calendars[login],
            doctor_contact,
            "Physiotherapie",
            start,
            30,
            "Sprechzimmer 2",
            uid=uid,
            base_event_id=series,
            recurid=f"{uid}-{_utc(week[n]):%Y-%m-%d %H:%M:%S}",
        )
        clinic.attends(exception, "user", doctor_contact, "ACCEPTED", clinic.calendars[login])
        clinic.attends(exception, "user", contact, reply)
    for n, start in enumerate(week):
        if n == 2:
            continue
        at = moved if n == 3 else start
        truth[_utc(at).strftime("%Y-%m-%dT%H:%M:%SZ")] = {
            "end": _utc(at + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": "booked",
            "answer": "declined" if n == 4 else "accepted",
            "patient": contact,
            "name": name,
            "phone": e164,
            "email": email,
            "doctor": doctor_contact,
            "doctor_name": doctor_name,
            "doctor_email": doctor_email,
            "zone": ZONE,
            "location": "Sprechzimmer 2",
        }


def _other_events(clinic: Clinic, today: Any, zone: ZoneInfo) -> None:
    """What a year of use leaves beside the visits: the weekly staff meeting in the shared calendar
    (the Users group and every doctor), a doctor's days off (all day), none a visit."""
    admin = clinic.accounts["tine20admin"][1]
    for week in range(6):
        day = today + timedelta(days=7 * week + 1)
        start = datetime(day.year, day.month, day.day, 17, 30, tzinfo=zone)
        meeting = clinic.event(clinic.shared, admin, "Teambesprechung", start, 60, "Besprechungsraum")
        clinic.attends(meeting, "group", clinic.users, "NEEDS-ACTION")
        for login, *_ in DOCTORS:
            clinic.attends(meeting, "user", clinic.accounts[login][1], "ACCEPTED", clinic.calendars[login])
        clinic.attends(meeting, "user", clinic.accounts["empfang"][1], "TENTATIVE")
    login = DOCTORS[2][0]
    off = today + timedelta(days=20)
    start = datetime(off.year, off.month, off.day, tzinfo=zone)
    holiday = clinic.event(
        clinic.calendars[login],
        clinic.accounts[login][1],
        "Urlaub",
        start,
        3 * 24 * 60 - 1,
        None,
        is_all_day_event=1,
        transp="TRANSPARENT",
    )
    clinic.attends(holiday, "user", clinic.accounts[login][1], "ACCEPTED", clinic.calendars[login])


def test_on_mariadb(mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    """The bar every product is held to: the six settings lines and ``discover --write``, then
    at least 95 % of the visits right on each field Tine keeps."""

    def fill(cursor: Any) -> dict[str, dict[str, Any]]:
        real.run_ddl(cursor, FIXTURE)
        return build(cursor)

    truth, settings, run = real.admin_start(mariadb_database, fill, tmp_path, ZONE, REGION, cli)
    code, out, err = run("discover", str(mariadb_database["url"]), "--write", expect=None)
    print(
        code,
        out,
        err,
        settings.read_text(encoding="utf-8"),
        *(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")),
    )
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    by_start = {v["start"]: v for v in found.values()}  # a visit is the one at its time
    keyed = {k: {**by_start[k], "start": k} for k in truth if k in by_start}
    scores = real.scores(keyed, {k: {**t, "start": k} for k, t in truth.items()})
    answers = sum(by_start.get(k, {}).get("answer") == t["answer"] for k, t in truth.items())
    print("fields right of", len(truth), scores, "answer", answers, "stored", len(found))
    assert code == 0 and "0 problems" in out, (code, out, err)
    assert all(right >= 0.95 * len(truth) for right in [*scores.values(), answers]), (scores, answers)
    # the staff meetings, the day off and the deleted visit are no visits; every session of the
    # weekly series is one (its RRULE is text on the series' row: the connector's ``series:``), the
    # one taken out is none and the moved and declined ones are their own rows, never twice
    assert len(found) == len(truth) and set(by_start) == set(truth), sorted(set(by_start) ^ set(truth))
