"""Odoo's calendar read by shape (tests/discover/test_real_odoo_shape.py, the same schema and
rows) where a few events list only the organizer: a staff meeting, a blocked hour. Such an
event has no patient: its one attendee is a login's own contact (``res_users.partner_id``), the
practice's staff (staffpersons.py), so it is no patient's visit and is left out of the query, as
a meeting of staff alone is in every groupware calendar; `check` passes on the visits, and the
sync stores every visit right and no meeting.

Issue 65, leftover of its Odoo-shaped class: events listing only the organizer (once stored with
their doctor and no patient, counted by `check` as nobody to remind)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data
from tests.discover.test_real_odoo_shape import DOCTORS, ZONE, build

ORGANIZER_ONLY = 4  # of 64 events: a few staff meetings beside 60 visits


def _organizer_only(connection: psycopg.Connection[Any]) -> list[str]:
    """Events whose only attendee is the organizer's own contact, in the coming days."""
    today = datetime.now(ZoneInfo(ZONE)).date()
    ids = []
    with connection.cursor() as cursor:
        for n in range(ORGANIZER_ONLY):
            k = 1000 + n
            user, partner, _, _ = DOCTORS[n % 3]
            day = today + timedelta(days=2 + n)
            start = datetime(day.year, day.month, day.day, 12, 30, tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
            start = start.replace(tzinfo=None)
            stamp = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(minutes=3)
            cursor.execute("INSERT INTO calendar_event (id, name, user_id, start, stop, duration, write_date) "
                           "VALUES (%s, 'Teamoverleg', %s, %s, %s, 0.5, %s)",
                           (k, user, start, start + timedelta(minutes=30), stamp))
            cursor.execute("INSERT INTO calendar_event_res_partner_rel (calendar_event_id, res_partner_id) "
                           "VALUES (%s, %s)", (k, partner))
            cursor.execute("INSERT INTO calendar_attendee (event_id, partner_id, state, write_date) "
                           "VALUES (%s, %s, 'accepted', %s)", (k, partner, stamp))
            ids.append(str(k))
    return ids


@pytest.mark.postgres
def test_events_listing_only_the_organizer_are_counted_not_failed(postgres_url: str, tmp_path: Path,
                                                                  cli: Any) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        expected = build(connection)
        meetings = _organizer_only(connection)
    settings = real.settings_file(tmp_path, ZONE, "BE")
    run = cli(settings)
    connector = real.discover_then_check(run, settings, [postgres_url, "--table", "calendar_event"])
    code, out, err = run("check")
    assert code == 0, (out, err)  # a few meetings never fail a setup that reaches every patient
    assert f"{len(expected)} of {len(expected)} (100%) upcoming visits can be reminded" in out, out
    assert "0 would be quarantined, 0 problems" in out, out

    _, sync_out, _ = run("sync", "--once", "--json")
    assert json.loads(sync_out)["connectors"][connector["name"]]["error"] is None, sync_out
    found = data.stored(run)
    assert set(found) == set(expected) and not set(found) & set(meetings)  # no meeting is a visit
    wrong = {k: w for k, want in expected.items() if (w := real.wrong_fields(found[k], want, ZONE))}
    assert not wrong, list(wrong.items())[:5]  # every visit with a patient, every field
