"""A booking's dates kept as rows of their own, each with a status of its own beside the
booking's (not any product's tables): ``bookings`` (the patient, the doctor, the series' first
start and last end, a status word) and ``booking_dates`` (keyed by the booking and the date's
start, its end, a status word: ``booked`` on most rows, ``cancelled`` on a date taken out of its
series alone). Each date is a visit (occurrences.py); its status is the date's own where the date
says something the rest of its rows do not (a cancelled session of a weekly series), else the
booking's (a pending or cancelled booking: every date of it) — occurrencestatus.py. Run on
PostgreSQL and MariaDB, and on SQLite: discover --write, sync --once, every visit's status."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow

server = ehr.server  # the fixture: an empty database in each of the two servers

DDL = """
CREATE TABLE patients (id INTEGER PRIMARY KEY, full_name VARCHAR(80) NOT NULL, mobile VARCHAR(30));
CREATE TABLE doctors (id INTEGER PRIMARY KEY, full_name VARCHAR(80) NOT NULL, email VARCHAR(80));
CREATE TABLE bookings (id INTEGER PRIMARY KEY, patient_id INTEGER NOT NULL REFERENCES patients(id),
  doctor_id INTEGER NOT NULL REFERENCES doctors(id), first_start {TS} NOT NULL, last_end {TS} NOT NULL,
  status VARCHAR(20) NOT NULL);
CREATE TABLE booking_dates (booking_id INTEGER NOT NULL REFERENCES bookings(id), date_start {TS} NOT NULL,
  date_end {TS} NOT NULL, status VARCHAR(20) NOT NULL, PRIMARY KEY (booking_id, date_start));
"""
SERIES = 24  # bookings: one in three a weekly series of four dates


def _fill(cursor: Any, dialect: str) -> follow.Want:
    """The tables and rows; each date's status as the store must hold it, by the visit's id."""
    follow.create(cursor, dialect, DDL)
    cursor.executemany("INSERT INTO patients VALUES (%s, %s, %s)",
                       [(p, f"Given{p} Family{p}", f"617 555 {1000 + p}") for p in range(1, 31)])
    cursor.executemany("INSERT INTO doctors VALUES (%s, %s, %s)",
                       [(1, "Dr. Ines Varga", "i.varga@clinic.example"), (2, "Dr. Tomas Reyes", None)])
    want: follow.Want = {}
    bookings, dates = [], []
    for n, start in enumerate(follow.slots(SERIES, seed=41)):
        weeks = 4 if n % 3 == 0 else 1
        status = "pending" if n % 5 == 1 else "cancelled" if n % 7 == 2 else "booked"
        starts = [start + timedelta(weeks=w) for w in range(weeks)]
        bookings.append((n + 1, 1 + (n * 7 + 3) % 30, 1 + n % 2, starts[0], starts[-1] + timedelta(minutes=30), status))
        for w, at in enumerate(starts):
            alone = "cancelled" if weeks == 4 and w == 2 and status == "booked" else status
            own = "cancelled" if status == "cancelled" or alone == "cancelled" else "booked"
            dates.append((n + 1, at, at + timedelta(minutes=30), own))
            want[f"{n + 1}{at.strftime('%Y-%m-%d %H:%M:%S')}"] = {"status": alone}
    cursor.executemany("INSERT INTO bookings VALUES (%s, %s, %s, %s, %s, %s)", bookings)
    cursor.executemany("INSERT INTO booking_dates VALUES (%s, %s, %s, %s)", dates)
    return want


def _wrong(found: dict[str, dict[str, Any]], want: follow.Want) -> list[tuple[str, str, str]]:
    """The visits whose status differs: matched by booking and start, whatever text the id holds."""
    norm = {"".join(c for c in k if c.isdigit())[:13]: w["status"] for k, w in want.items()}
    got = {"".join(c for c in k if c.isdigit())[:13]: v["status"] for k, v in found.items()}
    assert len(got) == len(found) == len(want), (len(found), len(want))
    return [(k, norm.get(k, "?"), s) for k, s in got.items() if norm.get(k) != s]


def test_a_date_cancelled_alone_is_cancelled(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    want, fields, found = follow.built_and_synced(server, _fill, tmp_path, cli)
    assert fields["start"] == {"from": "date_start"}, fields
    assert _wrong(found, want) == []
    assert sum(v["status"] == "cancelled" for v in found.values()) == sum(
        w["status"] == "cancelled" for w in want.values())


class _SqliteCursor:
    """The test's SQL (``%s`` placeholders) on a SQLite file."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, args: Any = ()) -> None:
        self.db.execute(sql.replace("%s", "?"), args)

    def executemany(self, sql: str, rows: Any) -> None:
        self.db.executemany(sql.replace("%s", "?"), [tuple(str(v) if hasattr(v, "isoformat") else v for v in r)
                                                     for r in rows])


def test_on_sqlite(tmp_path: Path, cli: Any) -> None:
    path = tmp_path / "clinic.sqlite"
    with sqlite3.connect(path) as db:
        want = _fill(_SqliteCursor(db), "postgresql")
    fields, _, found = follow.discover_and_sync(f"sqlite:///{path}", tmp_path, cli)
    assert fields["start"] == {"from": "date_start"}, fields
    assert _wrong(found, want) == []
