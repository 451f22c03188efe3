"""The OpenEMR preset end to end: OpenEMR's real schema in the machine's MariaDB,
`clinicsync sync --once --json` through the CLI, and write-back under its own login."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pymysql
import pytest
from sqlalchemy import text

from clinicsync.connectors.base import FatalConnectorError, WritebackAction, WritebackUnsupported
from clinicsync.connectors.sql import SqlConnector
from clinicsync.connectors.sql_settings import SqlSettings
from clinicsync.sync.store.db import make_engine
from tests.connectors.openemr_data import EXPECTED_STATUS, Appointment, connect, insert_clinic, load_schema

pytestmark = pytest.mark.mariadb
ZONE = ZoneInfo("America/New_York")
WINDOW = {"back": "1d", "ahead": "800d", "timezone": "America/New_York"}


@dataclass
class OpenEmr:
    database: dict[str, Any]
    connection: pymysql.Connection  # type: ignore[type-arg]
    appointments: list[Appointment]
    year: int

    @property
    def url(self) -> str:
        return str(self.database["url"])

    def status(self, eid: int) -> str:
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pc_apptstatus FROM openemr_postcalendar_events WHERE pc_eid = %s", (eid,))
            return str(cursor.fetchone()[0])  # type: ignore[index]

    def execute(self, sql: str, *args: Any) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, args or None)


@pytest.fixture
def openemr(mariadb_database: dict[str, Any], shared_fixtures: Path) -> Iterator[OpenEmr]:
    connection = connect(mariadb_database)
    load_schema(connection, shared_fixtures)
    year = datetime.now().year + 1  # every appointment lies ahead, in winter and in summer
    appointments = insert_clinic(connection, year)
    yield OpenEmr(mariadb_database, connection, appointments, year)
    connection.close()


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def preset_yaml(url: str) -> str:
    return (f"- name: openemr\n  kind: sql\n  query_preset: openemr\n  url: \"{url}\"\n"
            f"  window: {json.dumps(WINDOW)}\n")


def test_sync_imports_every_patient_appointment_and_ignores_blocks(
        openemr: OpenEmr, write_settings: Callable[..., Path], cli: Any, store_url: str) -> None:
    run = cli(write_settings(preset_yaml(openemr.url)))
    _, out, _ = run("check")
    assert "read-only transaction" in out
    _, out, _ = run("sync", "--once", "--json")
    first = json.loads(out)["connectors"]["openemr"]
    assert first["error"] is None
    assert (first["fetched"], first["created"], first["quarantined"]) == (18, 18, 0)

    _, out, _ = run("appointments", "list", "--all", "--json")
    stored = {int(a["external_id"]): a for a in json.loads(out)["items"]}
    # Provider and clinic blocks (200…), the old visit (300) and the recurring series (301) are not read.
    assert set(stored) == {a.eid for a in openemr.appointments}
    for source in openemr.appointments:
        got = stored[source.eid]
        assert got["status"] == EXPECTED_STATUS[source.status], source.status
        start = datetime.combine(source.day, source.start, ZONE).astimezone(UTC)
        assert got["start"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert got["end"] == (start + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert got["timezone"] == "America/New_York"
        assert got["patient"]["id"] == str(source.pid) and got["practitioner"]["id"] == str(source.aid)
        assert got["location"] == (None if source.facility == 0 else "Main Street Clinic")
    # Written out once, local wall-clock -> UTC: 09:00 EDT in July, 10:30 EST in January.
    assert stored[100]["start"] == f"{openemr.year}-07-06T13:00:00Z"
    assert stored[101]["start"] == f"{openemr.year}-01-07T15:30:00Z"
    assert stored[101]["practitioner"]["email"] == "grace@clinic.example"
    assert stored[105]["end"] == f"{openemr.year}-01-11T19:50:00Z"  # no pc_endTime: pc_duration 1200 s

    patients = _patients(store_url)
    assert patients["1"] == ("+16172531000", "alice@example.org", "es", True, True)
    assert patients["2"] == (None, "bruno@example.org", None, False, True)  # no phone
    assert patients["3"] == ("+12125550142", None, None, False, False)  # no consent at all
    assert patients["4"] == (None, None, "en", True, False)  # "none" is not a phone number

    _, out, _ = run("sync", "--once", "--json")
    again = json.loads(out)["connectors"]["openemr"]
    assert (again["created"], again["updated"], again["rescheduled"], again["cancelled"], again["deleted"],
            again["unchanged"]) == (0, 0, 0, 0, 0, 18)

    openemr.execute("UPDATE openemr_postcalendar_events SET pc_apptstatus = 'x' WHERE pc_eid = 100")
    _, out, _ = run("sync", "--once", "--json")
    cancelled = json.loads(out)["connectors"]["openemr"]
    assert (cancelled["cancelled"], cancelled["created"], cancelled["updated"], cancelled["deleted"],
            cancelled["unchanged"]) == (1, 0, 0, 0, 17)

    openemr.execute("DELETE FROM openemr_postcalendar_events WHERE pc_eid = 102")
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["connectors"]["openemr"]["deleted"] == 1


def _patients(store_url: str) -> dict[str, tuple[Any, ...]]:
    engine = make_engine(store_url)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT external_id, phone, email, language, allow_sms, allow_email FROM patient")).all()
    engine.dispose()
    return {r[0]: (r[1], r[2], r[3], bool(r[4]), bool(r[5])) for r in rows}


# -- write-back ----------------------------------------------------------------------------

@dataclass
class Logins:
    reader: str
    writer: str
    password_file: Path


@pytest.fixture
def logins(openemr: OpenEmr, tmp_path: Path) -> Iterator[Logins]:
    """A read-only login for the connector and one that may only UPDATE the events table."""
    database = openemr.database["database"]
    suffix = uuid.uuid4().hex[:10]
    reader, writer = f"cs_r_{suffix}", f"cs_w_{suffix}"
    openemr.execute(f"CREATE USER '{reader}'@'%' IDENTIFIED BY 'reader-pw'")
    openemr.execute(f"GRANT SELECT ON `{database}`.* TO '{reader}'@'%'")
    openemr.execute(f"CREATE USER '{writer}'@'%' IDENTIFIED BY 'writer-pw'")
    openemr.execute(f"GRANT SELECT (pc_eid), UPDATE (pc_apptstatus) ON `{database}`.openemr_postcalendar_events "
                    f"TO '{writer}'@'%'")  # as docs/connectors/sql.md advises
    password_file = tmp_path / "writer.secret"
    password_file.write_text("writer-pw\n")
    yield Logins(f"mysql://{reader}:reader-pw@127.0.0.1:3306/{database}",
                 f"mysql://{writer}@127.0.0.1:3306/{database}", password_file)
    openemr.execute(f"DROP USER '{reader}'@'%'")
    openemr.execute(f"DROP USER '{writer}'@'%'")


def _connector(logins: Logins, writer_url: str | None = None) -> SqlConnector:
    settings = SqlSettings.model_validate({
        "name": "openemr", "kind": "sql", "query_preset": "openemr", "url": logins.reader, "window": WINDOW,
        "writeback": {"url": writer_url or logins.writer, "password_file": str(logins.password_file),
                      "status_map": {"accepted": "SMS", "cancelled": "x"}}})
    return SqlConnector(settings)


def test_writeback_updates_pc_apptstatus_under_its_own_login(openemr: OpenEmr, logins: Logins,
                                                             write_settings: Callable[..., Path], cli: Any) -> None:
    run = cli(write_settings(preset_yaml(logins.reader)))
    run("sync", "--once", "--json")
    connector = _connector(logins)
    try:
        assert connector.check().ok
        connector.writeback(WritebackAction("100", "accepted"))
        connector.writeback(WritebackAction("102", "declined", appointment_status="cancelled"))
        with pytest.raises(WritebackUnsupported, match="no entry for 'tentative'"):
            connector.writeback(WritebackAction("104", "tentative"))
        with pytest.raises(FatalConnectorError, match="matched 0 rows"):
            connector.writeback(WritebackAction("9999", "accepted"))
    finally:
        connector.close()
    assert (openemr.status(100), openemr.status(102), openemr.status(104)) == ("SMS", "x", "?")
    _, out, _ = run("sync", "--once", "--json")
    after = json.loads(out)["connectors"]["openemr"]
    assert (after["cancelled"], after["updated"], after["unchanged"]) == (1, 0, 17)  # "SMS" is still booked

    # Configured by mistake with the read-only login, write-back fails for good and changes nothing.
    reader_without_password = logins.reader.replace(":reader-pw", "")
    logins.password_file.write_text("reader-pw")
    connector = _connector(logins, writer_url=reader_without_password)
    try:
        with pytest.raises(FatalConnectorError, match="UPDATE command denied"):
            connector.writeback(WritebackAction("104", "declined", appointment_status="cancelled"))
    finally:
        connector.close()
    assert openemr.status(104) == "?"


def test_a_visit_moved_past_the_window_on_openemrs_schema_is_moved_not_cancelled(
        openemr: OpenEmr, write_settings: Callable[..., Path], cli: Any) -> None:
    """OpenEMR's own tables, its preset's snapshot: the desk moves a visit further out than the
    window reaches (here 900 days with an 800-day window). The snapshot no longer lists it; it
    must be read past the window and moved, not deleted with a cancellation notice."""
    run = cli(write_settings(preset_yaml(openemr.url)))
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["connectors"]["openemr"]["created"] == 18
    far = date.today() + timedelta(days=900)
    openemr.execute("UPDATE openemr_postcalendar_events SET pc_eventDate = %s WHERE pc_eid = 101", far)
    _, out, _ = run("sync", "--once", "--json")
    moved = json.loads(out)["connectors"]["openemr"]
    assert (moved["rescheduled"], moved["deleted"], moved["cancelled"], moved["error"]) == (1, 0, 0, None)
    _, out, _ = run("appointments", "list", "--all", "--json")
    stored = {int(a["external_id"]): a for a in json.loads(out)["items"]}
    assert stored[101]["status"] == "booked" and stored[101]["start"].startswith(far.isoformat())
    _, out, _ = run("sync", "--once", "--json")  # stored past the window now: left alone, not read again
    again = json.loads(out)["connectors"]["openemr"]
    assert (again["fetched"], again["rescheduled"], again["deleted"]) == (17, 0, 0)
