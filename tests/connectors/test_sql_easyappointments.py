"""Easy!Appointments through the SQL connector (issue 29): its real 1.5.2 schema in the
machine's MariaDB, the `easyappointments` preset in incremental mode, `clinicsync sync
--once` through the CLI. A row Easy!Appointments deletes (a patient cancelling on the
booking page) becomes a cancellation at the next delete sweep: the patient's notice is
planned and the visit's reminders are cancelled; when most rows vanish at once the safety
stop deletes nothing; and the sweep reads the id column alone."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pymysql
import pytest
from pydantic import ValidationError
from sqlalchemy import event, select, text, update

from clinicsync.connectors.sql import SqlConnector
from clinicsync.connectors.sql_settings import SqlSettings
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.model.sweeps import DeleteSweep
from tests.connectors.easyappointments_data import PROVIDERS, Booking, connect, insert_practice, load_schema

pytestmark = pytest.mark.mariadb
REMINDERS = """
notifiers:
  - {name: outbox, kind: outbox, directory: %s}
reminders:
  offsets: [3d, 1d]
  channels: [sms, email]
  routes: {sms: outbox, email: outbox, whatsapp: outbox}
  agenda: {enabled: false}
"""


@dataclass
class EasyAppointments:
    database: dict[str, Any]
    connection: pymysql.Connection  # type: ignore[type-arg]
    bookings: list[Booking]

    @property
    def url(self) -> str:
        return str(self.database["url"])

    def delete(self, *ids: int) -> None:
        """What Appointments_model::delete() does: the row is gone."""
        with self.connection.cursor() as cursor:
            cursor.executemany("DELETE FROM ea_appointments WHERE id = %s", [(i,) for i in ids])


@pytest.fixture
def ea(mariadb_database: dict[str, Any]) -> Iterator[EasyAppointments]:
    connection = connect(mariadb_database)
    load_schema(connection)
    yield EasyAppointments(mariadb_database, connection, insert_practice(connection))
    connection.close()


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def preset_yaml(url: str) -> str:
    """The whole connector, as docs/connectors/sql.md gives it: four lines."""
    return f"- name: ea\n  kind: sql\n  query_preset: easyappointments\n  url: \"{url}\"\n"


def an_hour_passes(store_url: str) -> None:
    """Move the last sweep an hour back, as if the default schedule (every 1h) had elapsed."""
    engine = make_engine(store_url)
    with engine.begin() as connection:
        table = DeleteSweep.__table__  # type: ignore[attr-defined]
        swept = connection.execute(select(table.c.swept_at).where(table.c.connector == "ea")).scalar_one()
        connection.execute(update(table).where(table.c.connector == "ea")
                           .values(swept_at=swept - timedelta(minutes=61)))
    engine.dispose()


def report_of(run: Any) -> dict[str, Any]:
    _, out, _ = run("sync", "--once", "--json")
    report: dict[str, Any] = json.loads(out)["connectors"]["ea"]
    return report


def messages_of(run: Any, appointment: str) -> list[dict[str, Any]]:
    _, out, _ = run("reminders", "list", "--all", "--json")
    return [m for m in json.loads(out)["items"] if m["appointment"] == appointment and m["recipient"] == "patient"]


def test_a_deleted_row_becomes_a_cancellation_at_the_next_sweep(
        ea: EasyAppointments, write_settings: Callable[..., Path], cli: Any, store_url: str, tmp_path: Path) -> None:
    run = cli(write_settings(preset_yaml(ea.url), REMINDERS % (tmp_path / "outbox")))
    first = report_of(run)
    assert first["error"] is None
    assert (first["created"], first["quarantined"], first["deleted"]) == (30, 0, 0)  # not the unavailability

    _, out, _ = run("appointments", "list", "--all", "--json")
    stored = {a["external_id"]: a for a in json.loads(out)["items"]}
    assert set(stored) == {str(b.id) for b in ea.bookings}
    one = ea.bookings[1]  # Ana Ruiz, Madrid: her wall clock, written out in UTC with her zone
    got = stored[str(one.id)]
    assert got["timezone"] == "Europe/Madrid" == PROVIDERS[1][4]
    assert got["start"] == one.start.replace(tzinfo=ZoneInfo(one.zone)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert got["practitioner"]["id"] == "2" and got["practitioner"]["name"] == "Ana Ruiz"
    assert got["patient"]["id"] == str(one.customer) and got["type"] == "Check-up"

    # The patient cancels on the booking page: Easy!Appointments deletes the row. A fetch
    # alone cannot see it (nothing changed to read), and the sweep is not due yet.
    victim = ea.bookings[7]
    ref = f"ea:{victim.id}"
    pending = [m for m in messages_of(run, ref) if m["status"] == "pending"]
    assert pending  # its reminders wait
    ea.delete(victim.id)
    quiet = report_of(run)
    assert (quiet["deleted"], quiet["error"]) == (0, None)
    assert {m["status"] for m in messages_of(run, ref) if m["kind"] == "reminder"} == {"pending"}

    an_hour_passes(store_url)
    _, out, _ = run("sync", "--once", "--dry-run", "--json")  # shows the deletion, stores nothing
    assert json.loads(out)["connectors"]["ea"]["deleted"] == 1
    swept = report_of(run)
    assert (swept["deleted"], swept["created"], swept["error"]) == (1, 0, None)
    _, out, _ = run("appointments", "show", ref, "--json")
    assert "deleted" in out
    after = messages_of(run, ref)
    assert {m["status"] for m in after if m["kind"] == "reminder"} == {"cancelled"}
    notices = [m for m in after if m["kind"] == "cancelled"]
    assert [m["status"] for m in notices] == ["pending"]  # the patient's cancellation notice, planned
    run("remind", "--once", "--at", notices[0]["due_at"])  # …and sent when due (out of quiet hours)
    sent = [m for m in messages_of(run, ref) if m["kind"] == "cancelled"]
    assert [m["status"] for m in sent] == ["sent"]
    _, out, _ = run("appointments", "list", "--all", "--json")
    assert len(json.loads(out)["items"]) == 29  # the others untouched

    an_hour_passes(store_url)
    again = report_of(run)  # a later sweep finds nothing more, and says nothing twice
    assert (again["deleted"], again["error"]) == (0, None)
    assert len([m for m in messages_of(run, ref) if m["kind"] == "cancelled"]) == 1


def test_the_safety_stop_deletes_nothing_when_most_rows_vanish(
        ea: EasyAppointments, write_settings: Callable[..., Path], cli: Any, store_url: str) -> None:
    run = cli(write_settings(preset_yaml(ea.url)))
    assert report_of(run)["created"] == 30
    ea.delete(*[b.id for b in ea.bookings[:20]])  # e.g. the query now reads the wrong database
    an_hour_passes(store_url)
    _, out, _ = run("sync", "--once", "--json", expect=1)
    report = json.loads(out)["connectors"]["ea"]
    assert report["deleted"] == 0
    assert "delete sweep safety stop: 20 of 30 future appointments" in report["error"]
    assert "max_delete_share" in report["error"]
    _, out, _ = run("appointments", "list", "--all", "--json")
    assert len(json.loads(out)["items"]) == 30
    # The stop stays visible: the next poll sweeps again (not an hour later) and stops again.
    _, out, _ = run("sync", "--once", "--json", expect=1)
    assert "safety stop" in json.loads(out)["connectors"]["ea"]["error"]


def test_the_sweep_reads_the_id_column_alone(ea: EasyAppointments) -> None:
    settings = SqlSettings.model_validate({"name": "ea", "query_preset": "easyappointments", "url": ea.url})
    connector = SqlConnector(settings)
    connector.id_columns = ("id",)
    check = connector.check()  # tells the admin how deletions are found
    assert check.ok and "found by the delete sweep (every 1h)" in check.detail
    statements: list[str] = []
    event.listen(connector.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_a: statements.append(statement))
    try:
        listing = connector.list_ids()
        sweep = [s for s in statements if "clinicsync_src" in s]
        assert len(sweep) == 1
        outer, _, inner = sweep[0].partition("FROM (")
        assert outer.strip() == "SELECT clinicsync_src.id"
        assert inner.strip().startswith("SELECT")  # the preset's own query, as the guard checked it
        assert sorted(int(r["id"]) for r in listing.records) == [b.id for b in ea.bookings]
        assert all(set(r) == {"id"} for r in listing.records)
        # What the database does for it: only ea_appointments is read; the customer,
        # provider, service and settings the fetch needs are resolved away.
        with connector.engine.connect() as connection:
            bound = re.sub(r"%\((\w+)\)s", r":\1", sweep[0]).replace("%%", "%")
            plan = connection.execute(text("EXPLAIN " + bound),
                                      {"window_start": "2000-01-01", "window_end": "2100-01-01"}).mappings().all()
        assert {row["table"] for row in plan} == {"a"}
    finally:
        connector.close()


@pytest.mark.parametrize(("given", "interval"), [("every 30m", "30m"), ("2h", "2h"), ({"interval": "15m"}, "15m")])
def test_delete_sweep_setting(given: Any, interval: str) -> None:
    base = {"name": "ea", "query_preset": "easyappointments", "url": "mysql://reader@db/ea"}
    assert SqlSettings.model_validate(base).delete_sweep.interval == "1h"  # type: ignore[union-attr]
    off = SqlSettings.model_validate({**base, "delete_sweep": "off"})
    assert off.delete_sweep is None and SqlConnector(off).sweep_schedule() is None  # never listed
    snapshot = SqlSettings.model_validate({**base, "mode": "snapshot"})  # reads the whole window anyway
    assert SqlConnector(snapshot).sweep_schedule() is None
    assert SqlSettings.model_validate({**base, "delete_sweep": given}).delete_sweep.interval == interval  # type: ignore[union-attr]
    with pytest.raises(ValidationError, match="delete_sweep goes with mode incremental"):
        SqlSettings.model_validate({**base, "mode": "snapshot", "delete_sweep": given})
    with pytest.raises(ValidationError, match="delete_sweep"):
        SqlSettings.model_validate({**base, "delete_sweep": "every other day"})
