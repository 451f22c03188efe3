"""Odoo in a real PostgreSQL: its calendar and contact tables (tests/fixtures/catalogue/odoo),
date-times stored as naive UTC, attendees through res_partner, a practice's synthetic rows over a
DST change, and the admin's path from a fresh settings file to the imported visits (`discover
--write`, `check`, `sync --once`) in at most six typed lines."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
import yaml

from tests.discover import catalogue_support as catalogue
from tests.discover import sql_support as data

SCHEMA = data.FIXTURES / "catalogue" / "odoo" / "schema.sql"
ZONE = "Europe/Brussels"
GRANTS = ("calendar_event", "calendar_event_res_partner_rel", "calendar_attendee", "res_partner", "res_users")
STATES = {"needsAction": "booked", "accepted": "booked", "tentative": "booked", "declined": "cancelled"}
DOCTORS = [(1, "Dr. Els Peeters", "els.peeters@praktijk.example"), (2, "Dr. Tom Janssens", "")]
PATIENTS = 90
VISITS = 200


def local_starts(count: int) -> list[datetime]:
    """``count`` wall-clock starts in Brussels on weekdays 08:00-17:40, over the next ~5 months
    (across the end of March: summer time)."""
    today = datetime.now(ZoneInfo(ZONE)).date()
    days = [today + timedelta(days=d) for d in range(2, 160) if (today + timedelta(days=d)).weekday() < 5]
    return [datetime.combine(days[(n * 7) % len(days)], time(8 + n % 10, (n * 20) % 60)) for n in range(count)]


def naive_utc(local: datetime) -> datetime:
    return local.replace(tzinfo=ZoneInfo(ZONE)).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def odoo(connection: Any, mobile_column: bool = True) -> list[catalogue.Visit]:
    """The tables, 2 doctors (users, each with their contact), 1 colleague, patients (contacts
    with no user, one with a portal login) with a mobile or only a phone, events with the doctor and one patient as
    attendees, the patient's answer; plus an internal meeting, an all-day event and an archived
    event: no visits but the last, which is cancelled."""
    schema = SCHEMA.read_text(encoding="utf-8")
    connection.execute(schema if mobile_column else schema.replace("  mobile varchar,\n", ""))
    stamp = datetime.now(ZoneInfo("UTC")).replace(tzinfo=None, microsecond=0) - timedelta(hours=2)
    staff = [*DOCTORS, (3, "Sofie Maes", "sofie@praktijk.example")]
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO res_partner (id, name, email, tz, lang, write_date) VALUES (%s, %s, %s, %s, 'nl_BE', %s)",
            [(s[0], s[1], s[2], ZONE, stamp) for s in staff])
        cursor.executemany("INSERT INTO res_users (id, login, partner_id, active, share, write_date) "
                           "VALUES (%s, %s, %s, true, false, %s)",
                           [(s[0], f"user{s[0]}@praktijk.example", s[0], stamp) for s in staff])
        patients = []
        for n in range(PATIENTS):
            mobile = f"+32 470 12 {n // 10 % 10}{n % 10} {n:02d}" if n % 2 == 0 else None
            phone = None if n % 2 == 0 else f"0470 34 {n:02d} 00"
            if not mobile_column and mobile:
                phone, mobile = mobile, None
            patients.append((100 + n, f"Patiënt {n} Voorbeeld", mobile, phone, f"p{n}@voorbeeld.be", stamp))
        if mobile_column:
            cursor.executemany("INSERT INTO res_partner (id, name, mobile, phone, email, lang, write_date) "
                               "VALUES (%s, %s, %s, %s, %s, 'nl_BE', %s)", patients)
        else:
            cursor.executemany("INSERT INTO res_partner (id, name, phone, email, lang, write_date) "
                               "VALUES (%s, %s, %s, %s, 'nl_BE', %s)", [(*p[:2], p[3], *p[4:]) for p in patients])
        # A patient with a portal login: a share user, still the patient of their visits.
        cursor.execute("INSERT INTO res_users (id, login, partner_id, active, share, write_date) "
                       "VALUES (50, 'p5@voorbeeld.be', 105, true, true, %s)", (stamp,))
        events, rel, attendees, visits = [], [], [], []
        states = list(STATES)
        for n, start in enumerate(local_starts(VISITS)):
            doctor, patient, minutes = DOCTORS[n % 2], 100 + n % PATIENTS, (15, 20, 30, 45)[n % 4]
            stop = start + timedelta(minutes=minutes)
            events.append((1 + n, "Consultatie", doctor[0], "Kabinet 1", naive_utc(start), naive_utc(stop),
                           minutes / 60, stamp))
            rel += [(1 + n, doctor[0]), (1 + n, patient)]
            state = states[n % len(states)]
            attendees += [(1 + n, doctor[0], "accepted", stamp), (1 + n, patient, state, stamp)]
            p = n % PATIENTS
            phone = f"+3247012{p // 10 % 10}{p % 10}{p:02d}" if p % 2 == 0 else f"+3247034{p:02d}00"
            visits.append(catalogue.Visit(str(1 + n), data.utc(start, ZONE), data.utc(stop, ZONE), ZONE, STATES[state],
                                          str(patient), phone, str(doctor[0])))
        first = local_starts(1)[0]
        others = [(901, "Teamoverleg", 1, None, naive_utc(first), naive_utc(first + timedelta(hours=1)), 1, stamp),
                  (902, "Congres", 2, None, datetime.combine(first.date(), time(8)),
                   datetime.combine(first.date(), time(18)), 0, stamp)]
        cursor.executemany(
            "INSERT INTO calendar_event (id, name, user_id, location, start, stop, duration, write_date) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", events + others)
        cursor.execute("UPDATE calendar_event SET allday = true WHERE id = 902")
        cursor.execute("UPDATE calendar_event SET active = false WHERE id = 7")  # archived: cancelled
        visits[6] = replace(visits[6], status="cancelled")
        rel += [(901, 1), (901, 3), (902, 2), (902, 100)]
        cursor.executemany("INSERT INTO calendar_event_res_partner_rel (calendar_event_id, res_partner_id) "
                           "VALUES (%s, %s)", rel)
        cursor.executemany("INSERT INTO calendar_attendee (event_id, partner_id, state, write_date) "
                           "VALUES (%s, %s, %s, %s)", attendees)
    return visits


@pytest.mark.postgres
def test_odoo_naive_utc_from_fresh_settings_to_every_visit(postgres_url: str, tmp_path: Path, cli: Any) -> None:
    """Odoo stores naive UTC: the instants are the stored values, each visit's zone is the
    clinic's (the zone Odoo's users have), on both sides of the change to summer time."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        expected = odoo(connection)
    settings = catalogue.fresh_settings(tmp_path, ZONE, "BE")
    with catalogue.postgres_reader(postgres_url, GRANTS) as url:  # the read-only login the docs ask for
        discovered, checked, report, run = catalogue.admin_path(cli, settings, [url])
        found = data.stored(run)

    assert "known product odoo (confidence 1.00)" in discovered
    assert f"{VISITS} records" in checked and "0 would be quarantined" in checked
    assert (report["error"], report["created"], report["quarantined"]) == (None, VISITS, 0)
    catalogue.assert_visits(found, expected)
    assert {"901", "902"}.isdisjoint(found)  # the team meeting and the all-day event are no visits
    connector = yaml.safe_load(settings.read_text())["connectors"][0]
    assert (connector["query_preset"], connector["stored_times"], connector["timezone"]) == ("odoo", "utc", ZONE)
    # Both sides of the change: 09:00 in Brussels is 08:00Z in winter, 07:00Z in summer.
    offsets = {datetime.fromisoformat(found[v.external_id]["start"]).astimezone(ZoneInfo(ZONE)).utcoffset()
               for v in expected}
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}


