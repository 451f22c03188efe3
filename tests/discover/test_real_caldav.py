"""`discover` on the real shape of a CalDAV server's database (sabre/dav, which Baïkal ships:
tests/fixtures/ehr/baikal, with its SOURCE note), on MariaDB and on PostgreSQL: three doctors'
calendars, each event a row of ``calendarobjects`` whose ``calendardata`` blob (MEDIUMBLOB,
bytea) holds the whole iCalendar object, ``firstoccurence``/``lastoccurence``/``lastmodified``
Unix seconds beside it; a calendar's owner a row of ``calendarinstances`` (a shared calendar has
a row per sharer, the owner's first), the owner's name and email a row of ``principals``. And
Nextcloud's (tests/fixtures/ehr/nextcloud): ``oc_calendarobjects`` (LONGBLOB, bytea) whose
calendar is an ``oc_calendars`` row, its owner ``principals/users/<uid>`` an ``oc_users`` row
(the display name; the email only as a preference, so the event's organizer gives it), a
subscribed feed's cached events in the same table (``calendartype`` 1) and an event in the trash
bin (``deleted_at``), neither a visit. Realistic synthetic events
(tests/discover/ical_support.py): zones by TZID (the clinic's and another), a Z time with a
DURATION, floating times, cancelled and tentative ones, attendees with and without CN, one by
phone, the doctor as chair, a room as a resource; a weekly series with a date taken out, a moved
and a cancelled occurrence (a visit an occurrence, each its own id: the UID and its original
start); a day off and a task beside them. Driven as the admin would: ``discover --write`` (which
runs ``check``), then ``sync --once``, every field of every visit compared with the truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from tests.discover import ical_support as cal
from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data

SABRE = real.FIXTURES / "baikal"
NEXTCLOUD = real.FIXTURES / "nextcloud"
TRASHED = "105"  # a visit the doctor deleted: in Nextcloud's trash bin (deleted_at), never imported


def _fill(cursor: Any) -> dict[str, dict[str, Any]]:
    """The doctors' principals, calendars and instances (calendar 1 shared with the second
    doctor: a second instance, added after the owner's), the events; the truth."""
    rows, truth = cal.build()
    for uri, name, email in cal.DOCTORS:
        for suffix, mail, shown in (("", email, name), ("/calendar-proxy-read", None, None),
                                    ("/calendar-proxy-write", None, None)):
            cursor.execute("INSERT INTO principals (uri, email, displayname) VALUES (%s, %s, %s)",
                           (uri + suffix, mail, shown))
    for n, (uri, _, _) in enumerate(cal.DOCTORS, start=1):
        cursor.execute("INSERT INTO calendars (id, synctoken, components) VALUES (%s, %s, %s)",
                       (n, 1 + n * 17, "VEVENT,VTODO"))
        cursor.execute("INSERT INTO calendarinstances (calendarid, principaluri, access, displayname, uri, "
                       "calendarorder, calendarcolor, timezone, transparent, share_invitestatus) "
                       "VALUES (%s, %s, 1, %s, %s, 0, '#0082c9', NULL, 0, 2)",
                       (n, uri, "Sprechstunde", "sprechstunde"))
    cursor.execute("INSERT INTO calendarinstances (calendarid, principaluri, access, displayname, uri, "
                   "calendarorder, calendarcolor, transparent, share_href, share_displayname, share_invitestatus) "
                   "VALUES (1, %s, 3, 'Sprechstunde (Weber)', 'shared-weber', 1, '#0082c9', 0, %s, %s, 2)",
                   (cal.DOCTORS[1][0], "mailto:" + cal.DOCTORS[1][2], cal.DOCTORS[1][1]))
    for row in rows:
        blob = row.text.encode()
        cursor.execute("INSERT INTO calendarobjects (id, calendardata, uri, calendarid, lastmodified, etag, size, "
                       "componenttype, firstoccurence, lastoccurence, uid) "
                       "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                       (row.id, blob, f"{row.uid}.ics", row.calendar, row.modified, cal.etag(row.text), len(blob),
                        row.kind, row.first, row.last, row.uid))
    return truth


