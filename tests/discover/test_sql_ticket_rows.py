"""Classes a ticketing tool's booking brings to `discover` (its real shape: test_real_pretix.py),
each on a small SQLite schema of other names: one row per person who comes (a ticket: the
holder's name and email, no date of its own) referring to the dated sitting it books (no
contact) and to the purchase it belongs to (the buyer's email and phone, one purchase for a
family's tickets)."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from clinicsync.sync.discover.sql import discover_sql

ZONE = "Europe/Vienna"
DDL = """
CREATE TABLE shows (id INTEGER PRIMARY KEY, title TEXT NOT NULL, opens DATETIME NOT NULL, closes DATETIME);
CREATE TABLE sittings (id INTEGER PRIMARY KEY, show_id INTEGER NOT NULL REFERENCES shows (id), title TEXT NOT NULL,
  place TEXT, begins DATETIME NOT NULL, ends DATETIME);
CREATE TABLE purchases (id INTEGER PRIMARY KEY, show_id INTEGER NOT NULL REFERENCES shows (id), ref TEXT NOT NULL,
  state CHAR(1) NOT NULL, buyer_email TEXT, buyer_phone TEXT, placed DATETIME NOT NULL, cancelled_at DATETIME);
CREATE TABLE offers (id INTEGER PRIMARY KEY, show_id INTEGER NOT NULL REFERENCES shows (id), name TEXT NOT NULL);
CREATE TABLE tickets (id INTEGER PRIMARY KEY, purchase_id INTEGER NOT NULL REFERENCES purchases (id),
  sitting_id INTEGER NOT NULL REFERENCES sittings (id), offer_id INTEGER NOT NULL REFERENCES offers (id),
  holder_name TEXT, holder_email TEXT,
  cancelled BOOLEAN NOT NULL DEFAULT 0, valid_until DATETIME, attached_to_id INTEGER REFERENCES tickets (id));
CREATE TABLE show_options (id INTEGER PRIMARY KEY, show_id INTEGER NOT NULL REFERENCES shows (id), key TEXT NOT NULL,
  value TEXT NOT NULL);
