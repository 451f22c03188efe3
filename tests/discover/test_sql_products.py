"""`clinicsync discover --write` on the known products' real schemas in the machine's real
servers, then `clinicsync sync --once`: every valid row imported as the source means it, no
row quarantined because of the proposal, and the admin's own configuration counted (the URL,
the zone, the settings file they start from: at most 20 lines)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
import yaml

from clinicsync.mappings.engine import load_mapping
from clinicsync.sync.config.settings import load_settings
from tests.discover import sql_support as data

ADMIN_LIMIT = 20


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "site"
    path.mkdir()
    return path


@pytest.fixture
def mariadb(mariadb_database: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Any]]:
    connection = data.mysql(mariadb_database)
    yield mariadb_database, connection
    connection.close()


def discover_and_sync(cli: Any, settings: Path, command: list[str], connector: str,
                      expect: int = 0) -> tuple[str, dict[str, Any], Any]:
    """`discover … --write`, `sync --once --dry-run` (the same counts, nothing stored), then
    `sync --once --json`: discover's output and the run's report."""
    run = cli(settings)
    _, out, _ = run("discover", *command, "--write", expect=expect)
    _, dry_out, _ = run("sync", "--once", "--dry-run", "--json")
    dry = json.loads(dry_out)["connectors"][connector]
    assert data.stored(run) == {}
    _, sync_out, _ = run("sync", "--once", "--json")
    report = json.loads(sync_out)["connectors"][connector]
    assert (dry["created"], dry["quarantined"]) == (report["created"], report["quarantined"])
    return out, report, run


@pytest.fixture
def reader(mariadb: tuple[dict[str, Any], Any]) -> Iterator[tuple[str, str]]:
    """A login of the test's database that may only SELECT, with a password a URL must escape."""
    database, connection = mariadb
    user, password = f"r{database['database'][2:12]}", "s3cr@t/pw"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cursor.execute(f"GRANT SELECT ON `{database['database']}`.* TO '{user}'@'%'")
    yield user, password
    with connection.cursor() as cursor:
        cursor.execute(f"DROP USER '{user}'@'%'")


