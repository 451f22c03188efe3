"""A booking form's answers kept as ONE JSON object per visit in a text column, with no
customers table beside it (a WordPress booking plugin's ``{"Name": ..., "Email": ..., "Phone": ...}``):
discover reads the patient's name, phone and email from the keys whose names and values say so,
and the connector reads that column as JSON. A key named like a phone whose values are no
phones, a JSON list (a form's field definitions) and free text are no person. Schemas built
here, in SQLite files (and PostgreSQL's jsonb), discover run on them."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from clinicsync.connectors.sql_rows import json_text
from clinicsync.sync.discover.sql import discover_sql

ZONE = "America/Chicago"
FIRST = ["Ana", "Luis", "Mary", "Wei", "Grace", "Omar", "Ines", "Tom"]
LAST = ["Ruiz", "Smith", "Chen", "Okafor", "Berg", "Patel"]


def _database(folder: Path, answers: Any, guest_every: int = 0, with_customer: bool = True) -> str:
    path = folder / "booking.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE bookings (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL DEFAULT 0, "
                       "start_at DATETIME, end_at DATETIME, status VARCHAR(16), form TEXT, fields TEXT, note TEXT)"
                       if with_customer else
                       "CREATE TABLE bookings (id INTEGER PRIMARY KEY, start_at DATETIME, end_at DATETIME, "
                       "status VARCHAR(16), form TEXT, fields TEXT, note TEXT)")
    now = datetime.now().replace(microsecond=0, second=0, minute=0)
    definitions = json.dumps([{"field": "Name", "type": "single-text"}, {"field": "Phone", "type": "phone"}])
    for n in range(1, 61):
        start = now + timedelta(days=1 + n % 20, hours=n % 7)
        customer = 0 if guest_every and n % guest_every == 0 else 200 + n % 25
        row = [n, str(start), str(start + timedelta(minutes=30)), "booked", json.dumps(answers(n)), definitions,
               f"note {n}: called back"]
        if with_customer:
            row.insert(1, customer)
        connection.execute(f"INSERT INTO bookings VALUES ({', '.join('?' * len(row))})", row)
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def _person(n: int) -> dict[str, Any]:
    first, last = FIRST[n % len(FIRST)], LAST[n % len(LAST)]
    phone = [f"(312) 555-{1000 + n:04d}", f"312.555.{1000 + n:04d}", f"+1 312 555 {1000 + n:04d}"][n % 3]
    return {"Name": f"{first} {last}", "Email": f"{first.lower()}{n}@mail.example.com", "Phone": phone,
            "Reason": "back pain" if n % 2 else "check-up", "sms_ok": n % 2 == 0}


def test_the_patient_is_read_from_the_keys_of_a_json_text_column(tmp_path: Path) -> None:
    proposal = discover_sql(_database(tmp_path, _person), stored_times="local", clinic_zone=ZONE, region="US")
    fields = (proposal.mapping or {})["fields"]
    assert fields["patient.name"]["from"] == "form.Name", fields
    assert fields["patient.phone"]["from"] == "form.Phone", fields
    assert fields["patient.email"]["from"] == "form.Email", fields
    assert fields["patient.external_id"]["from"] == "customer_id", fields
    assert proposal.connector["json_columns"] == ["form"], proposal.connector
    assert "fields" in proposal.unplaced and "note" in proposal.unplaced  # a JSON list, free text: no person
    why = next(g.why for g in proposal.guesses if g.field == "patient.phone")
    assert "'form': 50 of 50 sampled values are JSON objects; key 'Phone'" in why, why


def test_without_a_patient_column_the_form_email_names_the_patient(tmp_path: Path) -> None:
    proposal = discover_sql(_database(tmp_path, _person, with_customer=False), stored_times="local",
                            clinic_zone=ZONE, region="US")
    fields = (proposal.mapping or {})["fields"]
    assert fields["patient.external_id"] == {"from": "form.Email"}, fields
    assert fields["patient.phone"]["from"] == "form.Phone", fields


def test_a_guest_zero_is_no_patient_the_form_contact_is(tmp_path: Path) -> None:
    """0 in the customer column (a guest without an account) names nobody: read as NULL, and the
    visit's patient is the form's email, so two guests are never one patient."""
    proposal = discover_sql(_database(tmp_path, _person, guest_every=4), stored_times="local", clinic_zone=ZONE,
                            region="US")
    fields = (proposal.mapping or {})["fields"]
    assert fields["patient.external_id"] == {"from": ["customer_id", "form.Email"]}, fields
    assert "NULLIF(a.customer_id, 0) AS customer_id" in proposal.connector["query"], proposal.connector["query"]
    assert any("'customer_id' is 0 on" in n for n in proposal.notes), proposal.notes


def test_keys_whose_values_are_no_phone_or_name_are_not_placed(tmp_path: Path) -> None:
    """A JSON column of a booking's settings: a `Phone` key holding yes/no, a `Name` holding the
    visit type. Named like a person, valued like none: nothing is placed, and the note says so."""
    proposal = discover_sql(_database(tmp_path, lambda n: {"Phone": "yes" if n % 2 else "no", "Email": n % 3 == 0,
                                                           "Color": "#1788FB"}),
                            stored_times="local", clinic_zone=ZONE, region="US")
    fields = (proposal.mapping or {})["fields"]
    assert not {"patient.phone", "patient.email"} & set(fields), fields
    assert "json_columns" not in proposal.connector
    assert any("'form' holds JSON objects" in n and "none of them reads as the patient's" in n
               for n in proposal.notes), proposal.notes


def test_the_connector_reads_json_text_as_its_object() -> None:
    assert json_text('{"Phone": "312 555 0100"}') == {"Phone": "312 555 0100"}
    assert json_text(' [1, 2]') == [1, 2]
    assert json_text("{not json") == "{not json"
    assert json_text("Ana Ruiz") == "Ana Ruiz" and json_text(None) is None and json_text(7) == 7


@pytest.mark.postgres
def test_a_jsonb_column_of_form_answers_on_postgresql(postgres_url: str) -> None:
    """PostgreSQL's jsonb comes to the reader as an object, not text: its keys are read all the same."""
    engine = create_engine(postgres_url)
    now = datetime.now().replace(microsecond=0, second=0, minute=0)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE bookings (id INTEGER PRIMARY KEY, customer_id INTEGER, "
                                "start_at TIMESTAMP, end_at TIMESTAMP, status VARCHAR(16), answers JSONB)"))
        for n in range(1, 41):
            start = now + timedelta(days=1 + n % 20, hours=n % 7)
            connection.execute(text("INSERT INTO bookings VALUES (:n, :c, :s, :e, 'booked', CAST(:a AS JSONB))"),
                               {"n": n, "c": 300 + n % 15, "s": start, "e": start + timedelta(minutes=30),
                                "a": json.dumps(_person(n))})
    engine.dispose()
    proposal = discover_sql(postgres_url, stored_times="local", clinic_zone=ZONE, region="US")
    fields = (proposal.mapping or {})["fields"]
    assert fields["patient.phone"]["from"] == "answers.Phone", fields
    assert fields["patient.name"]["from"] == "answers.Name", fields