@pytest.mark.postgres
def test_odoo_without_a_mobile_column_and_a_phone_changed_later(postgres_url: str, tmp_path: Path,
                                                                cli: Any) -> None:
    """A version of Odoo whose contacts have `phone` alone: recognized as such (odoo_phone). No
    user has a zone: discover does not ask (the instants are right whatever the zone), the
    visits take clinic.timezone. A phone saved on the patient's contact reaches the store at
    the next poll."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        expected = odoo(connection, mobile_column=False)
        connection.execute("UPDATE res_partner SET tz = NULL")
        settings = catalogue.fresh_settings(tmp_path, ZONE, "BE")
        discovered, _, report, run = catalogue.admin_path(cli, settings, [postgres_url])
        assert "known product odoo_phone (confidence 1.00)" in discovered
        connector = yaml.safe_load(settings.read_text())["connectors"][0]
        assert (connector["stored_times"], connector.get("timezone")) == ("utc", None)
        assert "each visit takes clinic.timezone" in settings.read_text()
        assert (report["error"], report["created"], report["quarantined"]) == (None, VISITS, 0)
        catalogue.assert_visits(data.stored(run), expected)
        connection.execute("UPDATE res_partner SET phone = '0499 11 22 33', "
                           "write_date = (now() AT TIME ZONE 'UTC') + interval '1 second' WHERE id = 101")
    run("sync", "--once", expect=0)
    assert data.stored(run)["2"]["patient"]["phone"] == "+32499112233"
