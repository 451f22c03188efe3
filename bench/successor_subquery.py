"""The cost of reading moves by new rows that name nothing (sync/discover/successors.py).

    python -m bench.successor_subquery [--visits 20000] [--moves 500]

A SQLite file in a temporary folder: ``--visits`` visits of a tenth as many patients, the first
``--moves`` of them moved once (the old row marked `rescheduled`, a new row of the same patient
created one second after the old row's change). For each of "no index on visits.patient_id" and
"an index", discover's proposal is timed, then one full read of the query it proposed (the
window opened wide, as a snapshot's first read): the correlated subquery that reads each row's
predecessor reads that patient's rows for every row, which is a scan of the table per row
without the index. Wall-clock seconds, so run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE patients (id INTEGER PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
                       phone TEXT NOT NULL, updated_at DATETIME NOT NULL);
CREATE TABLE visits (id INTEGER PRIMARY KEY, patient_id INTEGER NOT NULL REFERENCES patients (id),
                     starts_at DATETIME NOT NULL, ends_at DATETIME NOT NULL, status TEXT NOT NULL,
                     created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL);
"""


def build(path: Path, visits: int, moves: int, index: bool) -> str:
    """The source, as a SQLAlchemy URL."""
    made, first = datetime(2026, 11, 1, 9), datetime(2026, 12, 1, 8)
    patients = max(1, visits // 10)
    rows = []
    for n in range(1, visits + 1):
        at, created, patient = first + timedelta(minutes=20 * n), made + timedelta(minutes=n), 1 + n % patients
        if n <= moves:
            changed = created + timedelta(hours=2)
            rows.append((n, patient, at, at + timedelta(minutes=20), "rescheduled", created, changed))
            later, booked = at + timedelta(days=1), changed + timedelta(seconds=1)
            rows.append((visits + n, patient, later, later + timedelta(minutes=20), "scheduled", booked, booked))
        else:
            rows.append((n, patient, at, at + timedelta(minutes=20), "scheduled", created, created))
    with sqlite3.connect(path) as connection:
        connection.executescript(DDL + ("CREATE INDEX ix_visits_patient ON visits (patient_id);" if index else ""))
        connection.executemany("INSERT INTO patients VALUES (?, ?, ?, ?, ?)",
                               [(n, f"Given{n}", f"Family{n}", f"617-253-{n % 10_000:04d}", str(made))
                                for n in range(1, patients + 1)])
        connection.executemany("INSERT INTO visits VALUES (?, ?, ?, ?, ?, ?, ?)",
                               [tuple(str(v) if isinstance(v, datetime) else v for v in row) for row in rows])
    return f"sqlite:///{path}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=20_000)
    parser.add_argument("--moves", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for index in (False, True):
            url = build(Path(folder) / f"visits-{index}.db", args.visits, args.moves, index)
            started = time.perf_counter()
            proposal = discover_sql(url, timezone="America/New_York", stored_times="local")
            proposed = time.perf_counter() - started
            assert proposal.mapping is not None and "replaces" in proposal.mapping["fields"]
            engine = create_engine(url)
            with engine.connect() as connection:
                started = time.perf_counter()
                read = len(connection.execute(text(proposal.connector["query"]),
                                              {"window_start": "2000-01-01", "window_end": "2100-01-01"}).all())
                took = time.perf_counter() - started
            engine.dispose()
            print(f"{'with' if index else 'without'} an index on visits.patient_id: discover {proposed:.2f} s, "
                  f"a full read of {read} rows {took:.2f} s")


if __name__ == "__main__":
    main()