def test_a_doctors_profile_json_is_not_the_patient(tmp_path: Path) -> None:
    """The doctor's row keeps its own JSON profile (name, email, phone): joined for the doctor,
    it is never read as the patient's contact."""
    path = tmp_path / "staff.db"
    connection = sqlite3.connect(path)
    connection.executescript("CREATE TABLE doctors (id INTEGER PRIMARY KEY, name VARCHAR(60), profile TEXT);"
                             "CREATE TABLE bookings (id INTEGER PRIMARY KEY, doctor_id INTEGER REFERENCES "
                             "doctors(id), start_at DATETIME, end_at DATETIME, status VARCHAR(16));")
    connection.executemany("INSERT INTO doctors VALUES (?, ?, ?)",
                           [(d, f"Dr. Doc{d}", json.dumps(_person(d))) for d in range(1, 9)])
    now = datetime.now().replace(microsecond=0, second=0, minute=0)
    for n in range(1, 61):
        start = now + timedelta(days=1 + n % 20, hours=n % 7)
        connection.execute("INSERT INTO bookings VALUES (?, ?, ?, ?, 'booked')",
                           (n, 1 + n % 8, str(start), str(start + timedelta(minutes=30))))
    connection.commit()
    connection.close()
    proposal = discover_sql(f"sqlite:///{path}", stored_times="local", clinic_zone=ZONE, region="US")
    fields = (proposal.mapping or {})["fields"]
    assert not any(f.startswith("patient.") and "profile" in str(s) for f, s in fields.items()), fields
    assert "json_columns" not in proposal.connector
