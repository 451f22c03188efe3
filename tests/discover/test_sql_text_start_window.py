"""A visit's start kept as ISO text (``VARCHAR '2026-12-03 09:30:00'`` or ``'2026-12-03T09:30'``),
on PostgreSQL, MariaDB and SQLite: years of past visits and a few months of upcoming ones. When
every start is written in one ISO layout, discover puts the window on the text (bounds written
in that layout), so each run reads the window's rows and not the table's; starts in two layouts
keep the whole read, and the proposal says why. The admin runs discover --write, check and sync
--once; every visit read is compared with what the source means."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from clinicsync.connectors.sql_guard import check_select, sqlglot_dialect
from clinicsync.sync.discover.textwindow import bound, layout_of
from tests.discover import follow_support as follow
from tests.discover import sql_support as data

PAST = 20_000
UPCOMING = 200
PATIENTS = 60
DOCTORS = {1: "Dr. Ines Varga", 2: "Dr. Tomas Reyes", 3: "Dr. Mei Tanaka"}
Opener = Callable[[], Any]


@contextmanager
def _pg(url: str) -> Iterator[tuple[Any, str]]:
    with psycopg.connect(url, autocommit=True) as connection, connection.cursor() as cursor:
        yield cursor, "%s"


@contextmanager
def _maria(database: dict[str, Any]) -> Iterator[tuple[Any, str]]:
    connection = data.mysql(database)
    try:
        with connection.cursor() as cursor:
            yield cursor, "%s"
    finally:
        connection.close()


@contextmanager
def _sqlite(path: Path) -> Iterator[tuple[Any, str]]:
    connection = sqlite3.connect(path)
    try:
        yield connection.cursor(), "?"
        connection.commit()
    finally:
        connection.close()


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb), "sqlite"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Opener]:
    if request.param == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))
        return url, lambda: _pg(url)
    if request.param == "mariadb":
        database = request.getfixturevalue("mariadb_database")
        return str(database["url"]), lambda: _maria(database)
    path = tmp_path / "clinic.db"
    return f"sqlite:///{path}", lambda: _sqlite(path)


def _starts(past: int, upcoming: int) -> tuple[list[datetime], list[datetime]]:
    """Past wall-clock starts (two days ago and older, ten a day) and upcoming ones."""
    today = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
    before = [today - timedelta(days=2 + n // 10, hours=-(8 + n % 10)) for n in range(past)]
    return before, follow.slots(upcoming, seed=41)


def _fill(opener: Opener, layouts: list[str], past: int = PAST) -> follow.Want:
    """The clinic's tables; the starts written in ``layouts`` (in turn). What the store must hold
    for each upcoming visit."""
    width = max(len(datetime(2026, 12, 3, 9, 30).strftime(f)) for f in layouts)
    before, ahead = _starts(past, UPCOMING)
    want: follow.Want = {}
    with opener() as (cursor, p):
        for statement in (
                "CREATE TABLE patients (id INTEGER PRIMARY KEY, first_name VARCHAR(40) NOT NULL, "
                "last_name VARCHAR(40) NOT NULL, mobile VARCHAR(30))",
                "CREATE TABLE doctors (id INTEGER PRIMARY KEY, full_name VARCHAR(60) NOT NULL)",
                "CREATE TABLE appointments (id INTEGER PRIMARY KEY, patient_id INTEGER NOT NULL REFERENCES "
                f"patients(id), doctor_id INTEGER NOT NULL REFERENCES doctors(id), start_at VARCHAR({width}) NOT NULL, "
                "duration INTEGER NOT NULL, status VARCHAR(20) NOT NULL)"):
            cursor.execute(statement)
        cursor.executemany(f"INSERT INTO doctors VALUES ({p}, {p})", list(DOCTORS.items()))
        cursor.executemany(f"INSERT INTO patients VALUES ({p}, {p}, {p}, {p})",
                           [(n, f"Given{n}", f"Family{n}", f"617 555 {1000 + n}" if n % 6 else None)
                            for n in range(1, PATIENTS + 1)])
        rows = []
        for n, start in enumerate(before + ahead, start=1):
            patient, doctor = 1 + n % PATIENTS, 1 + n % 3
            rows.append((n, patient, doctor, start.strftime(layouts[n % len(layouts)]), 30, "booked"))
            if n > len(before):
                want[str(n)] = {"status": "booked", "patient": str(patient), "name": f"Given{patient} Family{patient}",
                                "phone": f"+1617555{1000 + patient}" if patient % 6 else None,
                                "doctor": str(doctor)}
        cursor.executemany(f"INSERT INTO appointments VALUES ({p}, {p}, {p}, {p}, {p}, {p})", rows)
    return want


def _synced(url: str, tmp_path: Path, cli: Any, want: follow.Want) -> tuple[dict[str, Any], str, int]:
    """discover --write, check, sync --once: the connector written, discover's output and the
    rows the run read; every upcoming visit is stored as the source means it."""
    settings = data.admin_settings(tmp_path, follow.ZONE)
    run = cli(settings)
    _, out, _ = run("discover", url, "--timezone", follow.ZONE, "--write")
    assert "0 would be quarantined, 0 problems" in out, out
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    _, sync_out, _ = run("sync", "--once", "--json")
    report = yaml.safe_load(sync_out)["connectors"][connector["name"]]
    assert (report["error"], report["quarantined"]) == (None, 0), report
    found = data.stored(run)
    assert follow.wrong(found, want, ["status", "patient", "name", "phone", "doctor"]) == {}
    return connector, " ".join(out.split()), int(report["fetched"])


@pytest.mark.parametrize("layout", ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"])
def test_one_iso_layout_reads_the_window_only(source: tuple[str, Opener], layout: str, tmp_path: Path,
                                              cli: Any) -> None:
    url, opener = source
    want = _fill(opener, [layout])
    connector, out, fetched = _synced(url, tmp_path, cli, want)
    assert fetched == UPCOMING  # of 20,200 rows: the past ones (two days ago and older) are not read
    assert "start_at BETWEEN" in connector["query"]
    assert "the window compares it as text with bounds written in that layout" in out


def test_two_layouts_keep_the_whole_read_and_say_why(tmp_path: Path, cli: Any) -> None:
    path = tmp_path / "clinic.db"
    want = _fill(lambda: _sqlite(path), ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"], past=300)
    connector, out, fetched = _synced(f"sqlite:///{path}", tmp_path, cli, want)
    assert "WHERE" not in connector["query"]
    assert "is text in more than one layout" in out
    assert fetched == 300 + UPCOMING


def test_the_bound_is_written_in_the_layout_by_each_database() -> None:
    """No ``:`` in a literal (text() would read ``:MI`` as a bind); SQL Server, which is not run
    here, writes styles 120 and 126 cut to the layout's width."""
    seconds, minutes = layout_of("2026-12-03 09:30:00"), layout_of("2026-12-03T09:30")
    assert seconds is not None and minutes is not None
    assert bound("postgresql", minutes, "window_start") == \
        """translate(to_char(CAST(:window_start AS TIMESTAMP), 'YYYY-MM-DD"T"HH24.MI'), '.', chr(58))"""
    assert bound("mssql", seconds, "window_end") == "CONVERT(VARCHAR(19), CAST(:window_end AS DATETIME2), 120)"
    assert bound("mssql", minutes, "window_end") == "CONVERT(VARCHAR(16), CAST(:window_end AS DATETIME2), 126)"
    assert bound("mysql", minutes, "window_end") == "DATE_FORMAT(:window_end, '%Y-%m-%dT%H:%i')"
    assert bound("oracle", minutes, "window_end") is None
    assert layout_of("2026-12-03 09:30:00.5") is None and layout_of("2026-02-30 09:30") is None
    for dialect in ("mssql", "postgresql", "mariadb", "sqlite"):  # the guard reads each as its database's SQL
        start, end = bound(dialect, minutes, "window_start"), bound(dialect, minutes, "window_end")
        where = f"a.start_at BETWEEN {start} AND {end}"
        checked = check_select(f"SELECT a.id FROM appointments AS a WHERE {where}",
                               frozenset({"window_start", "window_end"}), sqlglot_dialect(dialect))
        assert checked.binds == {"window_start", "window_end"}
