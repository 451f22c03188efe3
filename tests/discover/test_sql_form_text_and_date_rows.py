"""Shapes of a booking kept as a form and its dates, each on a SQLite schema built here from the
class (no product's tables; Booking Calendar has them all: tests/discover/test_real_wp_booking_calendar.py):

* the visit's dates as rows of their own, one per boundary, each naming the visit, the start's
  second 01 and the end's 02 (daterows.py): the visits are the rows named, their start the
  first date and their end the last, to the minute, never a visit per date nor a question;
* the person who booked as items of one text column, ``k^v`` items joined by ``~`` (formtext.py):
  the name, surname, email and phone read as columns;
* a 0/1 ``approved`` flag the dates repeat (approvalflags.py): booked on 1, pending on 0;
* a bare ``trash`` flag (soft_delete.py): the row is left out, as a ``trashed`` one.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from clinicsync.sync.discover.formtext import fields, shape
from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE requests (request_id INTEGER PRIMARY KEY, form TEXT, kind INTEGER NOT NULL DEFAULT 1,
  modified DATETIME, trash INTEGER NOT NULL DEFAULT 0);
CREATE TABLE request_dates (request_dates_id INTEGER PRIMARY KEY, request_id INTEGER NOT NULL,
  request_date DATETIME NOT NULL, approved INTEGER NOT NULL DEFAULT 0);
"""
VISITS = 40


def build(path: Path) -> dict[str, dict[str, Any]]:
    """Forty requests ahead, each two date rows (:01 the start, :02 the end); every fifth waits
    for approval, every seventh is in the trash."""
    now = datetime.now().replace(second=0, microsecond=0)
    truth: dict[str, dict[str, Any]] = {}
    with sqlite3.connect(path) as db:
        db.executescript(DDL)
        for n in range(1, VISITS + 1):
            start = (now + timedelta(days=1 + n % 20)).replace(hour=8 + n % 9, minute=15 * (n % 4))
            form = "~".join([f"selectbox^slot1^{start:%H:%M}", f"text^name1^Ana{n}", f"text^secondname1^Ruiz{n}",
                             f"text^email1^ana{n}@mail.example.com", f"text^phone1^(312) 555-{1000 + n}",
                             "textarea^details1^Checkup"])
            db.execute("INSERT INTO requests VALUES (?, ?, 1, ?, ?)",
                       (n, form, (now - timedelta(days=n)).isoformat(" "), int(n % 7 == 0)))
            approved = int(n % 5 != 0)
            db.executemany("INSERT INTO request_dates (request_id, request_date, approved) VALUES (?, ?, ?)",
                           [(n, start.replace(second=1).isoformat(" "), approved),
                            (n, (start + timedelta(minutes=45)).replace(second=2).isoformat(" "), approved)])
            truth[str(n)] = {"start": start, "approved": approved, "trash": n % 7 == 0, "name": f"Ana{n} Ruiz{n}"}
    return truth


def test_dates_kept_as_rows_give_the_visit_its_start_and_end(tmp_path: Path) -> None:
    build(tmp_path / "db.sqlite")
    proposal = discover_sql(f"sqlite:///{tmp_path / 'db.sqlite'}", name="requests", stored_times="local",
                            clinic_zone="America/Chicago")
    fields_ = (proposal.mapping or {})["fields"]
    assert "FROM requests AS a" in proposal.connector["query"], proposal.connector["query"]
    rows = _read(tmp_path, proposal.connector["query"])
    start, end = fields_["start"]["from"], fields_["end"]["from"]
    assert {r[start] for r in rows} and all(r[start].endswith(":00") and r[end].endswith(":00") for r in rows)


def test_a_form_text_column_gives_the_person(tmp_path: Path) -> None:
    build(tmp_path / "db.sqlite")
    proposal = discover_sql(f"sqlite:///{tmp_path / 'db.sqlite'}", name="requests", stored_times="local",
                            clinic_zone="America/Chicago")
    fields_ = (proposal.mapping or {})["fields"]
    assert fields_["patient.phone"] == {"from": "phone"}
    assert fields_["patient.email"] == {"from": "email"}
    rows = _read(tmp_path, proposal.connector["query"])
    assert {r["phone"] for r in rows} >= {"(312) 555-1001"} and all(r["name"].startswith("Ana") for r in rows)
    assert all(r["secondname"].startswith("Ruiz") for r in rows)


def test_an_approval_flag_is_the_status_and_a_trash_flag_leaves_the_row_out(tmp_path: Path) -> None:
    truth = build(tmp_path / "db.sqlite")
    proposal = discover_sql(f"sqlite:///{tmp_path / 'db.sqlite'}", name="requests", stored_times="local",
                            clinic_zone="America/Chicago")
    mapping = proposal.mapping or {}
    status = mapping["fields"]["status"]["from"]
    assert mapping["status_map"] == {"booked": "booked", "pending": "pending"}
    rows = _read(tmp_path, proposal.connector["query"])
    ids = {str(r["request_id"]) for r in rows}
    assert ids == {k for k, t in truth.items() if not t["trash"]}
    assert all(r[status] == ("booked" if truth[str(r["request_id"])]["approved"] else "pending") for r in rows)


def test_form_text_shape_and_fields() -> None:
    values = ["a^name1^Ana~a^phone1^555~a^email1^x@y.z", "a^name2^Bo~a^phone2^556~a^email2^b@y.z", None]
    assert shape(values) == ("~", "^", 3)
    assert fields(values, "~", "^")["name"] == (["name1", "name2"], ["Ana", "Bo", None])
    assert shape(["name=Ana&phone=555&email=a@b.c", "name=Bo&phone=556&email=b@b.c"]) == ("&", "=", 2)
    assert shape(['{"name": "Ana"}', '{"name": "Bo"}']) is None
    assert shape(["Follow-up visit", "First visit, back pain"]) is None


def _read(folder: Path, query: str) -> list[dict[str, Any]]:
    """The proposed query's rows over a wide window, by output name."""
    with sqlite3.connect(folder / "db.sqlite") as db:
        db.row_factory = sqlite3.Row
        cursor = db.execute(query, {"window_start": "1900-01-01 00:00:00", "window_end": "2200-01-01 00:00:00"})
        return [dict(r) for r in cursor.fetchall()]
