"""A booking plugin that keeps every form entry (paid, unpaid, abandoned) and copies an entry's
day and times onto the booking it becomes (``appointment_bookings.entry_id`` -> ``entries``),
all its tables named with the product's own word (``…bookingpress_entries``): the bookings are
the visits, the entries give way to the booking that confirms them. The booking's own copy of
the customer's phone and email is read first, then the customer's own row; the entry's copy (a
table that is not the patient's) is left out of the chain, not the whole field. Built here in
SQLite from the class (no product's tables)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE shopbook_customers (shopbook_customer_id INTEGER PRIMARY KEY, shopbook_firstname VARCHAR(255),
  shopbook_lastname VARCHAR(255), shopbook_email VARCHAR(255), shopbook_phone VARCHAR(63));
CREATE TABLE shopbook_entries (shopbook_entry_id INTEGER PRIMARY KEY, shopbook_customer_id INTEGER,
  shopbook_customer_phone VARCHAR(255), shopbook_customer_email VARCHAR(255), shopbook_service_name VARCHAR(255),
  shopbook_appointment_date DATE NOT NULL, shopbook_appointment_time TIME NOT NULL,
  shopbook_appointment_end_time TIME NOT NULL, shopbook_appointment_status VARCHAR(20));
CREATE TABLE shopbook_appointment_bookings (shopbook_appointment_booking_id INTEGER PRIMARY KEY,
  shopbook_entry_id INTEGER, shopbook_customer_id INTEGER, shopbook_customer_phone VARCHAR(255),
  shopbook_customer_email VARCHAR(255), shopbook_service_name VARCHAR(255), shopbook_appointment_date DATE NOT NULL,
  shopbook_appointment_time TIME NOT NULL, shopbook_appointment_end_time TIME NOT NULL,
  shopbook_appointment_status VARCHAR(20))
"""


def test_the_booking_that_confirms_an_entry_is_the_visit(tmp_path: Path) -> None:
    path = tmp_path / "plugin.db"
    connection = sqlite3.connect(path)
    connection.executescript(DDL)
    for c in range(1, 41):
        connection.execute("INSERT INTO shopbook_customers VALUES (?, ?, ?, ?, ?)",
                           (c, f"Given{c}", f"Family{c}", f"client{c}@example.org", f"+1312555{2000 + c:04d}"))
    today = datetime.now().replace(minute=0, second=0, microsecond=0)
    for n in range(1, 101):
        start = today + timedelta(days=1 + n % 20, hours=n % 6)
        day, begins, ends = (start.date().isoformat(), start.strftime("%H:%M:%S"),
                             (start + timedelta(minutes=30)).strftime("%H:%M:%S"))
        customer = 1 + n % 40
        phone = f"+1312555{2000 + customer:04d}" if n % 6 else None  # a booking typed without its phone
        connection.execute("INSERT INTO shopbook_entries VALUES (?, ?, ?, ?, 'Consultation', ?, ?, ?, '1')",
                           (n, customer, phone, f"client{customer}@example.org", day, begins, ends))
        if n % 5:  # every fifth entry abandoned: no booking
            connection.execute("INSERT INTO shopbook_appointment_bookings VALUES (?, ?, ?, ?, ?, 'Consultation', ?, ?, "
                               "?, ?)", (n, n, customer, phone, f"client{customer}@example.org", day, begins, ends,
                                         "approved" if n % 7 else "cancelled"))
    connection.commit()
    connection.close()
    proposal = discover_sql(f"sqlite:///{path}", stored_times="local", clinic_zone="America/Chicago", region="US")
    assert "FROM shopbook_appointment_bookings AS a" in proposal.connector["query"], proposal.connector["query"]
    fields = (proposal.mapping or {})["fields"]
    assert fields["patient.phone"]["from"][0] == "shopbook_customer_phone", fields.get("patient.phone")
    assert not any("entr" in column for column in fields["patient.phone"]["from"]), fields["patient.phone"]
    assert "patient.email" in fields, fields