"""
GIVEN = ["Anna", "Bernd", "Clara", "David", "Eva", "Franz", "Greta", "Hugo", "Ida", "Jakob"]


def build(folder: Path, across: bool = False, keyless: bool = False) -> str:
    """Forty sittings ahead; sixty purchases, every third for two people; states 'w' (most),
    'o' (open), 'x' (withdrawn: a stamp beside it); a ticket voided alone now and then; every
    fifth purchase a cloakroom extra attached to its first ticket (no holder), or, ``across``,
    the first ticket of every fifth purchase naming the one of the purchase before (a rebooking,
    no extra). ``keyless``: the tables declare no foreign key."""
    path = folder / "tickets.db"
    connection = sqlite3.connect(path)
    connection.executescript(re.sub(r" REFERENCES \w+ \(id\)", "", DDL) if keyless else DDL)
    now = datetime.now().replace(microsecond=0, second=0, minute=0)
    connection.execute("INSERT INTO shows VALUES (1, ?, ?, NULL)",
                       (json.dumps({"de": "Führung", "en": "Guided tour"}), now - timedelta(days=30)))
    connection.executemany("INSERT INTO show_options (show_id, key, value) VALUES (1, ?, ?)",
                           [("locale", "de"), ("timezone", "Europe/Vienna"), ("max_tickets", "4")])
    connection.executemany("INSERT INTO offers VALUES (?, 1, ?)",
                           [(1, json.dumps({"de": "Erwachsene", "en": "Adult"})),
                            (2, json.dumps({"de": "Kinder", "en": "Child"})),
                            (3, json.dumps({"de": "Garderobe", "en": "Cloakroom"}))])
    for s in range(1, 41):
        begins = now + timedelta(days=1 + s // 8, hours=s % 8)
        connection.execute("INSERT INTO sittings VALUES (?, 1, ?, ?, ?, ?)",
                           (s, json.dumps({"de": "Führung", "en": "Guided tour"}),
                            json.dumps({"de": "Halle A" if s % 2 else "Halle B", "en": "Hall"}), begins,
                            begins + timedelta(minutes=45)))
    ticket, firsts = 0, {}
    for p in range(1, 61):
        state = "x" if p % 11 == 3 else "o" if p % 7 == 2 else "w"
        connection.execute("INSERT INTO purchases VALUES (?, 1, ?, ?, ?, ?, ?, ?)",
                           (p, f"R{p:04d}", state, f"buyer{p}@mail.example", f"+4366412345{p:02d}",
                            now - timedelta(days=3, hours=p), now - timedelta(days=1) if state == "x" else None))
        for k in range(2 if p % 3 == 0 else 1):
            ticket += 1
            firsts.setdefault(p, ticket)
            before = firsts[p - 1] if across and k == 0 and p % 5 == 0 else None
            connection.execute("INSERT INTO tickets VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                               (ticket, p, 1 + p % 40, 1 + k, f"{GIVEN[ticket % 10]} Huber{ticket}",
                                f"holder{ticket}@mail.example" if k == 0 and p % 2 else None,
                                k == 1 and p % 9 == 0, before))
        if p % 5 == 0 and not across:
            ticket += 1
            connection.execute("INSERT INTO tickets VALUES (?, ?, ?, 3, NULL, NULL, 0, NULL, ?)",
                               (ticket, p, 1 + p % 40, firsts[p]))
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def _proposal(tmp_path: Path, table: str | None = "tickets") -> Any:
    """The proposal for the tickets (named, as ``--table`` does: each rule below is judged on its
    own, whatever the picker does), or for the database as a whole (``table`` None)."""
    return discover_sql(build(tmp_path), name="tickets", timezone=ZONE, region="AT", stored_times="local",
                        table=table)


def test_the_visits_are_the_person_rows_that_book_a_dated_row(tmp_path: Path) -> None:
    """The tickets are the visits (their holder's email, no date), their start the sitting's:
    the sitting (dates, no contact, no person) and the purchase (its placing date, the buyer's
    contact) are not. Before: the sittings were taken for the visits, nobody's."""
    proposal = _proposal(tmp_path, None)
    fields, query = proposal.mapping["fields"], proposal.connector["query"]
    assert "FROM tickets AS a" in query, query
    assert query.split(f" AS {fields['start']['from']}")[0].endswith(".begins"), query


def test_the_person_row_is_the_patient_with_the_bookers_contact_behind_its_own(tmp_path: Path) -> None:
    """No table names the patient: each ticket is one person (its holder's name), who they are
    their email (their own, else the buyer's) with their name; the phone is the buyer's on the
    purchase the tickets belong to. Before: no patient id, so every patient field was dropped."""
    fields = _proposal(tmp_path).mapping["fields"]
    assert fields["patient.name"] == {"from": "holder_name"}, fields
    assert fields["patient.email"] == {"from": ["holder_email", "purchase_buyer_email"]}, fields
    assert fields["patient.phone"] == {"from": "purchase_buyer_phone"}, fields
    assert fields["patient.external_id"] == {"from": "patient_key"}, fields


def test_the_bookings_status_is_its_peoples_and_a_letter_read_from_its_stamp(tmp_path: Path) -> None:
    """The purchase's state is each ticket's, but a ticket cancelled alone stays cancelled; of
    its one-letter codes, 'x' (every such row, and none other, has ``cancelled_at``) is read as
    cancelled, 'o' and 'w' asked with a note. Before: the state was refused (a joined row's),
    and every ticket of a withdrawn purchase stayed booked."""
    proposal = _proposal(tmp_path)
    query = proposal.connector["query"]
    purchase = query.split("LEFT JOIN purchases AS ")[1].split(" ")[0]
    assert f"= 'booked' THEN {purchase}.state ELSE" in query, query
    assert proposal.mapping["status_map"] == {"x": "cancelled", "cancelled": "cancelled"}, proposal.mapping
    assert any("one-letter codes (o, w)" in n for n in proposal.notes), proposal.notes


def test_labels_kept_as_translations_are_read_in_the_clinics_language(tmp_path: Path) -> None:
    """A JSON object by language is a place's words: the clinic's language (AT: de) first.
    Before: 0% words, the place left out."""
    proposal = _proposal(tmp_path)
    assert proposal.mapping["fields"]["location"] == {"from": ["sitting_place.de", "sitting_place.en"]}
    assert "sitting_place" in proposal.connector["json_columns"]


def test_without_a_doctor_the_calendar_is_the_named_row_the_slots_belong_to(tmp_path: Path) -> None:
    """No practitioner: the show the sittings belong to is the calendar (its id the sitting's
    reference, its name in the clinic's language), not one calendar per sitting. Before: no
    owner, and `check` failed on calendars that reach nobody."""
    proposal = _proposal(tmp_path)
    fields, query = proposal.mapping["fields"], proposal.connector["query"]
    assert fields["practitioner.external_id"] == {"from": "sitting_show_id"}, fields
    assert fields["practitioner.name"] == {"from": ["calendar_name.de", "calendar_name.en"]}, fields
    assert "JOIN shows AS" in query, query


def test_the_zone_kept_as_a_settings_row_of_the_show_is_the_visits(tmp_path: Path) -> None:
    """The show's options are key/value rows; its 'timezone' row (an IANA zone) is each visit's
    zone, read per visit from its own show. Before: no zone found, the clinic's for every visit."""
    proposal = _proposal(tmp_path)
    assert proposal.mapping["fields"]["timezone"] == {"from": "visit_zone", "on_invalid": "drop"}
    assert "FROM show_options AS z WHERE z.show_id = " in proposal.connector["query"]


def test_the_offer_a_ticket_refers_to_is_the_visits_type(tmp_path: Path) -> None:
    """The offer each ticket is for (adult, child: a table named for what is sold, its label
    'name' in translations) is the visit's type. Before: no column's name said type, none read."""
    proposal = _proposal(tmp_path)
    assert proposal.mapping["fields"]["type"] == {"from": ["offer_name.de", "offer_name.en"]}, proposal.mapping


def _read(url: str, query: str) -> list[Any]:
    """The rows the proposed query reads over a year from now."""
    engine = create_engine(url)
    with engine.connect() as connection:
        now = datetime.now()
        rows = list(connection.execute(text(query), {"window_start": str(now - timedelta(days=1)),
                                                    "window_end": str(now + timedelta(days=365))}))
    engine.dispose()
    return rows


@pytest.mark.parametrize("keyless", [False, True])
def test_a_row_attached_to_another_of_the_same_booking_is_an_add_on_not_a_visit(tmp_path: Path,
                                                                                 keyless: bool) -> None:
    """A ticket that refers to another ticket of the same purchase (a cloakroom extra attached
    to it, no holder) is no visit: left out of the query, with the note saying why; the tickets
    it is attached to stay; without declared keys alike (every set value is another ticket of
    the same purchase). Before: each extra was a visit of its own, nameless."""
    url = build(tmp_path, keyless=keyless)
    proposal = discover_sql(url, name="tickets", timezone=ZONE, region="AT", stored_times="local", table="tickets")
    query = proposal.connector["query"]
    assert "NOT EXISTS (SELECT 1 FROM tickets AS s WHERE s.id = a.attached_to_id AND s.purchase_id = " \
           "a.purchase_id" in query, query
    assert any("12 of 92 'tickets' rows refer by 'attached_to_id' to another row of the same 'purchases' row" in n
               and "left out of the query" in n for n in proposal.notes), proposal.notes
    ids = {row.id for row in _read(url, query)}
    connection = sqlite3.connect(tmp_path / "tickets.db")
    extras = {r[0] for r in connection.execute("SELECT id FROM tickets WHERE attached_to_id IS NOT NULL")}
    attached = {r[0] for r in connection.execute("SELECT attached_to_id FROM tickets WHERE attached_to_id > 0")}
    connection.close()
    assert len(extras) == 12 and ids == set(range(1, 93)) - extras and attached <= ids, (ids, extras)


def test_a_row_naming_a_row_of_another_booking_stays_a_visit(tmp_path: Path) -> None:
    """A ticket that names a ticket of another purchase (a rebooking naming the old one) is a
    visit of its own: nothing is left out."""
    proposal = discover_sql(build(tmp_path, across=True), name="tickets", timezone=ZONE, region="AT",
                            stored_times="local", table="tickets")
    assert "NOT EXISTS" not in proposal.connector["query"], proposal.connector["query"]
    assert not any("add-on" in n for n in proposal.notes), proposal.notes
