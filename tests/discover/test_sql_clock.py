"""`discover` tells a database that keeps naive UTC (Odoo, Django, Rails) from one that keeps
local wall-clock time (issue 57), on the real PostgreSQL and MariaDB, whose servers run on UTC
here: it writes `stored_times: utc` (never `timezone: UTC`, which would make UTC every visit's
zone), keeps `local` when the database shows local time, and stops naming `--stored-times`
when nothing tells."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
import yaml

from clinicsync.sync.discover.clock import Evidence, decide, read_stamps
from clinicsync.sync.discover.sql import DiscoverError, discover_sql
from tests.discover import ehr_support as ehr
from tests.discover import sql_support as data

CHICAGO, BERLIN = "America/Chicago", "Europe/Berlin"
VISITS = 40
PG_DDL = """
CREATE TABLE clients (id serial PRIMARY KEY, first_name text, last_name text, mobile text, email text);
CREATE TABLE staff (id serial PRIMARY KEY, name text, email text);
CREATE TABLE visits (id serial PRIMARY KEY, client_id integer NOT NULL REFERENCES clients(id),
                     staff_id integer REFERENCES staff(id), start_at timestamp NOT NULL, end_at timestamp,
                     state text NOT NULL, created_at timestamp {default}, updated_at timestamp);
"""
MARIADB_DDL = """
CREATE TABLE clients (id INT PRIMARY KEY, first_name VARCHAR(60), last_name VARCHAR(60), mobile VARCHAR(30),
                      email VARCHAR(120));
CREATE TABLE staff (id INT PRIMARY KEY, name VARCHAR(80), email VARCHAR(120));
CREATE TABLE visits (id INT PRIMARY KEY, client_id INT NOT NULL, staff_id INT, start_at DATETIME NOT NULL,
                     end_at DATETIME, state VARCHAR(20) NOT NULL, created_at DATETIME {default}, updated_at DATETIME,
                     FOREIGN KEY (client_id) REFERENCES clients(id), FOREIGN KEY (staff_id) REFERENCES staff(id));
"""
STATES = {"booked": "booked", "cancelled": "cancelled"}


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def rows(stored: str, zone: str = CHICAGO, stamps: str = "now") -> tuple[list[tuple[Any, ...]], dict[str, str]]:
    """Visits at clinic hours in ``zone``, written as ``stored`` (utc: naive UTC instants;
    local: the wall clock); their stamps written the same way, minutes ago (``now``) or weeks
    ago (``old``: no sign). Returns the rows and each id's expected UTC start."""
    tz = ZoneInfo(zone)
    expected, out = {}, []
    for n, start in enumerate(data.future_slots(zone, VISITS), start=1):
        instant = start.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)
        written = instant if stored == "utc" else start
        stamp_utc = utc_now() - (timedelta(minutes=3 + n) if stamps == "now" else timedelta(days=30 + n))
        stamp = stamp_utc if stored == "utc" else stamp_utc.replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)
        out.append((n, 1 + n % 10, 1 + n % 2, written, written + timedelta(minutes=30), list(STATES)[n % 2],
                    stamp, stamp))
        expected[str(n)] = instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out, expected


def insert(cursor: Any, visits: list[tuple[Any, ...]]) -> None:
    """Ten clients, two staff and ``visits``, through a DB-API cursor (psycopg or PyMySQL)."""
    cursor.executemany("INSERT INTO clients VALUES (%s, %s, 'Example', %s, %s)",
                       [(n, f"Client{n}", f"+1 312 555 {1000 + n}", f"c{n}@example.org") for n in range(1, 11)])
    cursor.executemany("INSERT INTO staff VALUES (%s, %s, %s)", [(n, f"Dr Staff{n}", f"dr{n}@clinic.example")
                                                                  for n in (1, 2)])
    cursor.executemany("INSERT INTO visits VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", visits)


