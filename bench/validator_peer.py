"""W1's fair peer: a hand-written validating import of the same CSV export into SQLite, what a
competent developer would write for one clinic in an afternoon. It is what the
first import's cost is compared with (goal: clinicsync <= 1.5x its CPU), since pandas and the
raw floor validate nothing.

What it checks and does, per row (a bad row goes to a rejects table with its reason):

* **id**: ``appointment_id`` present; rows repeating an id: the last one wins (dedupe);
* **status**: one of a fixed vocabulary (case-folded; ``Booked`` -> booked);
* **dates with zones**: ``start`` as ISO 8601 with an offset, or local ``YYYY-MM-DD HH:MM``
  in the row's ``timezone`` (IANA, else the clinic's); a local time in a DST gap (it does
  not exist: the round trip through UTC moves it) is refused; ``end``, else
  ``duration_minutes``, and the end must be after the start; all stored in UTC;
* **phones** via phonenumbers: parsed with the clinic's region, ``is_valid_number``, stored
  as E.164 (memoized per distinct raw value: a patient's phone repeats on each visit);
* **emails**: a plain shape check;
* **upserts into SQLite**: patients, doctors and appointments by id
  (``INSERT ... ON CONFLICT DO UPDATE``), one transaction;
* **skip by row hash**: each appointment keeps the BLAKE2b hash of its raw row; a row whose
  hash is stored is skipped before it is validated (a re-export costs a hash and a lookup).
"""

from __future__ import annotations

import csv
import hashlib
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

STATUSES = {"scheduled": "booked", "booked": "booked", "confirmed": "booked", "cancelled": "cancelled",
            "completed": "fulfilled", "no-show": "noshow"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
SCHEMA = """
CREATE TABLE IF NOT EXISTS patient (id TEXT PRIMARY KEY, name TEXT, phone TEXT, email TEXT, language TEXT,
                                    channel TEXT);
CREATE TABLE IF NOT EXISTS doctor (id TEXT PRIMARY KEY, name TEXT, email TEXT, location TEXT);
CREATE TABLE IF NOT EXISTS appointment (id TEXT PRIMARY KEY, start_utc TEXT NOT NULL, end_utc TEXT NOT NULL,
    timezone TEXT NOT NULL, status TEXT NOT NULL, type TEXT, patient_id TEXT, doctor_id TEXT, row_hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS reject (line INTEGER, reason TEXT);
"""


class Bad(ValueError):
    """A row that cannot be imported; the message names the field, never its value."""


class Validator:
    def __init__(self, zone: str, region: str) -> None:
        self.zone, self.region = zone, region
        self.zones: dict[str, ZoneInfo] = {}
        self.phones: dict[str, str | None] = {}

    def tz(self, name: str) -> ZoneInfo:
        found = self.zones.get(name)
        if found is None:
            try:
                found = self.zones[name] = ZoneInfo(name)
            except (ValueError, KeyError) as exc:
                raise Bad("timezone: unknown zone") from exc
        return found

    def moment(self, text: str, zone: ZoneInfo, field: str) -> datetime:
        try:
            value = datetime.fromisoformat(text.strip())
        except ValueError:
            raise Bad(f"{field}: not a date and time") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
            if value.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value.replace(tzinfo=None):
                raise Bad(f"{field}: a local time that does not exist (daylight-saving gap)")
        return value.astimezone(UTC)

    def phone(self, text: str) -> str | None:
        if not text.strip():
            return None
        if text in self.phones:
            found = self.phones[text]
        else:
            try:
                number = phonenumbers.parse(text, self.region)
                valid = phonenumbers.is_valid_number(number)
            except phonenumbers.NumberParseException:
                valid = False
            found = self.phones[text] = (phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                                         if valid else None)
        if found is None:
            raise Bad("patient_phone: not a valid phone number")
        return found

    def row(self, r: dict[str, str]) -> tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]:
        """(appointment, patient, doctor) rows, or Bad."""
        if not r["appointment_id"].strip():
            raise Bad("appointment_id: missing")
        status = STATUSES.get(r["status"].strip().lower())
        if status is None:
            raise Bad("status: unknown")
        zone_name = r["timezone"].strip() or self.zone
        zone = self.tz(zone_name)
        start = self.moment(r["start"], zone, "start")
        if r["end"].strip():
            end = self.moment(r["end"], zone, "end")
        else:
            try:
                end = start + timedelta(minutes=int(r["duration_minutes"]))
            except ValueError:
                raise Bad("duration_minutes: missing or not a number") from None
        if end <= start:
            raise Bad("end: not after the start")
        phone = self.phone(r["patient_phone"])
        email = r["patient_email"].strip() or None
        if email is not None and not EMAIL.match(email):
            raise Bad("patient_email: not an email address")
        appointment = (r["appointment_id"].strip(), start.isoformat(), end.isoformat(), zone_name, status,
                       r["type"] or None, r["patient_id"] or None, r["doctor_id"] or None)
        patient = (r["patient_id"], r["patient_name"], phone, email, r["patient_language"], r["patient_channel"])
        doctor = (r["doctor_id"], r["doctor_name"], r["doctor_email"], r["location"])
        return appointment, patient, doctor


def import_file(path: Path, database: Path, zone: str = "America/New_York", region: str = "US") -> dict[str, int]:
    """One import of ``path`` into ``database``; returns what it did."""
    connection = sqlite3.connect(database)
    connection.executescript(SCHEMA)
    stored = dict(connection.execute("SELECT id, row_hash FROM appointment"))
    check = Validator(zone, region)
    latest: dict[str, tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...], bytes]] = {}
    rejects: list[tuple[int, str]] = []
    skipped = 0
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        for line, fields in enumerate(reader, start=2):
            digest = hashlib.blake2b(",".join(fields).encode(), digest_size=16).digest()
            if stored.get(fields[0]) == digest:
                skipped += 1
                continue
            try:
                appointment, patient, doctor = check.row(dict(zip(header, fields, strict=True)))
            except (Bad, ValueError) as exc:
                rejects.append((line, str(exc)))
                continue
            latest[appointment[0]] = (appointment, patient, doctor, digest)  # the last row of an id wins
    with connection:
        connection.executemany("INSERT INTO patient VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                               "name = excluded.name, phone = excluded.phone, email = excluded.email, "
                               "language = excluded.language, channel = excluded.channel",
                               {v[1][0]: v[1] for v in latest.values() if v[1][0]}.values())
        connection.executemany("INSERT INTO doctor VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                               "name = excluded.name, email = excluded.email, location = excluded.location",
                               {v[2][0]: v[2] for v in latest.values() if v[2][0]}.values())
        connection.executemany("INSERT INTO appointment VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO "
                               "UPDATE SET start_utc = excluded.start_utc, end_utc = excluded.end_utc, "
                               "timezone = excluded.timezone, status = excluded.status, type = excluded.type, "
                               "patient_id = excluded.patient_id, doctor_id = excluded.doctor_id, "
                               "row_hash = excluded.row_hash", [(*a, h) for a, _, _, h in latest.values()])
        connection.executemany("INSERT INTO reject VALUES (?, ?)", rejects)
    connection.close()
    return {"written": len(latest), "rejected": len(rejects), "skipped": skipped}
