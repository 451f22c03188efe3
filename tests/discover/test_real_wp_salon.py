"""`discover` on Salon Booking System, a WordPress booking plugin with no table of its own, in
MariaDB (tests/fixtures/ehr/wp_salon, with its SOURCE note): a booking is a `wp_posts` row of
type `sln_booking` among the site's pages, posts, revisions, attachments, menu items and shop
orders, and of the plugin's own services and attendants (posts too); its fields are
`wp_postmeta` rows `_sln_booking_<key>`: the day (`Y-m-d`) and the time (`H:i`) apart, the
customer's first and last name, email and phone as typed in the form (a registered customer's
and a visitor's alike), the services as a PHP-serialized array, and the attendant (the one who
sees the customer) as the id of an `sln_attendant` post whose title is the name and whose
meta hold the email and phone. The status is `post_status`, the plugin's own words
(`sln-b-pending`, `sln-b-paid`, `sln-b-paylater`, `sln-b-canceled`, `sln-b-confirmed`), or
`trash`. Driven as the admin would: ``discover --write`` (which runs ``check``), the two
status words it cannot know typed, then ``sync --once``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real
from tests.discover import sql_support as data
from tests.discover import wordpress_support as wp

ZONE = "America/Chicago"
REGION = "US"
VISITS = 170
STATUS = {"sln-b-pending": "pending", "sln-b-paid": "booked", "sln-b-paylater": "booked",
          "sln-b-canceled": "cancelled", "sln-b-confirmed": "booked"}
ATTENDANTS = [("Dr. Maria Lopez", "m.lopez@clinic.example.com", "(312) 555-0110"),
              ("Dr. Sam Okafor", "s.okafor@clinic.example.com", "312.555.0111"),
              ("Hannah Berg, NP", "h.berg@clinic.example.com", "312-555-0112")]
SERVICES = [("New patient visit", "120.00", "00:45"), ("Follow-up", "60.00", "00:15"),
            ("Annual physical", "150.00", "01:00")]


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The site and the plugin's rows as Salon Booking System writes them; what the store must
    then hold per booking."""
    rng = random.Random(5531)
    now = datetime.now(ZoneInfo(ZONE)).replace(second=0, microsecond=0)
    site_now = now.replace(tzinfo=None)
    site = wp.build_site(cursor, rng, site_now, ZONE, 40, "_sln_phone")
    services = [wp.insert_post(cursor, site, "sln_service", "publish", title, site_now - timedelta(days=300),
                               meta=[("_sln_service_price", price), ("_sln_service_duration", length),
                                     ("_sln_service_unit", "1")]) for title, price, length in SERVICES]
    attendants = [wp.insert_post(cursor, site, "sln_attendant", "publish", title, site_now - timedelta(days=300),
                                 meta=[("_sln_attendant_email", email), ("_sln_attendant_phone", phone),
                                       ("_sln_attendant_services", "a:0:{}")])
                  for title, email, phone in ATTENDANTS]
    registered = sorted(site.customers)
    truth: dict[str, dict[str, Any]] = {}
    for visit in range(VISITS):
        start = wp.visit_start(now, visit, 9 + visit % 8, 15 * (visit % 4))
        if start is None:
            continue
        wall = start.replace(tzinfo=None)
        status = "sln-b-trash" if visit % 19 == 0 else list(STATUS)[(visit * 7) % len(STATUS)]
        if visit % 23 == 0:
            user, (first, last) = 0, (wp.FIRST[visit % 12], wp.LAST[visit % 10])
            email, e164 = f"{first.lower()}.{last.lower()}.v{visit}@mail.example.com", wp.us_number(rng)
        elif visit % 3 == 0:
            user = 0
            first, last = wp.FIRST[(visit * 5) % len(wp.FIRST)], wp.LAST[(visit * 3) % len(wp.LAST)]
            email, e164 = f"{first.lower()}.{last.lower()}.g{visit}@mail.example.com", wp.us_number(rng)
        else:
            user = registered[rng.randrange(len(registered))]
            first, last, email, e164 = site.customers[user]
        service = visit % len(SERVICES)
        attendant = attendants[visit % len(attendants)]
        meta = [("_sln_booking_date", f"{wall:%Y-%m-%d}"), ("_sln_booking_time", f"{wall:%H:%M}"),
                ("_sln_booking_services", f'a:1:{{i:0;s:{len(str(services[service]))}:"{services[service]}";}}'),
                ("_sln_booking_amount", SERVICES[service][1]), ("_sln_booking_firstname", first),
                ("_sln_booking_lastname", last), ("_sln_booking_email", email),
                ("_sln_booking_phone", wp.typed(e164, visit)), ("_sln_booking_address", ""),
                ("_sln_booking_attendant", str(attendant))]
        post = wp.insert_post(cursor, site, "sln_booking", "trash" if status == "sln-b-trash" else status,
                              f"{first} {last} - {wall:%d/%m/%Y %H:%M}", site_now - timedelta(days=3 + visit % 20),
                              author=user, meta=meta)
        if status == "sln-b-trash":
            continue
        truth[str(post)] = {"start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "status": STATUS[status],
                            "in_window": start.date() >= (now - wp.BACK).date(),  # the window is on the day key
                            # a guest has no id: the number typed identifies them (as +E.164), as discover
                            # reads any visit without a patient id
                            "patient_id": str(user) if user else e164, "name": f"{first} {last}",
                            "phone": e164, "email": email, "doctor_id": str(attendant),
                            "doctor_name": ATTENDANTS[visit % len(attendants)][0]}
    return truth


def expected(truth: dict[str, dict[str, Any]]) -> dict[str, real.Want]:
    return {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], t["doctor_id"])
            for k, t in truth.items() if t["in_window"]}


@pytest.mark.mariadb
def test_salon_bookings_are_posts_of_their_type_with_day_time_and_attendant(
        mariadb_database: dict[str, Any], tmp_path: Any, cli: Any) -> None:
    """The visits are the posts whose meta hold the days ahead (never the services, attendants,
    pages or shop orders): the start the day key with the time key, the patient the form's own
    fields (the registered customer's id where there is one), the doctor the attendant post the
    booking names, with its title and meta; the plugin's unknown status words typed by the admin."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    before = settings.read_text(encoding="utf-8")
    command = [str(mariadb_database["url"])]
    code, out, _ = run("discover", *command, "--write", expect=None)
    print(out)
    assert "'sln_booking'" in out and "shop_order" not in out, out
    typed = real.words_mapped(real.mapping_file(tmp_path), {"sln-b-paid": "booked", "sln-b-paylater": "booked"})
    assert typed == 2
    code, out, _ = run("check", expect=None)
    print(out)
    assert code == 0 and "0 would be quarantined, 0 problems" in out, out
    assert data.admin_lines(before, command, typed) <= real.ADMIN_LIMIT
    connector = __import__("yaml").safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    assert "'trash'" in connector["query"] and "_sln_booking_services" not in connector["query"]
    found = real.sync_and_compare(run, connector, expected(truth), ZONE)
    doctors = [k for k in found if (found[k].get("practitioner") or {}).get("name") != truth[k]["doctor_name"]]
    assert doctors == []
