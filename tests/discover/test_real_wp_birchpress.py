"""`discover` on BirchPress Scheduler, a WordPress booking plugin with no table of its own, in
MariaDB (tests/fixtures/ehr/wp_birchpress, with its SOURCE note): every record is a `wp_posts`
row among the site's pages, posts and shop orders, its fields `wp_postmeta` rows. A time slot
(`birs_appointment`) holds the time as Unix seconds (an instant), the staff member and the
length; each client's booking of it (`birs_appointment1on1`) names the slot and the client and
has its own status (`publish`, `pending`, `draft`, `cancelled`); the client and the staff member
are posts too (`birs_client` with its name, email and phone meta, `birs_staff` with its title
and email). Driven as the admin would: ``discover --write`` (which runs ``check``), then
``sync --once``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real
from tests.discover import wordpress_support as wp

ZONE = "America/Denver"
REGION = "US"
SLOTS = 150
STATUS = {"publish": "booked", "pending": "pending", "cancelled": "cancelled"}
STAFF = [("Dr. Maria Lopez", "m.lopez@clinic.example.com"), ("Dr. Sam Okafor", "s.okafor@clinic.example.com"),
         ("Hannah Berg, NP", "h.berg@clinic.example.com")]


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The site and the plugin's rows as BirchPress writes them; what the store must hold."""
    rng = random.Random(7713)
    now = datetime.now(ZoneInfo(ZONE)).replace(second=0, microsecond=0)
    site_now = now.replace(tzinfo=None)
    site = wp.build_site(cursor, rng, site_now, ZONE, 20, "billing_phone")
    old = site_now - timedelta(days=300)
    location = wp.insert_post(cursor, site, "birs_location", "publish", "Main office", old,
                              meta=[("_birs_location_address1", "120 Main St"), ("_birs_location_state", "CO")])
    service = wp.insert_post(cursor, site, "birs_service", "publish", "Consultation", old,
                             meta=[("_birs_service_length", "30"), ("_birs_service_price", "80")])
    staff = [wp.insert_post(cursor, site, "birs_staff", "publish", name, old,
                            meta=[("_birs_staff_email", email), ("_birs_staff_color", "#2EA2CC"),
                                  ("_birs_assigned_services", f'a:1:{{i:{service};s:2:"on";}}')])
             for name, email in STAFF]
    clients: list[tuple[int, str, str, str]] = []
    for number in range(60):
        first, last = wp.FIRST[number % len(wp.FIRST)], wp.LAST[(number * 3) % len(wp.LAST)]
        e164 = wp.us_number(rng)
        email = f"{first.lower()}.{last.lower()}{number}@mail.example.com"
        client = wp.insert_post(cursor, site, "birs_client", "publish", f"{first} {last}", old + timedelta(days=number),
                                meta=[("_birs_client_name_first", first), ("_birs_client_name_last", last),
                                      ("_birs_client_email", email), ("_birs_client_phone", wp.typed(e164, number)),
                                      ("_birs_client_country", "US")])
        clients.append((client, f"{first} {last}", e164, email))
    truth: dict[str, dict[str, Any]] = {}
    for visit in range(SLOTS):
        start = wp.visit_start(now, visit, 8 + visit % 9, 30 * (visit % 2))
        if start is None:
            continue
        doctor = staff[visit % len(staff)]
        slot = wp.insert_post(cursor, site, "birs_appointment", "publish", "", site_now - timedelta(days=5),
                              meta=[("_birs_appointment_timestamp", int(start.timestamp())),
                                    ("_birs_appointment_staff", doctor), ("_birs_appointment_service", service),
                                    ("_birs_appointment_location", location), ("_birs_appointment_duration", 30),
                                    ("_birs_appointment_capacity", 1), ("_birs_appointment_padding_before", 0),
                                    ("_birs_appointment_padding_after", 0),
                                    ("_birs_appointment_uid", f"{rng.randrange(10**12)}")])
        client, name, e164, email = clients[rng.randrange(len(clients))]
        status = "cancelled" if visit % 7 == 0 else "pending" if visit % 5 == 0 else "publish"
        booking = wp.insert_post(cursor, site, "birs_appointment1on1", status, "", site_now - timedelta(days=5),
                                 meta=[("_birs_appointment_id", slot), ("_birs_client_id", client),
                                       ("_birs_appointment_service", service),
                                       ("_birs_appointment1on1_uid", f"{rng.randrange(10**12)}"),
                                       ("_birs_appointment1on1_price", "80"),
                                       ("_birs_appointment1on1_payment_status", "not-paid")])
        truth[str(booking)] = {"start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "status": STATUS[status], "in_window": start >= now - wp.BACK,
                               "patient_id": str(client), "name": name, "phone": e164, "email": email,
                               "doctor_id": str(doctor), "doctor_name": STAFF[visit % len(staff)][0]}
    wp.insert_post(cursor, site, "birs_appointment", "auto-draft", "", site_now)  # an abandoned form
    return truth


def expected(truth: dict[str, dict[str, Any]]) -> dict[str, real.Want]:
    return {k: (t["start"], t["status"], t["patient_id"], t["name"], t["phone"], t["doctor_id"])
            for k, t in truth.items() if t["in_window"]}


@pytest.mark.mariadb
def test_birchpress_bookings_name_their_slot_and_their_client(
        mariadb_database: dict[str, Any], tmp_path: Any, cli: Any) -> None:
    """The visits are each client's booking (its own status), read with the keys of the slot it
    names (the instant it starts, its staff member), the patient the client post it names (its
    name and phone meta), the doctor the staff post the slot names (its title and email)."""
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, REGION, cli)
    connector = real.discover_then_check(run, settings, [str(mariadb_database["url"])])
    assert "'birs_appointment1on1'" in connector["query"], connector["query"]
    found = real.sync_and_compare(run, connector, expected(truth), ZONE)
    doctors = [k for k in found if (found[k].get("practitioner") or {}).get("name") != truth[k]["doctor_name"]]
    emails = [k for k in found if (found[k]["patient"] or {}).get("email") != truth[k]["email"]]
    assert doctors == [] and emails == []
