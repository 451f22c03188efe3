"""`discover` on the real shape of SOGo's database in PostgreSQL (tests/fixtures/ehr/sogo, with its
SOURCE note), the groupware server a small practice keeps its appointment book in, a product it
had never met. What it has: no table named for events at all. Each folder (a user's calendar, a
user's address book) is three tables of its own, named ``sogo`` + the first letters of the owner's
login + a random hex suffix: the content (``c_name`` the object's file name, ``c_content`` the whole
iCalendar or vCard text, Unix-second ``c_creationdate``/``c_lastmodified``, ``c_version``,
``c_deleted``), its ``_quick`` table (SOGo's own parse: Unix-second ``c_startdate``/``c_enddate``,
``c_title``, ``c_location``, ``c_status`` 0 cancelled 1 confirmed 2 tentative, ``c_orgmail``, the
attendees' names, emails and replies as newline-separated lists, ``c_isallday``, ``c_component``)
and its ``_acl`` table; ``sogo_folder_info`` names each folder's tables by URL (``c_location``) and
its owner (``c_path2``); the users are the administrator's SQL user source (``sogo_users``: login,
name, email). Realistic synthetic events (tests/discover/ical_support.py: zones by TZID, a Z time
with a DURATION, floating times, cancelled and tentative ones, attendees with and without CN, one
by phone, a room as a resource, a weekly series with a date taken out, a moved and a cancelled
occurrence, a day off and a task), beside them a staff meeting in each doctor's calendar (SOGo
copies an invitation into each invited user's calendar), a deleted event and the doctors' address
books. Driven as the admin would: ``discover --write`` (which runs ``check``), then ``sync
--once``, every field of every visit compared with the truth (matched by its start)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import psycopg
import pytest

from tests.discover import ical_support as cal
from tests.discover import real_ehr_support as real

FOLDER = real.FIXTURES / "sogo"
BASE = "postgresql://sogo:sogo@127.0.0.1:5432/sogo"
STATUS = {"CANCELLED": 0, "TENTATIVE": 2}
PARTSTAT = {"NEEDS-ACTION": 0, "ACCEPTED": 1, "DECLINED": 2, "TENTATIVE": 3, "DELEGATED": 4}


def _login(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


def _table(login: str, rng: random.Random, n: int) -> str:
    """GCSFolderManager's baseTableNameWithUID: ``sogo``, 8 letters or digits of the login, a
    three-hex-digit counter and eight random hex digits."""
    return f"sogo{''.join(c for c in login if c.isalnum())[:8]}{n & 0xFFF:03x}{rng.getrandbits(31):08x}"


def _ddl(cursor: Any, template: str, table: str) -> None:
    text = "\n".join(
        line for line in (FOLDER / template).read_text(encoding="utf-8").splitlines() if not line.startswith("--")
    )
    for statement in text.replace("@{tableName}", table).split(";"):
        if statement.strip():
            cursor.execute(statement)


def _seconds(value: Any) -> int | None:
    if value is None:
        return None
    moment = value.dt
    if not isinstance(moment, datetime):  # a date: SOGo keeps an all-day event's day at midnight GMT
        return int(datetime(moment.year, moment.month, moment.day, tzinfo=UTC).timestamp())
    return int((moment if moment.tzinfo else moment.replace(tzinfo=cal.ZoneInfo(cal.ZONE))).timestamp())


def _quick(text: str, name: str) -> tuple[Any, ...]:
    """The quick row SOGo's iCalEvent+SOGo.m quickRecordFromContent: writes for an object: the
    first component (a series' master), attendees' CNs, emails and replies a line each."""
    component = next(c for c in icalendar.Calendar.from_ical(text).walk() if c.name in ("VEVENT", "VTODO"))
    start = _seconds(component.get("DTSTART"))
    end = _seconds(component.get("DTEND"))
    if end is None and start is not None and component.get("DURATION"):
        end = start + int(component["DURATION"].dt.total_seconds())
    all_day = component.get("DTSTART") is not None and not isinstance(component["DTSTART"].dt, datetime)
    attendees = component.get("ATTENDEE") or []
    attendees = attendees if isinstance(attendees, list) else [attendees]
    mails = "\n".join(str(a).removeprefix("mailto:") if str(a).startswith("mailto:") else "" for a in attendees)
    organizer = str(component["ORGANIZER"]).removeprefix("mailto:") if component.get("ORGANIZER") else None
    return (
        name,
        str(component["UID"]),
        start,
        end - 86_400 * all_day if end else None,
        end if component.get("RRULE") else None,
        str(component.get("SUMMARY", "")),
        "\n".join(str(a.params.get("CN", "")) for a in attendees),
        int(all_day),
        int(bool(component.get("RRULE"))),
        '{rules = ("FREQ=WEEKLY;COUNT=6"); }' if component.get("RRULE") else None,
        0,
        int(str(component.get("TRANSP", "OPAQUE")) == "OPAQUE"),
        STATUS.get(str(component.get("STATUS", "")), 1),
        0,
        str(component["LOCATION"]) if component.get("LOCATION") else None,
        organizer,
        mails,
        "\n".join(str(PARTSTAT.get(str(a.params.get("PARTSTAT", "NEEDS-ACTION")), 0)) for a in attendees),
        None,
        int(component.get("SEQUENCE", 0)),
        component.name.lower(),
        None,
        None,
    )


def _store(
    cursor: Any, table: str, name: str, text: str, modified: int, deleted: bool = False, quick: bool = True
) -> None:
    cursor.execute(
        f"INSERT INTO {table} (c_name, c_content, c_creationdate, c_lastmodified, c_version, c_deleted) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (name, text, modified - 86_400 * 20, modified, 1, 1 if deleted else None),
    )
    if quick and not deleted:  # SOGo removes a deleted object's quick row
        cursor.execute(f"INSERT INTO {table}_quick VALUES ({', '.join(['%s'] * 23)})", _quick(text, name))


def _vcard(n: int, given: str, family: str, phone: str) -> str:
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Inverse inc.//SOGo 5.12.1//EN\r\n"
        f"UID:{n:04X}-card\r\nN:{family};{given};;;\r\nFN:{given} {family}\r\n"
        f"TEL;TYPE=cell:{phone}\r\nEND:VCARD\r\n"
    )


def _meeting(now: datetime, day: Any, organizer: tuple[str, str, str]) -> str:
    """The weekly staff meeting the first doctor organizes, the other two invited (no patient)."""
    start = datetime(day.year, day.month, day.day, 17, 30, tzinfo=cal.ZoneInfo(cal.ZONE))
    lines = [
        f"UID:meeting-{day:%Y%m%d}",
        f"DTSTAMP:{now:%Y%m%dT%H%M%SZ}",
        f"DTSTART;TZID={cal.ZONE}:{start:%Y%m%dT%H%M%S}",
        f"DTEND;TZID={cal.ZONE}:{start + timedelta(hours=1):%Y%m%dT%H%M%S}",
        "SUMMARY:Teambesprechung",
        "LOCATION:Besprechungsraum",
        f"ORGANIZER;CN={organizer[1]}:mailto:{organizer[2]}",
    ]
    lines += [
        f"ATTENDEE;CN={name};PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:{email}"
        for uri, name, email in cal.DOCTORS
        if uri != organizer[0]
    ]
    return cal._object(lines)


def fill(cursor: Any) -> dict[str, dict[str, Any]]:
    """The users, each doctor's calendar and address book folders with their tables, the events
    stored and parsed; the truth, by the visit's UTC start."""
    rng = random.Random(4411)
    rows, truth = cal.build()
    now = datetime.now(UTC).replace(microsecond=0)
    users = [
        ("sogo-admin", "Praxis Admin", "admin@praxis-mitte.example"),
        ("empfang", "Empfang Praxis Mitte", "empfang@praxis-mitte.example"),
        *((_login(uri), name, email) for uri, name, email in cal.DOCTORS),
    ]
    for login, name, email in users:
        cursor.execute(
            "INSERT INTO sogo_users VALUES (%s, %s, %s, %s, %s)", (login, login, "{SSHA256}" + "x" * 40, name, email)
        )
        cursor.execute(
            "INSERT INTO sogo_user_profile VALUES (%s, %s, %s)",
            (login, '{"SOGoTimeZone": "Europe/Berlin", "SOGoLanguage": "German"}', "{}"),
        )
    tables: dict[int, str] = {}
    count = 0
    for number, (uri, _, _) in enumerate(cal.DOCTORS, start=1):
        login = _login(uri)
        for kind, path, title, template in (
            ("Appointment", "Calendar", "Persönlicher Kalender", "appointment"),
            ("Contact", "Contacts", "Persönliches Adressbuch", "contact"),
        ):
            count += 1
            table = _table(login, rng, count)
            _ddl(cursor, "folder.sql", table)
            _ddl(cursor, f"{template}-quick.sql", table)
            cursor.execute(
                "INSERT INTO sogo_folder_info (c_path, c_path1, c_path2, c_path3, c_path4, c_foldername, "
                "c_location, c_quick_location, c_acl_location, c_folder_type) VALUES (%s, 'Users', %s, %s, "
                "'personal', %s, %s, %s, %s, %s)",
                (
                    f"/Users/{login}/{path}/personal",
                    login,
                    path,
                    title,
                    f"{BASE}/{table}",
                    f"{BASE}/{table}_quick",
                    f"{BASE}/{table}_acl",
                    kind,
                ),
            )
            cursor.execute(
                f"INSERT INTO {table}_acl VALUES ('empfang', '/Users/{login}/{path}/personal', 'ObjectEditor')"
            )
            if kind == "Appointment":
                tables[number] = table
                continue
            for n in range(12):  # the doctor's address book: patients' cards
                given, family = cal.GIVEN[(n + number) % len(cal.GIVEN)], cal.FAMILY[n % len(cal.FAMILY)]
                card = _vcard(n, given, family, f"0151 {2345600 + n * 7 + number}")
                cursor.execute(
                    f"INSERT INTO {table} VALUES (%s, %s, %s, %s, 1, NULL)",
                    (f"{n:04X}-card.vcf", card, int(now.timestamp()), int(now.timestamp())),
                )
                cursor.execute(
                    f"INSERT INTO {table}_quick (c_name, c_givenname, c_cn, c_sn, c_telephonenumber, "
                    "c_component) VALUES (%s, %s, %s, %s, %s, 'vcard')",
                    (f"{n:04X}-card.vcf", given, f"{given} {family}", family, f"0151 {2345600 + n}"),
                )
    for row in rows:
        _store(cursor, tables[row.calendar], f"{row.uid}.ics", row.text, row.modified)
    today = now.astimezone(cal.ZoneInfo(cal.ZONE)).date()
    for week in range(4):  # the staff meeting, in each doctor's calendar
        text = _meeting(now, today + timedelta(days=7 * week + 1), cal.DOCTORS[0])
        for number in tables:
            _store(cursor, tables[number], f"meeting-{week}.ics", text, int(now.timestamp()))
    gone = next(r for r in rows if r.id == 110)  # a visit deleted by the desk: c_deleted, no quick row
    _store(
        cursor,
        tables[gone.calendar],
        "deleted-visit.ics",
        gone.text.replace("UID:", "UID:gone-"),
        gone.modified,
        deleted=True,
    )
    doctors = {uri: _login(uri) for uri, _, _ in cal.DOCTORS}
    return {
        t["start"]: {**{k: v for k, v in t.items() if k != "start"}, "doctor": doctors[t["doctor"]]}
        for t in truth.values()
    }


@pytest.mark.postgres
def test_on_postgresql(postgres_url: str, tmp_path: Path, cli: Any) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        real.run_ddl(connection, FOLDER / "schema.sql")
        with connection.cursor() as cursor:
            truth = fill(cursor)
    settings = real.settings_file(tmp_path, cal.ZONE, cal.REGION)
    run = cli(settings)
    code, out, err = run("discover", postgres_url, "--write", expect=None)
    print(
        code,
        out,
        err,
        settings.read_text(encoding="utf-8"),
        *(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")),
    )
    # the day off and the task, said by check (which exits 1 for what it would quarantine)
    assert "2 would be quarantined (reasons: c_content x2), 0 problems" in out and code == 1, (code, out)
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    by_start = {v["start"]: v for v in found.values()}  # a visit is the one at its time
    keyed = {k: {**by_start[k], "start": k} for k in truth if k in by_start}
    scores = real.scores(keyed, {k: {**t, "start": k} for k, t in truth.items()})
    print("fields right of", len(truth), scores, "stored", len(found))
    assert all(right >= 0.95 * len(truth) for right in scores.values()), scores
    assert not any(v["location"] == "Besprechungsraum" for v in found.values())  # no staff meeting
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # besides, the past visits only (never reminded)
    assert all(v["start"] < now for k, v in by_start.items() if k not in truth), sorted(set(by_start) - set(truth))
