"""`discover` on Booked, a WordPress booking plugin with no table of its own, in MariaDB
(tests/fixtures/ehr/wp_booked, with its SOURCE note): each appointment is a `wp_posts` row of
type `booked_appointments` among the site's pages, posts, revisions, attachments, menu items
and shop orders, its fields `wp_postmeta` rows. The start is `_appointment_timestamp`, PHP's
`strtotime` of the site's wall clock (WordPress runs PHP in UTC: the number is the wall clock
written as if it were UTC), beside `_appointment_timeslot` ("0900-0930"); the status is
`post_status` (`draft` waits for approval, `publish`/`future` approved, `trash` thrown away; a
cancellation deletes the row); a registered customer is `_appointment_user` (and
`post_author`) naming a `wp_users` row whose name and phone (`booked_phone`) are user meta; a
guest's name and email are the booking's own meta. No doctor is kept per appointment.
Driven as the admin would: ``discover --write`` (which runs ``check``), then ``sync --once``."""

from __future__ import annotations

import calendar
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real
from tests.discover import wordpress_support as wp

ZONE = "America/New_York"
REGION = "US"
VISITS = 160


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The site and the plugin's rows as Booked writes them; what the store must then hold."""
    rng = random.Random(8123)
    now = datetime.now(ZoneInfo(ZONE)).replace(second=0, microsecond=0)
    site = wp.build_site(cursor, rng, now.replace(tzinfo=None), ZONE, 45, "booked_phone")
    registered = sorted(site.customers)
    truth: dict[str, dict[str, Any]] = {}
    for visit in range(VISITS):
        start = wp.visit_start(now, visit, 8 + visit % 9, 30 * (visit % 2))
        if start is None:
            continue
        wall = start.replace(tzinfo=None)
        end = wall + timedelta(minutes=30)
        status = "draft" if visit % 5 == 0 else "future" if visit % 13 == 0 else "publish"
        thrown = visit % 17 == 0
        meta: list[tuple[str, Any]] = [("_appointment_title", ""),
                                       ("_appointment_timestamp", calendar.timegm(wall.timetuple())),
                                       ("_appointment_timeslot", f"{wall:%H%M}-{end:%H%M}"),
                                       ("_cf_meta_value", '<p class="cf-meta-value"><strong>Reason</strong><br>'
                                                          'Check-up</p>')]
        guest = visit % 3 == 0
        if guest:
            first, last = wp.FIRST[(visit * 5) % len(wp.FIRST)], wp.LAST[(visit * 3) % len(wp.LAST)]
            email = f"{first.lower()}.{last.lower()}.g{visit}@mail.example.com"
            meta += [("_appointment_guest_name", first), ("_appointment_guest_surname", last),
                     ("_appointment_guest_email", email)]
            author, patient, phone = 0, email, None
        else:
            user = registered[rng.randrange(len(registered))]
            first, last, email, phone = site.customers[user]
            meta.append(("_appointment_user", user))
            author, patient = user, str(user)
        title = f"{wall:%B %d, %Y} @ {wall:%I:%M %p} (User: {'Guest' if guest else author})"
        post = wp.insert_post(cursor, site, "booked_appointments", "trash" if thrown else status, title,
                              wall.replace(day=1, hour=0, minute=0), author=author, meta=meta)
        if thrown:
            continue
        truth[str(post)] = {"start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "status": "pending" if status == "draft" else "booked",
                            "in_window": start >= now - wp.BACK, "patient_id": patient,
                            "name": f"{first} {last}", "phone": phone, "email": email}
    return truth


def expected(truth: dict[str, dict[str, Any]]) -> dict[str, real.Want]:
    return {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], None)
            for k, t in truth.items() if t["in_window"]}


@pytest.mark.mariadb
def test_booked_appointments_are_posts_of_their_type_with_their_meta_pivoted(
        mariadb_database: dict[str, Any], tmp_path: Any, cli: Any) -> None:
    """The visits are the posts whose meta hold the dates ahead (never the pages, revisions or
    shop orders), each read with its meta keys as columns: the start from the timestamp read as
    the wall clock its timeslot says, the status from post_status with the trashed left out,
    the registered customer from wp_users and its user meta, the guest from the booking's own."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    connector = wp.discover_without_doctor(run, settings, [str(mariadb_database["url"])])
    query = connector["query"]
    assert "'booked_appointments'" in query and "'trash'" in query, query
    assert "shop_order" not in query and "_billing_phone" not in query, query
    found = real.sync_and_compare(run, connector, expected(truth), ZONE)
    emails = [k for k in found if (found[k]["patient"] or {}).get("email") != truth[k]["email"]]
    assert emails == []
    written = (settings.read_text(encoding="utf-8")
               + "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "mappings").glob("*")))
    assert "user_pass" not in written and "session_tokens" not in written
