"""`discover` on the real shape of a CalDAV server's database (sabre/dav, which Baïkal ships:
tests/fixtures/ehr/baikal, with its SOURCE note), on MariaDB and on PostgreSQL: three doctors'
calendars, each event a row of ``calendarobjects`` whose ``calendardata`` blob (MEDIUMBLOB,
bytea) holds the whole iCalendar object, ``firstoccurence``/``lastoccurence``/``lastmodified``
Unix seconds beside it; a calendar's owner a row of ``calendarinstances`` (a shared calendar has
a row per sharer, the owner's first), the owner's name and email a row of ``principals``.
Realistic synthetic events (tests/discover/ical_support.py): zones by TZID (the clinic's and
another), a Z time with a DURATION, floating times, cancelled and tentative ones, attendees with
and without CN, one by phone, the doctor as chair, a room as a resource; a day off, a weekly
series and a task beside them. Driven as the admin would: ``discover --write`` (which runs
``check``), then ``sync --once``, every field of every visit compared with the truth."""

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

FOLDER = real.FIXTURES / "baikal"


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


def _trial(url: str, truth: dict[str, dict[str, Any]], folder: Path, cli: Any) -> None:
    settings = real.settings_file(folder, cal.ZONE, cal.REGION)
    before = settings.read_text(encoding="utf-8")
    run = cli(settings)
    code, out, err = run("discover", url, "--write", expect=None)
    print(out, err, settings.read_text(encoding="utf-8"),
          *(p.read_text(encoding="utf-8") for p in (folder / "mappings").glob("*")))
    # the day off and the weekly series, said by check (which exits 1 for what it would quarantine)
    assert "2 would be quarantined (reasons: calendardata x2), 0 problems" in out and code == 1, (code, out)
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


def test_sabre_dav_on_mariadb(mariadb_database: dict[str, Any], tmp_path: Path, cli: Any) -> None:
    def build(cursor: Any) -> dict[str, dict[str, Any]]:
        real.run_ddl(cursor, FOLDER / "schema.mysql.sql")
        return _fill(cursor)
    truth = real.built(mariadb_database, build)
    _trial(str(mariadb_database["url"]), truth, tmp_path, cli)


@pytest.mark.postgres
def test_sabre_dav_on_postgresql(postgres_url: str, tmp_path: Path, cli: Any) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        real.run_ddl(connection, FOLDER / "schema.pgsql.sql")
        with connection.cursor() as cursor:
            truth = _fill(cursor)
    _trial(postgres_url, truth, tmp_path, cli)