def fill_postgres(url: str, stored: str, zone: str = CHICAGO, stamps: str = "now", default: str = "") -> dict[str, str]:
    found, expected = rows(stored, zone, stamps)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(PG_DDL.format(default=default))  # type: ignore[arg-type]
        with connection.cursor() as cursor:
            insert(cursor, found)
    return expected


def fill_mariadb(database: dict[str, Any], stored: str, default: str = "") -> dict[str, str]:
    found, expected = rows(stored)
    connection = data.mysql(database)
    try:
        data.run_sql(connection, MARIADB_DDL.format(default=default))
        with connection.cursor() as cursor:
            insert(cursor, found)
    finally:
        connection.close()
    return expected


@pytest.mark.postgres
def test_naive_utc_stamps_on_postgresql_write_stored_times_utc_not_timezone_utc(postgres_url: str) -> None:
    fill_postgres(postgres_url, "utc")
    proposal = discover_sql(postgres_url, name="visits", clinic_zone=CHICAGO)
    assert proposal.connector["stored_times"] == "utc"
    assert "timezone" not in proposal.connector  # the visits are in clinic.timezone, not the server's UTC
    assert "in the future read as local time in America/Chicago" in proposal.connector_notes["stored_times"]
    assert any("not taken as the visits' zone" in note and CHICAGO in note for note in proposal.notes)


@pytest.mark.postgres
def test_given_timezone_is_the_visit_zone_and_the_stamps_still_show_utc(postgres_url: str) -> None:
    """The issue's admin followed the docs and gave --timezone: the stamps overrule the
    assumption that the wall-clock times are in that zone; the zone stays the visits'."""
    fill_postgres(postgres_url, "utc")
    proposal = discover_sql(postgres_url, name="visits", timezone=CHICAGO)
    assert (proposal.connector["timezone"], proposal.connector["stored_times"]) == (CHICAGO, "utc")


@pytest.mark.postgres
def test_timezone_utc_is_taken_as_given_with_a_warning(postgres_url: str) -> None:
    """What the issue's admin typed first: the instants come out right, the zone does not."""
    fill_postgres(postgres_url, "utc")
    proposal = discover_sql(postgres_url, name="visits", timezone="UTC")
    assert proposal.connector["timezone"] == "UTC"
    assert any(n.startswith("--timezone UTC makes UTC every visit's zone") for n in proposal.notes)


@pytest.mark.postgres
def test_a_utc_column_default_says_utc_when_the_stamps_are_old(postgres_url: str) -> None:
    fill_postgres(postgres_url, "utc", stamps="old", default="DEFAULT (now() AT TIME ZONE 'utc')")
    proposal = discover_sql(postgres_url, name="visits", clinic_zone=CHICAGO)
    assert proposal.connector["stored_times"] == "utc"
    assert "visits.created_at defaults to the UTC clock" in proposal.connector_notes["stored_times"]


@pytest.mark.postgres
@pytest.mark.parametrize("zone", [CHICAGO, "Europe/Berlin"])
def test_local_stamps_keep_local(postgres_url: str, zone: str) -> None:
    """West of UTC the newest stamp is minutes old only read as local time; east of it, it
    would lie in the future read as UTC."""
    fill_postgres(postgres_url, "local", zone=zone)
    proposal = discover_sql(postgres_url, name="visits", clinic_zone=zone)
    assert "stored_times" not in proposal.connector
    assert any(n.startswith("stored_times: local (the default): the database keeps local time") for n in proposal.notes)


@pytest.mark.postgres
def test_nothing_to_tell_by_stops_and_asks_naming_the_flag(postgres_url: str) -> None:
    """Berlin is one hour from UTC: day visits stay day visits either way, and the stamps are
    weeks old. Nothing tells, and nobody named the zone of the wall-clock times: ask."""
    fill_postgres(postgres_url, "utc", zone=BERLIN, stamps="old")
    with pytest.raises(DiscoverError, match=r"--stored-times utc\|local") as raised:
        discover_sql(postgres_url, name="visits", clinic_zone=BERLIN)
    assert "server's zone is Etc/UTC" in str(raised.value) or "server's zone is UTC" in str(raised.value)
    answered = discover_sql(postgres_url, name="visits", clinic_zone=BERLIN, stored_times="utc")
    assert answered.connector["stored_times"] == "utc"
    assert answered.connector_notes["stored_times"] == "given with --stored-times"


