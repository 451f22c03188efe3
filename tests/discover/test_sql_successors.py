"""`rescheduled` read from the data on the real PostgreSQL: where the visit table refers to its
own key and rows carrying the word are named by newer rows, discover proposes `replaces` on that
column and maps the word to cancelled (the pair one moved visit); where no row with the word is
named (the product moves the row itself, or keeps no link), it leaves the word unmapped and asks."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from clinicsync.sync.discover.sql import discover_sql
from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow
from tests.discover import sql_support as data
from tests.discover.files_support import check_proposal

DDL = """
CREATE TABLE patients (id serial PRIMARY KEY, name text NOT NULL, phone text NOT NULL);
CREATE TABLE visits (
  id serial PRIMARY KEY, patient_id integer NOT NULL REFERENCES patients(id), starts_at timestamp NOT NULL,
  ends_at timestamp NOT NULL, status text NOT NULL, rescheduled_from integer REFERENCES visits(id),
  updated_at timestamp NOT NULL);
"""


def _source(url: str, linked: bool) -> None:
    start = (datetime.now() + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    with psycopg.connect(url, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(DDL)
        cursor.executemany("INSERT INTO patients (name, phone) VALUES (%s, %s)",
                           [(f"Ana{n} Lopez", f"+34 612 345 {n:03d}") for n in range(30)])
        for n in range(60):
            at = start + timedelta(days=n // 6, minutes=45 * (n % 6))
            cursor.execute("INSERT INTO visits (patient_id, starts_at, ends_at, status, updated_at) "
                           "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                           (1 + n % 30, at, at + timedelta(minutes=30), "rescheduled" if n % 6 == 0 else "scheduled",
                            datetime(2026, 1, 5, 10)))
            old = cursor.fetchone()[0]  # type: ignore[index]
            if n % 6 == 0:  # moved: a newer row at a later time, naming the old one (or not)
                cursor.execute("INSERT INTO visits (patient_id, starts_at, ends_at, status, rescheduled_from, "
                               "updated_at) VALUES (%s, %s, %s, 'scheduled', %s, %s)",
                               (1 + n % 30, at + timedelta(days=1), at + timedelta(days=1, minutes=30),
                                old if linked else None, datetime(2026, 1, 5, 11)))


@pytest.mark.postgres
def test_successor_rows_are_read_from_the_data(postgres_url: str, tmp_path: Path) -> None:
    _source(postgres_url, linked=True)
    proposal = discover_sql(postgres_url, name="moves", timezone="Europe/Madrid")
    assert proposal.mapping is not None
    assert proposal.mapping["fields"]["replaces"] == {"from": "rescheduled_from"}
    assert proposal.mapping["status_map"] == {"scheduled": "booked", "rescheduled": "cancelled"}
    assert any("mark the old row of a move" in n for n in proposal.notes)
    assert not any("left unmapped" in n for n in proposal.notes)
    result = check_proposal(proposal, tmp_path, "Europe/Madrid", "ES")  # the written files load and map
    assert result.sampled == 70 and result.mapped == 70 and not result.quarantined, result.quarantined


@pytest.mark.postgres
def test_without_a_successor_discover_asks(postgres_url: str) -> None:
    _source(postgres_url, linked=False)
    proposal = discover_sql(postgres_url, name="moves", timezone="Europe/Madrid")
    assert proposal.mapping is not None
    assert "replaces" not in proposal.mapping["fields"]
    assert proposal.mapping["status_map"] == {"scheduled": "booked"}
    assert {w.value: w.status for w in proposal.status_words}["rescheduled"] is None
    assert any("'rescheduled' left unmapped" in n for n in proposal.notes)


server = ehr.server  # the fixture: an empty database in each of the two servers

UNLINKED_DDL = """
CREATE TABLE patients (id INT PRIMARY KEY, name VARCHAR(80) NOT NULL, phone VARCHAR(40) NOT NULL);
CREATE TABLE bookings (id INT PRIMARY KEY, patient_id INT NOT NULL REFERENCES patients (id),
                       starts_at {TS} NOT NULL, ends_at {TS} NOT NULL, status VARCHAR(20) NOT NULL,
                       created_at {TS} NOT NULL, updated_at {TS} NOT NULL)
"""


@pytest.mark.parametrize("apart", [timedelta(seconds=1), timedelta(hours=3)], ids=["one-transaction", "hours-apart"])
def test_a_move_kept_as_two_rows_with_no_column_naming_the_old_one(server: ehr.Server, tmp_path: Path, cli: Any,
                                                                   apart: timedelta) -> None:
    """CARE's reschedule: the old booking's status set to 'rescheduled' and a new booking for the
    same patient made in the same transaction; no column names the old row. Read from the
    patients and the stamps, the pair is one visit under the first row's id at the new time.
    A new booking made hours after the old one changed is no successor: discover asks."""
    url, opener, dialect = server
    made = follow.stamp()
    want: follow.Want = {}
    moved: dict[str, str] = {}  # the first row's id -> the new start, as the store shows it
    with opener() as cursor:
        follow.create(cursor, dialect, UNLINKED_DDL)
        cursor.executemany("INSERT INTO patients VALUES (%s, %s, %s)",
                           [(p, f"Ana{p} Lopez", f"617-253-{1000 + p:04d}") for p in range(1, 31)])
        rows, key = [], 0
        for n, start in enumerate(follow.slots(60, 25)):
            key += 1
            p, changed = 1 + n % 30, made + timedelta(hours=n)
            rows.append((key, p, start, start + timedelta(minutes=30), "rescheduled" if n % 6 == 0 else "booked",
                         made - timedelta(days=2), changed))
            want[str(key)] = {"status": "booked", "patient": str(p), "phone": f"+1617253{1000 + p:04d}"}
            if n % 6 == 0:  # the new row, the same patient, a day later
                key += 1
                rows.append((key, p, start + timedelta(days=1), start + timedelta(days=1, minutes=30), "booked",
                             changed + apart, changed + apart))
                moved[str(key - 1)] = data.utc(start + timedelta(days=1), follow.ZONE)
        cursor.executemany("INSERT INTO bookings VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
    if apart > timedelta(minutes=2):
        proposal = discover_sql(url, name="moves", timezone=follow.ZONE)
        assert proposal.mapping is not None and "replaces" not in proposal.mapping["fields"]
        assert any("'rescheduled' left unmapped" in n for n in proposal.notes)
        return
    fields, out, found = follow.discover_and_sync(url, tmp_path, cli, agendas=False)
    assert fields["replaces"] == {"from": "replaces_id"} and "have exactly one new row of the same patient" in out, out
    assert not follow.wrong(found, want, ["status", "patient", "phone"])
    assert len(found) == len(want) and {k: found[k]["start"] for k in moved} == moved
