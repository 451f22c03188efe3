"""`discover` on Booking Calendar (wpdevelop), a WordPress booking plugin with tables of its own,
in MariaDB (tests/fixtures/ehr/wp_booking_calendar, with its SOURCE note), beside a clinic's
WordPress site (pages, posts, shop orders, users). A booking is a `wp_booking` row whose
person and slot are ONE text field, `form` (``type^name^value`` items joined by ``~``); its
time is two `wp_bookingdates` rows of one day, the start at ``HH:MM:01`` and the end at
``HH:MM:02``, each `approved` 1 or 0 (pending); a booking moved to the trash keeps its row
(`trash` 1). The free version has no staff: no doctor. Driven as the admin would:
``discover --write`` (which runs ``check``), then ``sync --once``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real
from tests.discover import wordpress_support as wp

ZONE = "America/Chicago"
REGION = "US"
BOOKINGS = 150


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The site and the plugin's rows as Booking Calendar writes them; what the store must hold."""
    rng = random.Random(4417)
    now = datetime.now(ZoneInfo(ZONE)).replace(second=0, microsecond=0)
    site_now = now.replace(tzinfo=None)
    wp.build_site(cursor, rng, site_now, ZONE, 20, "billing_phone")
    real.load_schema(cursor, "wp_booking_calendar")
    truth: dict[str, dict[str, Any]] = {}
    booking = 0
    for visit in range(BOOKINGS):
        start = wp.visit_start(now, visit, 8 + visit % 9, 30 * (visit % 2))
        if start is None:
            continue
        booking += 1
        first, last = wp.FIRST[visit % len(wp.FIRST)], wp.LAST[(visit * 3) % len(wp.LAST)]
        e164 = wp.us_number(rng)
        email = f"{first.lower()}.{last.lower()}{visit}@mail.example.com"
        wall = start.replace(tzinfo=None)
        end = wall + timedelta(minutes=30)
        form = "~".join([f"selectbox^rangetime1^{wall:%H:%M} - {end:%H:%M}", f"text^name1^{first}",
                         f"text^secondname1^{last}", f"text^email1^{email}", f"text^phone1^{wp.typed(e164, visit)}",
                         "textarea^details1^" + ("Follow-up visit" if visit % 3 else "First visit, back pain")])
        trashed = visit % 7 == 0
        approved = 0 if visit % 5 == 0 else 1
        made = site_now - timedelta(days=3 + visit % 20, hours=visit % 7)
        cursor.execute("INSERT INTO wp_booking (booking_id, form, booking_type, modification_date, creation_date, "
                       "sort_date, status, is_new, sync_gid, is_trash, trash, booking_options, hash) VALUES "
                       "(%s, %s, 1, %s, %s, %s, '', %s, '', %s, %s, NULL, MD5(%s))",
                       (booking, form, made + timedelta(hours=1), made, wall.replace(second=1), visit % 2,
                        made + timedelta(hours=2) if trashed else None, int(trashed), str(booking)))
        cursor.executemany("INSERT INTO wp_bookingdates (booking_id, booking_date, approved) VALUES (%s, %s, %s)",
                           [(booking, wall.replace(second=1), approved), (booking, end.replace(second=2), approved)])
        truth[str(booking)] = {"start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "status": "cancelled" if trashed else "pending" if not approved else "booked",
                               "in_window": start >= now - wp.BACK, "patient_id": e164, "name": f"{first} {last}",
                               "phone": e164, "email": email}
    return truth


def expected(truth: dict[str, dict[str, Any]]) -> dict[str, real.Want]:
    """The visits the window holds but those in the trash (a soft delete, as WordPress's own
    trash); with no customer table the patient is known by the phone typed on the form, read
    as +E.164."""
    return {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], None)  # type: ignore[misc]
            for k, t in truth.items() if t["in_window"] and t["status"] != "cancelled"}


@pytest.mark.mariadb
def test_booking_calendar_forms_and_their_dates(mariadb_database: dict[str, Any], tmp_path: Any, cli: Any) -> None:
    """The visits are the bookings, their start the day's ``:01`` date row, their person the
    form's name, second name, email and phone items, their status the trash flag and the
    dates' approval."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    connector = wp.discover_without_doctor(run, settings, [str(mariadb_database["url"])])
    assert connector["stored_times"] == "local" if "stored_times" in connector else True  # told by the hours
    found = real.sync_and_compare(run, connector, expected(truth), ZONE)
    emails = [k for k in found if (found[k]["patient"] or {}).get("email") != truth[k]["email"]]
    assert emails == []