def _fill_nextcloud(cursor: Any) -> dict[str, dict[str, Any]]:
    """Nextcloud's users (a display name; the email kept as a preference), one calendar each (the
    principal path made from the user's id), a subscribed holiday feed whose cached events share
    the objects table (calendartype 1, its own ids), the events; one in the trash bin."""
    rows, truth = cal.build()
    users = [("admin", "Praxis Admin", "it@praxis-mitte.example"), ("empfang", "Empfang", None)]
    users += [(uri.rsplit("/", 1)[1], name, email) for uri, name, email in cal.DOCTORS]
    for uid, name, email in users:
        cursor.execute("INSERT INTO oc_users (uid, displayname, password) VALUES (%s, %s, %s)",
                       (uid, name, "3|$argon2id$v=19$m=65536,t=4,p=1$c2FsdA$aGFzaA"))
        if email:
            cursor.execute("INSERT INTO oc_preferences (userid, appid, configkey, configvalue) "
                           "VALUES (%s, 'settings', 'email', %s)", (uid, email))
    for n, (uri, _, _) in enumerate(cal.DOCTORS, start=1):
        cursor.execute("INSERT INTO oc_calendars (id, principaluri, displayname, uri, synctoken, calendarorder, "
                       "calendarcolor, components, transparent) VALUES (%s, %s, 'Persönlich', 'personal', %s, 0, "
                       "'#0082c9', 'VEVENT,VTODO', 0)", (n, uri, 10 + n))
    cursor.execute("INSERT INTO oc_calendarsubscriptions (id, uri, principaluri, source, displayname, refreshrate, "
                   "calendarorder, lastmodified, synctoken) VALUES (1, 'feiertage', %s, "
                   "'https://feiertage.example/berlin.ics', 'Feiertage', 'P1W', 1, %s, 1)",
                   (cal.DOCTORS[0][0], rows[0].modified))
    feed = [cal.Row(800 + n, 1, row.text.replace("UID:", "UID:feed-"), row.first, row.last, row.modified)
            for n, row in enumerate(rows[:2])]  # a feed's timed events, cached: never a doctor's visit
    for row, kind in [*((r, 0) for r in rows), *((r, 1) for r in feed)]:
        blob = row.text.encode()
        cursor.execute("INSERT INTO oc_calendarobjects (id, calendardata, uri, calendarid, lastmodified, etag, size, "
                       "componenttype, firstoccurence, lastoccurence, uid, classification, calendartype, deleted_at) "
                       "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s)",
                       (row.id, blob, f"{row.uid}.ics", row.calendar, row.modified, cal.etag(row.text), len(blob),
                        row.kind, row.first, row.last, row.uid, kind,
                        row.modified if str(row.id) == TRASHED else None))
    return {k: v for k, v in truth.items() if k != TRASHED}


def _trial(url: str, truth: dict[str, dict[str, Any]], folder: Path, cli: Any) -> None:
    settings = real.settings_file(folder, cal.ZONE, cal.REGION)
    before = settings.read_text(encoding="utf-8")
    run = cli(settings)
    code, out, err = run("discover", url, "--write", expect=None)
    print(out, err, settings.read_text(encoding="utf-8"),
          *(p.read_text(encoding="utf-8") for p in (folder / "mappings").glob("*")))
    # the day off, said by check (which exits 1 for what it would quarantine); the series is read
    assert "1 would be quarantined (reasons: calendardata x1), 0 problems" in out and code == 1, (code, out)
    assert data.admin_lines(before, [url]) <= real.ADMIN_LIMIT
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    assert connector["ical_columns"] == ["calendardata"], connector
    assert "lastoccurence" in connector["query"] and "componenttype" in connector["query"], connector["query"]
    _, sync_out, _ = run("sync", "--once", "--json")
    report = json.loads(sync_out)["connectors"][connector["name"]]
    assert report["error"] is None, report
    found = data.stored(run)
    right, total, wrong = cal.scores(found, truth)
    print("fields right:", right, "of", total, wrong[:10])
    assert set(found) == set(truth), sorted(set(found) ^ set(truth))
    assert right == total, wrong[:10]
    series = sorted(k for k in found if k.startswith("series-"))  # taken out, moved, cancelled: 5 of 6
    assert len(series) == 5 and [found[k]["status"] for k in series].count("cancelled") == 1, series


PRODUCTS = {"sabre_dav": (SABRE, _fill), "nextcloud": (NEXTCLOUD, _fill_nextcloud)}


@pytest.mark.parametrize("product", list(PRODUCTS))
def test_on_mariadb(product: str, mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    folder, fill = PRODUCTS[product]

    def build(cursor: Any) -> dict[str, dict[str, Any]]:
        real.run_ddl(cursor, folder / "schema.mysql.sql")
        return fill(cursor)
    truth = real.built(mariadb_database, build)
    _trial(str(mariadb_database["url"]), truth, tmp_path, cli)


@pytest.mark.postgres
@pytest.mark.parametrize("product", list(PRODUCTS))
def test_on_postgresql(product: str, postgres_url: str, tmp_path: Path, cli: Any) -> None:
    folder, fill = PRODUCTS[product]
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        real.run_ddl(connection, folder / "schema.pgsql.sql")
        with connection.cursor() as cursor:
            truth = fill(cursor)
    _trial(postgres_url, truth, tmp_path, cli)
