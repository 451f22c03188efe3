"""A visit whose people are only inside PHP-serialized text (phptext.py): discover places no
patient it could not read at sync time, and says where the patient's name and email are."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from clinicsync.sync.discover.sql import discover_sql
from tests.discover.kronolith_data import php


def test_serialized_attendees_are_named_as_where_the_patient_is(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "diary.db")
    connection.execute("CREATE TABLE booking (id INTEGER PRIMARY KEY, starts_at TIMESTAMP NOT NULL, "
                       "ends_at TIMESTAMP NOT NULL, state TEXT, guests TEXT)")
    start = (datetime.now() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    for n in range(1, 61):
        email = f"guest{n}@mail.test"
        guests = php({email: ("Guest", {"e": email, "n": f"Given{n} Family{n}", "r": 2})})
        at = start + timedelta(days=n // 8, minutes=30 * (n % 8))
        connection.execute("INSERT INTO booking VALUES (?, ?, ?, 'confirmed', ?)",
                           (n, at, at + timedelta(minutes=30), guests))
    connection.commit()
    connection.close()
    proposal = discover_sql(f"sqlite:///{tmp_path / 'diary.db'}", name="diary", clinic_zone="Europe/Vienna",
                            stored_times="local")
    fields = (proposal.mapping or {})["fields"]
    assert "patient.email" not in fields and "patient.name" not in fields, fields
    said = [n for n in proposal.notes if n.startswith("patient.email: left out: 'guests'")]
    assert said and "PHP-serialized" in said[0] and "50 of 50 sampled values" in said[0], proposal.notes
