"""`discover` on the real shape of BookingPress (tests/fixtures/ehr/bookingpress, with its SOURCE
note), a WordPress booking plugin, on MariaDB: every form entry is kept in
``wp_bookingpress_entries`` (abandoned ones too), and a booking copies its entry's day, times,
customer and service into ``wp_bookingpress_appointment_bookings``; every column carries the
product's own word (``bookingpress_appointment_date``); the status is a number no table names
(1 Approved, 2 Pending, 3 Cancelled, 4 Rejected); the free plugin keeps no staff member.

What discover must do: read the bookings, not the entries (an abandoned form is no visit); the
booking's own copy of the customer's phone and email first, then the customer's row, never the
entry's; say the status numbers are the product's (the admin types four lines); and `check`
must say no visit has a doctor, so calendars and agendas reach nobody."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.discover import real_ehr_support as real

ZONE = "Europe/Paris"
FIXTURE = real.FIXTURES / "bookingpress" / "schema.sql"
SERVICES = (("Consultation", 30, "m"), ("Kinésithérapie", 45, "m"), ("Bilan complet", 1, "h"))
STATUS_LINES = {"1": "booked", "2": "pending", "3": "cancelled", "4": "cancelled"}


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """Three services (one in hours), 50 customers, 140 form entries of which 120 became
    bookings (every seventh abandoned); the truth per booking."""
    real.run_ddl(cursor, FIXTURE)
    rng = random.Random(21)
    for s, (name, value, unit) in enumerate(SERVICES, 1):
        cursor.execute("INSERT INTO wp_bookingpress_services (bookingpress_service_id, bookingpress_service_name, "
                       "bookingpress_service_price, bookingpress_service_duration_val, "
                       "bookingpress_service_duration_unit, bookingpress_service_description, "
                       "bookingpress_service_position) VALUES (%s, %s, 50, %s, %s, '', %s)", (s, name, value, unit, s))
    for key, value in (("company_name", "Cabinet des Lilas"), ("company_phone_number", "+33145678901")):
        cursor.execute("INSERT INTO wp_bookingpress_settings (setting_name, setting_value, setting_type) "
                       "VALUES (%s, %s, 'company_setting')", (key, value))
    customers = []
    for c in range(1, 51):
        given, family = rng.choice(["Léa", "Hugo", "Chloé", "Louis", "Emma"]), rng.choice(["Martin", "Petit", "Roux"])
        phone = real.valid_number(rng, "+336", 12) if c % 8 else None
        cursor.execute("INSERT INTO wp_bookingpress_customers (bookingpress_customer_id, bookingpress_user_login, "
                       "bookingpress_user_status, bookingpress_user_type, bookingpress_user_name, "
                       "bookingpress_user_firstname, bookingpress_user_lastname, bookingpress_customer_full_name, "
                       "bookingpress_user_email, bookingpress_user_phone, bookingpress_user_country_phone, "
                       "bookingpress_user_country_dial_code) VALUES (%s, '', 1, 2, %s, %s, %s, %s, %s, %s, 'fr', '33')",
                       (c, f"{given} {family}", given, family, f"{given} {family}", f"client{c}@mail.example.fr",
                        phone))
        customers.append((c, given, family, phone))
    truth: dict[str, dict[str, Any]] = {}
    zone = ZoneInfo(ZONE)
    copied = ("bookingpress_customer_id, bookingpress_customer_name, bookingpress_customer_phone, "
              "bookingpress_customer_firstname, bookingpress_customer_lastname, bookingpress_customer_country, "
              "bookingpress_customer_phone_dial_code, bookingpress_customer_email, bookingpress_service_id, "
              "bookingpress_service_name, bookingpress_service_price, bookingpress_service_currency, "
              "bookingpress_service_duration_val, bookingpress_service_duration_unit, bookingpress_appointment_date, "
              "bookingpress_appointment_end_date, bookingpress_appointment_time, bookingpress_appointment_end_time, "
              "bookingpress_appointment_status, bookingpress_selected_appointment_date, "
              "bookingpress_selected_appointment_end_date, bookingpress_selected_appointment_time, "
              "bookingpress_selected_appointment_end_time")
    for b in range(1, 141):
        customer, given, family, phone = customers[b % 50]
        service = 1 + b % 3
        name, value, unit = SERVICES[service - 1]
        begins = datetime.combine(date.today() + timedelta(days=1 + b % 25), time(9 + b % 8, 15 * (b % 4)))
        ends = begins + timedelta(minutes=value * 60 if unit == "h" else value)
        status = rng.choices([1, 2, 3, 4], [80, 10, 7, 3])[0]
        values = (customer, f"{given} {family}", phone, given, family, "fr", "33", f"client{customer}@mail.example.fr",
                  service, name, 50, "EUR", value, unit, begins.date(), ends.date(), begins.time(), ends.time())
        cursor.execute(f"INSERT INTO wp_bookingpress_entries (bookingpress_entry_id, {copied}) VALUES "
                       f"({', '.join(['%s'] * 24)})", (b, *values, "1", begins.date(), ends.date(), begins.time(),
                                                        ends.time()))
        if b % 7 == 0:  # an abandoned form: an entry, no booking
            continue
        cursor.execute(f"INSERT INTO wp_bookingpress_appointment_bookings (bookingpress_appointment_booking_id, "
                       f"bookingpress_booking_id, bookingpress_entry_id, bookingpress_appointment_timezone, {copied}) "
                       f"VALUES ({', '.join(['%s'] * 27)})", (b, str(1000 + b), b, ZONE, *values, status,
                                                               begins.date(), ends.date(), begins.time(), ends.time()))

        def utc(moment: datetime) -> str:
            return moment.replace(tzinfo=zone).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        truth[str(b)] = {"start": utc(begins), "end": utc(ends), "status": STATUS_LINES[str(status)],
                         "patient": str(customer), "name": f"{given} {family}", "phone": phone,
                         "email": f"client{customer}@mail.example.fr", "zone": ZONE, "type": name}
    return truth


@pytest.mark.mariadb
def test_bookingpress_bookings_not_entries_status_numbers_and_no_doctor(mariadb_database: dict[str, Any],
                                                                       tmp_path: Path, cli: Any) -> None:
    truth, settings, run = real.admin_start(mariadb_database, build, tmp_path, ZONE, "FR", cli)
    before = settings.read_text(encoding="utf-8")
    command = [str(mariadb_database["url"])]
    _, out, _ = run("discover", *command, "--write", expect=1)
    print(out)
    assert "table 'wp_bookingpress_appointment_bookings'" in out, out
    assert "'bookingpress_appointment_status' holds numbers (1, 2, 3, 4) that no table of the database names" in out
    mapping = real.mapping_file(tmp_path)
    assert real.words_mapped(mapping, STATUS_LINES) == len(STATUS_LINES)
    _, out, _ = run("check", expect=1)
    errors = [line for line in out.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "practitioner.external_id: none of the" in errors[0], out
    assert "0 would be quarantined, 1 problem" in out, out
    assert real.data.admin_lines(before, command, edits=len(STATUS_LINES)) <= real.ADMIN_LIMIT + len(STATUS_LINES)
    run("sync", "--once", "--json")
    found = real.data.stored(run)
    assert set(found) == set(truth), sorted(set(found) ^ set(truth))[:10]  # no abandoned entry stored
    assert real.scores(found, truth) == dict.fromkeys(real.scores(found, truth), len(truth))