@pytest.mark.postgres
def test_the_visits_hours_show_utc_when_nothing_else_does(postgres_url: str) -> None:
    """The issue's case: weeks-old stamps, a UTC server, and the admin gave --timezone as the
    docs said. Read as Chicago wall clock, a fifth of the visits would start at night."""
    fill_postgres(postgres_url, "utc", stamps="old")
    proposal = discover_sql(postgres_url, name="visits", timezone=CHICAGO)
    assert (proposal.connector["timezone"], proposal.connector["stored_times"]) == (CHICAGO, "utc")
    assert "fall at night (22:00-05:59) read as local time in America/Chicago, 0 read as UTC" in \
        proposal.connector_notes["stored_times"]
    local = fill_postgres_again(postgres_url, "local")
    assert "stored_times" not in local.connector


def fill_postgres_again(url: str, stored: str) -> Any:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP TABLE visits, clients, staff")
    fill_postgres(url, stored, stamps="old")
    return discover_sql(url, name="visits", timezone=CHICAGO)


@pytest.mark.postgres
def test_conflicting_evidence_stops_and_asks(postgres_url: str) -> None:
    fill_postgres(postgres_url, "local", default="DEFAULT (now() AT TIME ZONE 'utc')")
    with pytest.raises(DiscoverError, match=r"defaults to the UTC clock.*yet.*Give --stored-times utc\|local"):
        discover_sql(postgres_url, name="visits", clinic_zone=CHICAGO)


@pytest.mark.mariadb
def test_naive_utc_on_mariadb_discovered_written_and_synced(mariadb_database: dict[str, Any], tmp_path: Path,
                                                           cli: Callable[..., Any]) -> None:
    """The whole path on MariaDB (server zone UTC): `discover --write` writes `stored_times:
    utc` and no `timezone: UTC`; `sync --once` stores each visit's right instant, in the clinic's zone."""
    expected = fill_mariadb(mariadb_database, "utc", default="DEFAULT UTC_TIMESTAMP()")
    settings = data.admin_settings(tmp_path, CHICAGO)
    run = cli(settings)
    _, out, _ = run("discover", mariadb_database["url"], "--name", "visits", "--write")
    assert "0 would be quarantined" in out
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    assert connector["stored_times"] == "utc" and "timezone" not in connector
    assert "stored_times: utc  # the database keeps UTC" in settings.read_text(encoding="utf-8")
    _, sync_out, _ = run("sync", "--once", "--json")
    assert json.loads(sync_out)["connectors"]["visits"]["quarantined"] == 0
    found = data.stored(run)
    assert {k: (v["start"], v["timezone"]) for k, v in found.items()} == {k: (v, CHICAGO) for k, v in expected.items()}


@pytest.mark.mariadb
def test_local_time_on_mariadb_keeps_local(mariadb_database: dict[str, Any]) -> None:
    fill_mariadb(mariadb_database, "local")
    proposal = discover_sql(str(mariadb_database["url"]), name="visits", clinic_zone=CHICAGO)
    assert "stored_times" not in proposal.connector