@pytest.mark.mariadb
def test_easyappointments_in_four_admin_lines(mariadb: tuple[dict[str, Any], Any], reader: tuple[str, str],
                                              folder: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    database, connection = mariadb
    expected = data.easyappointments(connection)
    settings = data.admin_settings(folder, "America/New_York")
    before = settings.read_text()
    user, password = reader
    url = f"mysql://{user}:{quote(password, safe='')}@127.0.0.1:3306/{database['database']}?charset=utf8mb4"
    # discover hands the typed password to its own check through the environment, for this
    # process only; recorded here so that the test leaves the environment as it found it.
    monkeypatch.setenv("EA_DB_PASSWORD", "")
    monkeypatch.delenv("EA_DB_PASSWORD")
    command = [url, "--name", "ea"]
    out, report, run = discover_and_sync(cli, settings, command, "ea")

    assert "known product easyappointments (confidence 1.00)" in out
    assert "checked: 1 sources, 200 records sampled, 0 would be quarantined, 0 problems" in out
    assert (report["error"], report["created"], report["quarantined"]) == (None, 200, 0)
    data.assert_imported(data.stored(run), expected)
    # What discover wrote: the preset, the per-row zone (no connector timezone needed), the
    # mapping beside settings.yaml, every status word of the database listed with its count.
    config = load_settings(settings)
    ea = next(c for c in config.connectors if c.name == "ea")
    assert (ea.query_preset, ea.mode, ea.cursor_column, ea.timezone) == (  # type: ignore[attr-defined]
        "easyappointments", "incremental", "update_datetime", None)
    mapping_file = folder / "mappings" / "ea.yaml"
    assert ea.mapping == "mappings/ea.yaml"
    written = mapping_file.read_text()
    assert yaml.safe_load(written)["extends"] == "easyappointments_sql"
    for word in ("Booked", "Confirmed", "Rescheduled", "Draft", "Cancelled"):
        assert f"#  {word}: " in written and "row(s)" in written
    load_mapping("mappings/ea.yaml", "America/New_York", "US", folder)
    # The password is nowhere in the files: the connector reads it from the environment.
    assert "s3cr" not in settings.read_text() + written
    assert yaml.safe_load(settings.read_text())["connectors"][0]["password"] == "${EA_DB_PASSWORD}"
    assert "set $EA_DB_PASSWORD" in out
    assert data.admin_lines(before, command) <= ADMIN_LIMIT


@pytest.mark.mariadb
def test_easyappointments_under_its_own_table_prefix(mariadb: tuple[dict[str, Any], Any], folder: Path,
                                                    cli: Any) -> None:
    """An installation whose admin chose the prefix `sched_`: the preset's query, rewritten."""
    database, connection = mariadb
    expected = data.easyappointments(connection, prefix="sched_")
    settings = data.admin_settings(folder, "America/New_York")
    before = settings.read_text()
    command = [database["url"], "--name", "ea"]
    out, report, run = discover_and_sync(cli, settings, command, "ea")
    assert "known product easyappointments (confidence 1.00)" in out
    assert (report["error"], report["created"], report["quarantined"]) == (None, 200, 0)
    data.assert_imported(data.stored(run), expected)
    connector = yaml.safe_load(settings.read_text())["connectors"][0]
    assert "query_preset" not in connector and "FROM sched_appointments AS a" in connector["query"]
    assert (connector["mode"], connector["cursor_column"]) == ("incremental", "update_datetime")
    assert data.admin_lines(before, command) <= ADMIN_LIMIT


@pytest.mark.mariadb
def test_openemr_with_the_clinic_zone_and_a_site_word(mariadb: tuple[dict[str, Any], Any], folder: Path,
                                                      cli: Any, shared_fixtures: Path) -> None:
    database, connection = mariadb
    zone = "America/New_York"
    expected = data.openemr(connection, shared_fixtures, zone)
    settings = data.admin_settings(folder, zone)
    before = settings.read_text()

    # OpenEMR keeps wall-clock times without a zone: discover takes the server's zone when it
    # names a region; a server on UTC says nothing of the clinic's: clinic.timezone (issue 57).
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@session.time_zone, @@system_time_zone")
        server = [z for z in cursor.fetchone() if "/" in z and not z.startswith("Etc/")]
    code, out, _ = cli(settings)("discover", database["url"], "--name", "emr", expect=None)
    if server:
        assert code == 0 and f"timezone: {server[0]}" in out
    else:
        assert code == 0 and "note: stored_times: local (the default): known product openemr" in out
        assert f"not taken as the visits' zone; they are in clinic.timezone ({zone})" in out

    command = [database["url"], "--name", "emr", "--timezone", zone]
    out, report, run = discover_and_sync(cli, settings, command, "emr")
    assert "known product openemr" in out
    assert "0 would be quarantined, 0 problems" in out
    assert (report["error"], report["created"], report["quarantined"]) == (None, 200, 0)
    data.assert_imported(data.stored(run), expected)
    # The site's own word is not in OpenEMR's list: discover added it, with its meaning and count.
    written = (folder / "mappings" / "emr.yaml").read_text()
    assert yaml.safe_load(written)["status_map"] == {data.OPENEMR_SITE_WORD: "booked"}
    line = next(x for x in written.splitlines() if x.strip().startswith(f"{data.OPENEMR_SITE_WORD}:"))
    assert "row(s), confidence 0.60" in line
    # The lunch block is no appointment; the write-back statement is offered, never configured.
    assert "5000" not in data.stored(run)
    assert "UPDATE openemr_postcalendar_events SET pc_apptstatus" in settings.read_text()
    assert "writeback:" not in yaml.safe_load(settings.read_text())["connectors"][0]
    assert data.admin_lines(before, command) <= ADMIN_LIMIT


@pytest.mark.mariadb
def test_oscar_status_codes_keep_their_case(mariadb: tuple[dict[str, Any], Any], folder: Path, cli: Any) -> None:
    database, connection = mariadb
    zone = "America/Toronto"
    expected = data.oscar(connection, zone)
    settings = data.admin_settings(folder, zone)
    before = settings.read_text()
    command = [database["url"], "--name", "oscar", "--timezone", zone]
    out, report, run = discover_and_sync(cli, settings, command, "oscar")
    assert "known product oscar" in out
    assert (report["error"], report["created"], report["quarantined"]) == (None, 200, 0)
    found = data.stored(run)
    data.assert_imported(found, expected)  # 'h' Confirmed is booked, 'H' Here is arrived
    assert "999" not in found  # blocked time without a patient
    assert data.admin_lines(before, command) <= ADMIN_LIMIT


@pytest.mark.postgres
def test_three_table_schema_on_postgresql(postgres_url: str, folder: Path, cli: Any) -> None:
    zone = "Europe/Madrid"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        expected = data.clinic_tables(connection, zone)
    settings = data.admin_settings(folder, zone)
    before = settings.read_text()
    command = [postgres_url, "--name", "clinic", "--timezone", zone]
    out, report, run = discover_and_sync(cli, settings, command, "clinic")
    assert "known product clinic_tables (confidence 1.00)" in out
    assert (report["error"], report["created"], report["quarantined"]) == (None, 200, 0)
    data.assert_imported(data.stored(run), expected)
    connector = yaml.safe_load(settings.read_text())["connectors"][0]
    assert (connector["query_preset"], connector["timezone"]) == ("clinic_tables", zone)
    assert data.admin_lines(before, command) <= ADMIN_LIMIT


@pytest.mark.postgres
def test_the_servers_own_zone_is_taken_when_it_names_a_region(postgres_url: str) -> None:
    """No --timezone: a server whose zone names a region gives it (said to be a guess); one on
    UTC gives nothing, and discover asks."""
    from clinicsync.sync.discover.sql import DiscoverError, discover_sql

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        data.clinic_tables(connection, "Europe/Madrid")
    madrid = postgres_url + "%20-ctimezone%3DEurope%2FMadrid"
    proposal = discover_sql(madrid, name="clinic")
    assert proposal.connector["timezone"] == "Europe/Madrid"
    assert "the database server's own zone" in proposal.connector_notes["timezone"]
    with pytest.raises(DiscoverError, match="give the clinic's zone with --timezone"):
        discover_sql(postgres_url + "%20-ctimezone%3DUTC", name="clinic")
