"""A product that moves a visit by booking a new row for the same patient, in the same save that
marks the old row `rescheduled`, and names the old row nowhere (no `rescheduled_from`): discover
reads the pattern from the data (the old row's change stamp and the new row's creation stamp
agree, for every moved row) and proposes `replaces` on the old row's id found by a subquery, in
the real PostgreSQL and MariaDB. The first sync stores each moved visit once, at its new time;
a move made afterwards is one moved visit (no cancellation, no new booking). Where only some
moved rows have such a successor, discover maps nothing and says what it found."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from clinicsync.sync.discover.sql import discover_sql
from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow
from tests.discover import real_ehr_support as real

server = ehr.server  # the fixture: an empty database in each of the two servers

DDL = """
CREATE TABLE patients (id INT PRIMARY KEY, first_name VARCHAR(50) NOT NULL, last_name VARCHAR(50) NOT NULL,
                       phone VARCHAR(40) NOT NULL, updated_at {TS} NOT NULL);
CREATE TABLE visits (id INT PRIMARY KEY, patient_id INT NOT NULL REFERENCES patients (id), starts_at {TS} NOT NULL,
                     ends_at {TS} NOT NULL, status VARCHAR(20) NOT NULL, created_at {TS} NOT NULL,
                     updated_at {TS} NOT NULL)
"""


def _fill(opener: Any, dialect: str, moves: int) -> dict[str, Any]:
    """Twenty patients, 36 visits; the first ``moves`` of them moved once: the old row marked
    `rescheduled` and a new row (id + 100) booked a day later, its creation stamp the old row's
    change stamp plus one second (one save). Returns the expected start of each visit by id."""
    made = follow.stamp()
    starts = follow.slots(36, 65)
    want = {}
    with opener() as cursor:
        follow.create(cursor, dialect, DDL)
        cursor.executemany("INSERT INTO patients VALUES (%s, %s, %s, %s, %s)",
                           [(n, f"Given{n}", f"Family{n}", f"617-253-{1000 + n:04d}", made) for n in range(1, 21)])
        rows = []
        for n, start in enumerate(starts, start=1):
            patient, created = 1 + n % 20, made + timedelta(minutes=n)
            if n <= moves:
                changed = created + timedelta(hours=2)
                rows.append((n, patient, start, start + timedelta(minutes=20), "rescheduled", created, changed))
                later = start + timedelta(days=1)
                rows.append((100 + n, patient, later, later + timedelta(minutes=20), "scheduled",
                             changed + timedelta(seconds=1), changed + timedelta(seconds=1)))
                want[str(n)] = later
            else:
                rows.append((n, patient, start, start + timedelta(minutes=20), "scheduled", created, created))
                want[str(n)] = start
        cursor.executemany("INSERT INTO visits VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
    return want


def test_moves_by_new_rows_are_one_moved_visit(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    url, opener, dialect = server
    want = _fill(opener, dialect, moves=6)
    fields, out, found = follow.discover_and_sync(url, tmp_path, cli, agendas=False)
    assert fields["replaces"] == {"from": "replaces_id"}, out
    assert "6 of 6 row(s) with 'rescheduled' have exactly one new row of the same patient" in out
    mapping = real.written_mapping(tmp_path)
    assert mapping["status_map"]["rescheduled"] == "cancelled"
    # Each moved visit stored once, under its first row's id, at its new time; no row 101-106 of its own.
    assert set(found) == set(want)
    assert {k for k, v in found.items() if v["status"] != "booked"} == set()
    assert {k for k, v in found.items() if v["start"] != follow.data.utc(want[k], follow.ZONE)} == set()

    # A move made now: one moved visit, announced once (no "cancelled", no new booking).
    moved_at = follow.stamp() + timedelta(days=2)
    with opener() as cursor:
        cursor.execute("UPDATE visits SET status = 'rescheduled', updated_at = %s WHERE id = 20", (moved_at,))
        later = want["20"] + timedelta(days=2)
        cursor.execute("INSERT INTO visits VALUES (120, %s, %s, %s, 'scheduled', %s, %s)",
                       (1 + 20 % 20, later, later + timedelta(minutes=20), moved_at, moved_at))
    run = cli(tmp_path / "settings.yaml")
    _, sync_out, _ = run("sync", "--once", "--json")
    report = next(iter(json.loads(sync_out)["connectors"].values()))
    assert (report["error"], report["created"], report["cancelled"], report["rescheduled"]) == (None, 0, 0, 1), report
    stored = follow.data.stored(run)
    assert "120" not in stored and stored["20"]["start"] == follow.data.utc(later, follow.ZONE)


def test_a_pattern_seen_on_some_rows_only_is_asked_not_mapped(server: ehr.Server) -> None:
    url, opener, dialect = server
    _fill(opener, dialect, moves=6)
    with opener() as cursor:  # four more old rows whose successor was booked another day (or never)
        cursor.execute("UPDATE visits SET status = 'rescheduled' WHERE id BETWEEN 7 AND 10")
    proposal = discover_sql(url, timezone=follow.ZONE)
    assert proposal.mapping is not None and "replaces" not in proposal.mapping["fields"]
    assert {w.value: w.status for w in proposal.status_words}["rescheduled"] is None
    note = next(n for n in proposal.notes if "have exactly one new row" in n)
    assert note.startswith("6 of 10 row(s) with 'rescheduled'") and "too few to read as a rule" in note