@pytest.mark.mariadb
def test_the_cli_stops_and_asks_naming_the_flag(mariadb_database: dict[str, Any], tmp_path: Path,
                                                cli: Callable[..., Any]) -> None:
    found, _ = rows("utc", zone=BERLIN, stamps="old")
    connection = data.mysql(mariadb_database)
    try:
        data.run_sql(connection, MARIADB_DDL.format(default=""))
        with connection.cursor() as cursor:
            insert(cursor, found)
    finally:
        connection.close()
    settings = data.admin_settings(tmp_path, BERLIN)
    _, _, err = cli(settings)("discover", mariadb_database["url"], "--name", "visits", expect=2)
    assert "--stored-times utc|local" in err
    _, _, err = cli(settings)("discover", mariadb_database["url"], "--stored-times", "gmt", expect=2)
    assert "--stored-times: 'gmt' is neither utc nor local" in err
    _, out, _ = cli(settings)("discover", mariadb_database["url"], "--name", "visits", "--stored-times", "utc",
                              "--write")
    assert "stored_times: utc  # given with --stored-times" in settings.read_text(encoding="utf-8")
    assert "0 would be quarantined" in out


def test_the_reading_of_a_stamp_both_ways() -> None:
    now = datetime(2026, 11, 30, 15, 0)
    ahead_as_local = Evidence()  # 14:55 naive read in Chicago is 20:55 UTC: hours ahead
    read_stamps([("write_date", datetime(2026, 11, 30, 14, 55))], now, CHICAGO, ahead_as_local)
    assert ahead_as_local.utc and not ahead_as_local.local
    ahead_as_utc = Evidence()  # 15:55 naive in Berlin is 14:55 UTC; read as UTC it is an hour ahead
    read_stamps([("write_date", datetime(2026, 11, 30, 15, 55))], now, "Europe/Berlin", ahead_as_utc)
    assert ahead_as_utc.local and not ahead_as_utc.utc
    planned = Evidence()  # ahead either way: planned dates, not write stamps
    read_stamps([("next_recall", datetime(2026, 12, 1, 9, 0))], now, CHICAGO, planned)
    assert not planned.utc and not planned.local
    assert decide(Evidence(), given=None, server="Europe/Madrid", zone_given=False).stored_times == "local"
    assert decide(Evidence(), given=None, server="Etc/UTC", zone_given=True).stored_times == "local"
    with pytest.raises(Exception, match="--stored-times"):
        decide(Evidence(), given=None, server="Etc/UTC", zone_given=False)


