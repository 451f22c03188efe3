"""`discover` on the real shape of DAViCal's database (tests/fixtures/ehr/davical, with its
SOURCE note), the PostgreSQL CalDAV server, a product it had never met. What it has: each stored
object a ``caldav_data`` row (the whole iCalendar text in a TEXT column, ``caldav_type``
VEVENT/VTODO/VCARD, its path ``dav_name`` under the owner's collection), beside it the server's
own parse of the event in ``calendar_item`` (dtstart/dtend TIMESTAMPTZ, the TZID in ``tz_id``,
summary, location, status word, the RRULE of a series as text) and one ``calendar_attendee`` row
an attendee; a calendar a ``collection`` row (``is_calendar``; an address book and the
scheduling inbox and outbox are collections too), its owner a ``usr`` row (username, fullname,
email) with a ``principal``. Realistic synthetic events (tests/discover/ical_support.py: zones
by TZID, a Z time with a DURATION, floating times, cancelled and tentative ones, attendees with
and without CN, one by phone, a room as a resource, a weekly series with a date taken out, a
moved and a cancelled occurrence, a day off and a task), and what a year of use leaves beside
them: the doctors' address books (patients' vCards with phones). Driven as the admin would:
``discover --write`` (which runs ``check``), then ``sync --once``, every field of every visit
compared with the truth."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import icalendar
import psycopg
import pytest
import yaml

from tests.discover import ical_support as cal
from tests.discover import real_ehr_support as real

FIXTURE = real.FIXTURES / "davical" / "schema.pgsql.sql"
ADMIN = ("admin", "DAViCal Administrator", "calendars@praxis-mitte.example")
DESK = ("empfang", "Empfang Praxis Mitte", "empfang@praxis-mitte.example")


def _username(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


def _moment(value: Any) -> datetime | None:
    """A parsed DTSTART/DTEND as DAViCal keeps it (TIMESTAMPTZ; a floating time read in the
    server's zone, the clinic's here)."""
    if value is None:
        return None
    moment = value.dt
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return moment if moment.tzinfo else moment.replace(tzinfo=cal.ZoneInfo(cal.ZONE))


def _item(cursor: Any, row: cal.Row, user: int, name: str, collection: int) -> None:
    """The ``calendar_item`` row DAViCal writes for a stored object (its first component: the
    master of a series) and a ``calendar_attendee`` row per attendee."""
    component = next(c for c in icalendar.Calendar.from_ical(row.text).walk() if c.name in ("VEVENT", "VTODO"))
    start, end = _moment(component.get("DTSTART")), _moment(component.get("DTEND"))
    if start and end is None and component.get("DURATION"):
        end = start + component["DURATION"].dt
    tzid = component["DTSTART"].params.get("TZID") if component.get("DTSTART") else None
    rrule = component.get("RRULE")
    cursor.execute(
        "INSERT INTO calendar_item (user_no, dav_name, dav_etag, uid, created, last_modified, dtstamp, dtstart, dtend, "
        "summary, location, class, transp, rrule, tz_id, status, dav_id, collection_id, first_instance_start, "
        "last_instance_end) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'PUBLIC', %s, %s, %s, %s, %s, %s, "
        "%s, %s)",
        (user, name, cal.etag(row.text), str(component["UID"]), datetime.fromtimestamp(row.modified, UTC).replace(
            tzinfo=None), datetime.fromtimestamp(row.modified, UTC).replace(tzinfo=None),
         component["DTSTAMP"].dt.replace(tzinfo=None), start, end, str(component.get("SUMMARY", "")) or None,
         str(component["LOCATION"]) if component.get("LOCATION") else None,
         str(component.get("TRANSP", "OPAQUE")), rrule.to_ical().decode() if rrule else None, tzid,
         str(component["STATUS"]) if component.get("STATUS") else None, row.id, collection,
         start.astimezone(UTC).replace(tzinfo=None) if start else None,
         datetime.fromtimestamp(row.last, UTC).replace(tzinfo=None) if row.last else None))
    attendees = component.get("ATTENDEE") or []
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        params = attendee.params
        cursor.execute("INSERT INTO calendar_attendee (dav_id, status, partstat, cn, attendee, role, rsvp, property) "
                       "VALUES (%s, NULL, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                       (row.id, params.get("PARTSTAT"), params.get("CN"), str(attendee), params.get("ROLE"),
                        params.get("RSVP") == "TRUE", f"ATTENDEE;{params.to_ical().decode()}:{attendee}"))


def _vcard(n: int, given: str, family: str, phone: str) -> str:
    return ("BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//Mac OS X 10.15//EN\r\n"
            f"N:{family};{given};;;\r\nFN:{given} {family}\r\nTEL;type=CELL;type=VOICE;type=pref:{phone}\r\n"
            f"UID:card-{n}\r\nEND:VCARD\r\n")


def fill(cursor: Any) -> dict[str, dict[str, Any]]:
    """The admin, the front desk and the three doctors as users (AWL's ``usr``) with a principal,
    each doctor's collections (the calendar, the address book, the scheduling inbox and outbox),
    the events stored and parsed, the doctors' address books; the truth."""
    rows, truth = cal.build()
    now = datetime.now(UTC)
    people = [ADMIN, DESK, *((_username(uri), name, email) for uri, name, email in cal.DOCTORS)]
    for tzid in (cal.ZONE, cal.OTHER_ZONE):  # loaded from the events' VTIMEZONEs, as DAViCal does
        cursor.execute("INSERT INTO timezones (tzid, olson_name, active, etag, vtimezone) VALUES (%s, %s, TRUE, "
                       "%s, %s)", (tzid, tzid, cal.etag(tzid), f"BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\nEND:VTIMEZONE"))
    for kind, desc in ((1, "Person"), (2, "Resource"), (3, "Group")):
        cursor.execute("INSERT INTO principal_type VALUES (%s, %s)", (kind, desc))
    for user_no, (username, fullname, email) in enumerate(people, start=1):
        cursor.execute("INSERT INTO usr (user_no, active, email_ok, updated, username, password, fullname, email, "
                       "date_format_type, locale) VALUES (%s, TRUE, %s, %s, %s, %s, %s, %s, 'E', 'de_DE')",
                       (user_no, now, now, username, "*salt*" + "e" * 32, fullname, email))
        cursor.execute("INSERT INTO principal (principal_id, type_id, user_no, displayname, default_privileges) "
                       "VALUES (%s, 1, %s, %s, 0::BIT(24))", (user_no, user_no, fullname))
    calendars: dict[int, tuple[int, int, str]] = {}
    collection_id = 1000
    for user_no, (username, _, _) in enumerate(people[2:], start=3):
        for path, is_calendar, is_book, types, name in (
                ("calendar", True, False, "<DAV::collection/><urn:ietf:params:xml:ns:caldav:calendar/>", "Kalender"),
                ("addresses", False, True, "<DAV::collection/><urn:ietf:params:xml:ns:carddav:addressbook/>",
                 "Kontakte"),
                (".in", False, False, "<DAV::collection/><urn:ietf:params:xml:ns:caldav:schedule-inbox/>", None),
                (".out", False, False, "<DAV::collection/><urn:ietf:params:xml:ns:caldav:schedule-outbox/>", None)):
            collection_id += 1
            cursor.execute("INSERT INTO collection (user_no, parent_container, dav_name, dav_etag, dav_displayname, "
                           "is_calendar, created, modified, collection_id, is_addressbook, resourcetypes, timezone) "
                           "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, NULL)",
                           (user_no, f"/{username}/", f"/{username}/{path}/", f"-{collection_id}", name, is_calendar,
                            now, now, collection_id, is_book, types))
            if path == "calendar":
                calendars[user_no - 2] = (user_no, collection_id, username)
            elif path == "addresses":
                book = collection_id
        for n in range(12):  # the doctor's address book: patients' cards, phones as typed
            given, family = cal.GIVEN[(n + user_no) % len(cal.GIVEN)], cal.FAMILY[n % len(cal.FAMILY)]
            text = _vcard(n, given, family, f"0151 {2345600 + n * 7 + user_no}")
            dav_id = 5000 + user_no * 100 + n
            cursor.execute("INSERT INTO caldav_data (user_no, dav_name, dav_etag, created, modified, caldav_data, "
                           "caldav_type, logged_user, dav_id, collection_id) VALUES (%s, %s, %s, %s, %s, %s, "
                           "'VCARD', %s, %s, %s)", (user_no, f"/{username}/addresses/card-{n}.vcf", cal.etag(text),
                                                   now, now, text, user_no, dav_id, book))
    for row in rows:
        user_no, collection, username = calendars[row.calendar]
        name = f"/{username}/calendar/{row.uid}.ics"
        stamp = datetime.fromtimestamp(row.modified, UTC)
        cursor.execute("INSERT INTO caldav_data (user_no, dav_name, dav_etag, created, modified, caldav_data, "
                       "caldav_type, logged_user, dav_id, collection_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
                       "%s, %s)", (user_no, name, cal.etag(row.text), stamp, stamp, row.text, row.kind, user_no,
                                   row.id, collection))
        _item(cursor, row, user_no, name, collection)
    return truth


@pytest.mark.postgres
def test_on_postgresql(postgres_url: str, tmp_path: Path, cli: Any) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        real.run_ddl(connection, FIXTURE)
        with connection.cursor() as cursor:
            truth = fill(cursor)
    doctors = {uri: str(n) for n, (uri, _, _) in enumerate(cal.DOCTORS, start=3)}  # the doctor is a user: usr's key
    truth = {k: {**t, "doctor": doctors[t["doctor"]]} for k, t in truth.items()}
    settings = real.settings_file(tmp_path, cal.ZONE, cal.REGION)
    before = settings.read_text(encoding="utf-8")
    run = cli(settings)
    code, out, err = run("discover", postgres_url, "--write", expect=None)
    print(out, err, settings.read_text(encoding="utf-8"), real.mapping_file(tmp_path).read_text(encoding="utf-8"))
    # the day off, said by check (which exits 1 for what it would quarantine); the task and the
    # address book's cards are not read (caldav_type), the series is
    assert "1 would be quarantined (reasons: caldav_data x1), 0 problems" in out and code == 1, (code, out)
    assert real.data.admin_lines(before, [postgres_url]) <= real.ADMIN_LIMIT
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    assert connector["ical_columns"] == ["caldav_data"], connector
    assert "a.caldav_type = 'VEVENT'" in connector["query"] and "JOIN collection" in connector["query"], connector
    _, sync_out, _ = run("sync", "--once", "--json")
    report = json.loads(sync_out)["connectors"][connector["name"]]
    assert report["error"] is None, report
    found = real.data.stored(run)
    scores = real.scores(found, truth)
    print("fields right of", len(truth), scores)
    assert scores == {f: len(truth) for f in scores}, scores
    # no window column beside the text: the past visits are read too (never reminded), nothing else
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert set(truth) <= set(found) and all(found[k]["start"] < now for k in set(found) - set(truth))
    series = sorted(k for k in found if k.startswith("series-"))  # taken out, moved, cancelled: 5 of 6
    assert len(series) == 5 and [found[k]["status"] for k in series].count("cancelled") == 1, series