@pytest.mark.postgres
def test_a_known_products_preset_says_its_convention(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """No evidence is read for a recognized product: its preset says how it stores times."""
    from clinicsync.sync.discover import clock

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        data.clinic_tables(connection, CHICAGO)
    local = discover_sql(postgres_url, name="clinic", timezone=CHICAGO)
    assert local.product == "clinic_tables" and "stored_times" not in local.connector
    assert any("stored_times: local (the default): known product clinic_tables" in n for n in local.notes)
    real = clock.load_query_preset("clinic_tables")
    monkeypatch.setattr(clock, "load_query_preset", lambda name: real.model_copy(update={"stored_times": "utc"}))
    utc = discover_sql(postgres_url, name="clinic", timezone=CHICAGO)
    assert utc.connector["stored_times"] == "utc"
    assert utc.connector_notes["stored_times"] == "known product clinic_tables: it keeps UTC"


server = ehr.server


@pytest.fixture
def naive_utc_ehr(server: ehr.Server) -> tuple[str, list[ehr.Visit]]:
    """discover v2's OpenMRS-like schema (names, typed phones, a provider link table, voided
    rows; its stamps weeks old), its visits rewritten as naive UTC: what a framework keeps."""
    url, opener, dialect = server
    with opener() as cursor:
        expected, _ = ehr.build(cursor, dialect, ehr_zone)
        cursor.execute("SELECT patient_appointment_id, start_date_time, end_date_time FROM patient_appointment")
        moved = [(as_utc(start), as_utc(end), key) for key, start, end in cursor.fetchall()]
        cursor.executemany("UPDATE patient_appointment SET start_date_time = %s, end_date_time = %s "
                           "WHERE patient_appointment_id = %s", moved)
    return url, expected


ehr_zone = "America/New_York"


def as_utc(wall: datetime) -> datetime:
    return wall.replace(tzinfo=ZoneInfo(ehr_zone)).astimezone(UTC).replace(tzinfo=None)


def test_an_ehr_in_naive_utc_is_told_by_its_visits_hours_and_imported_right(
        naive_utc_ehr: tuple[str, list[ehr.Visit]], tmp_path: Path, cli: Callable[..., Any]) -> None:
    """The issue's held-out shape: a UTC server, weeks-old stamps, the admin's --timezone as
    the docs say. Read as New York time, 13 of 180 visits would start at night: UTC."""
    url, expected = naive_utc_ehr
    settings = data.admin_settings(tmp_path, ehr_zone)
    run = cli(settings)
    _, out, _ = run("discover", url, "--timezone", ehr_zone, "--write")
    assert "0 would be quarantined, 0 problems" in out, out
    connector = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    assert (connector["stored_times"], connector["timezone"]) == ("utc", ehr_zone)
    _, sync_out, _ = run("sync", "--once", "--json")
    assert json.loads(sync_out)["connectors"][connector["name"]]["quarantined"] == 0
    found = data.stored(run)
    assert {v.external_id: (found[v.external_id]["start"], found[v.external_id]["timezone"]) for v in expected} == \
        {v.external_id: (v.start_utc, ehr_zone) for v in expected}


@pytest.mark.postgres
def test_a_timestamptz_start_asks_nothing(postgres_url: str) -> None:
    """A start column with a zone (PostgreSQL timestamptz, as Django with USE_TZ writes it) holds
    instants: the setup that makes discover ask for naive times (Berlin, weeks-old stamps) does
    not, and the proposal says why; the visits' times are read as the instants they are."""
    fill_postgres(postgres_url, "utc", zone=BERLIN, stamps="old")
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("ALTER TABLE visits ALTER COLUMN start_at TYPE timestamptz USING start_at AT TIME ZONE "
                           "'UTC', ALTER COLUMN end_at TYPE timestamptz USING end_at AT TIME ZONE 'UTC'")
    proposal = discover_sql(postgres_url, name="visits", clinic_zone=BERLIN)
    assert "stored_times" not in proposal.connector
    assert any("every sampled start_at carries its own offset" in note for note in proposal.notes), proposal.notes


@pytest.mark.postgres
def test_starts_typed_as_people_read_them_are_local(postgres_url: str) -> None:
    """A start kept as text in a form people read (``25/03/2026 09:30``: typed or shown at the
    desk) is the clinic's wall clock: the setup that makes discover ask (Berlin, weeks-old
    stamps) does not, and the proposal says why. ISO text, which a framework writing UTC may keep
    in a text column too, is no such evidence: it still asks."""
    fill_postgres(postgres_url, "local", zone=BERLIN, stamps="old")
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("ALTER TABLE visits ALTER COLUMN start_at TYPE text USING "
                           "to_char(start_at, 'DD/MM/YYYY HH24:MI'), ALTER COLUMN end_at TYPE text USING "
                           "to_char(end_at, 'DD/MM/YYYY HH24:MI')")
    proposal = discover_sql(postgres_url, name="visits", clinic_zone=BERLIN)
    assert proposal.mapping is not None and proposal.mapping["datetime_formats"][0] == "%d/%m/%Y %H:%M"
    assert "stored_times" not in proposal.connector
    assert any("starts are text written as people read them ('%d/%m/%Y %H:%M')" in n for n in proposal.notes)
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("UPDATE visits SET start_at = to_char(to_timestamp(start_at, 'DD/MM/YYYY HH24:MI'), "
                           "'YYYY-MM-DD HH24:MI:SS'), end_at = to_char(to_timestamp(end_at, 'DD/MM/YYYY HH24:MI'), "
                           "'YYYY-MM-DD HH24:MI:SS')")
    with pytest.raises(DiscoverError, match=r"--stored-times utc\|local"):
        discover_sql(postgres_url, name="visits", clinic_zone=BERLIN)
