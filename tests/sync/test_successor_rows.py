"""A product that reschedules by keeping the old row ("rescheduled") and booking a new row that
names it (`replaces`), on the real PostgreSQL, through the CLI as an admin runs it: after
go-live, each move is ONE moved visit: the patient gets exactly one "moved" notice (no
"cancelled" for the old row, no confirmation for the new one), the old time keeps no pending
reminder, a second move before the notice went out leaves one notice for the same visit, and a later
change of the old row changes nothing."""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import Engine, event, insert, text

from clinicsync.sync.ingest.supersede import listed_visits
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import BOOKING_ALIASES

ZONE = "America/Chicago"
DDL = """
CREATE TABLE visits (
  id serial PRIMARY KEY, patient_id integer NOT NULL, patient_name text NOT NULL, phone text NOT NULL,
  starts_at timestamp NOT NULL, status text NOT NULL, rescheduled_from integer,
  updated_at timestamp NOT NULL);
"""
QUERY = ("SELECT id, patient_id, patient_name, phone, starts_at, status, rescheduled_from, updated_at "
         "FROM visits")
MAPPING = """\
name: successor
status_map: {scheduled: booked, rescheduled: cancelled}
fields:
  external_id: {from: id}
  start: {from: starts_at}
  duration_minutes: {value: 30}
  status: {from: status}
  replaces: {from: rescheduled_from}
  patient.external_id: {from: patient_id}
  patient.name: {from: patient_name}
  patient.phone: {from: phone}
  source_updated_at: {from: updated_at}
"""
SETTINGS = """
notifiers:
  - {name: outbox, kind: outbox, directory: %s}
reminders:
  offsets: [3d, 1d]
  channels: [sms]
  routes: {sms: outbox, email: outbox, whatsapp: outbox}
  agenda: {enabled: false}
"""
NOTICES = {"confirmation", "rescheduled", "cancelled"}


def local_now() -> datetime:
    return datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)


@pytest.fixture
def source() -> Iterator[Engine]:
    from tests.conftest import postgres_schema

    with postgres_schema() as url:
        engine = make_engine(url)
        now = local_now()
        with engine.begin() as connection:
            connection.exec_driver_sql(DDL)
            connection.execute(text(
                "INSERT INTO visits (patient_id, patient_name, phone, starts_at, status, updated_at) "
                "VALUES (:p, :n, :ph, :s, 'scheduled', :u)"),
                [{"p": n, "n": f"Pat{n} Example", "ph": f"+1312555{1000 + n:04d}",
                  "s": (now + timedelta(days=5 + n)).replace(hour=10, minute=0, second=0),
                  "u": now - timedelta(days=20)} for n in range(1, 7)])
        engine.url_string = url  # type: ignore[attr-defined]
        yield engine
        engine.dispose()


def _settings(source: Engine, folder: Path, write_settings: Callable[..., Path], more: str = "") -> Path:
    """settings.yaml for the practice database as a SQL source with ``more`` on its connector."""
    (folder / "successor.yaml").write_text(MAPPING, encoding="utf-8")
    url = source.url_string  # type: ignore[attr-defined]
    connector = textwrap.dedent(f"""\
        - name: practice
          kind: sql
          url: "{url}"
          query: "{QUERY}"
          mapping: {folder / 'successor.yaml'}
          cursor_column: updated_at
          timezone: {ZONE}
        """) + (f"  {more}\n" if more else "")
    return write_settings(connector, extra=SETTINGS % (folder / "outbox"), timezone=ZONE)


def _move(engine: Engine, old: int, days: int) -> int:
    """What the product does: the old row gets the word, a new row at the new time names it."""
    now = local_now()
    with engine.begin() as connection:
        connection.execute(text("UPDATE visits SET status = 'rescheduled', updated_at = :u WHERE id = :id"),
                           {"u": now, "id": old})
        return int(connection.execute(text(
            "INSERT INTO visits (patient_id, patient_name, phone, starts_at, status, rescheduled_from, updated_at) "
            "SELECT patient_id, patient_name, phone, starts_at + make_interval(days => :d), 'scheduled', id, :u "
            "FROM visits WHERE id = :id RETURNING id"), {"d": days, "u": now, "id": old}).scalar_one())


@pytest.mark.postgres
def test_a_move_by_successor_rows_is_one_moved_notice(source: Engine, tmp_path: Path,
                                                      write_settings: Callable[..., Path], cli: Any) -> None:
    run = cli(_settings(source, tmp_path, write_settings))

    def messages() -> list[dict[str, Any]]:
        _, out, _ = run("reminders", "list", "--all", "--json")
        return [m for m in json.loads(out)["items"] if m["recipient"] == "patient"]

    def stored() -> dict[str, dict[str, Any]]:
        _, out, _ = run("appointments", "list", "--all", "--json")
        return {a["external_id"]: a for a in json.loads(out)["items"]}

    run("sync", "--once", "--json")  # go-live: six visits, nobody told
    assert len(stored()) == 6 and not [m for m in messages() if m["kind"] in NOTICES]
    before = stored()["2"]["start"]

    new = _move(source, 2, 3)
    _, out, _ = run("sync", "--once", "--json")
    counts = json.loads(out)["connectors"]["practice"]
    assert counts["created"] == 0 and counts["rescheduled"] == 1, counts
    visits = stored()
    assert set(visits) == {"1", "2", "3", "4", "5", "6"} and str(new) not in visits  # one visit, its first id
    assert visits["2"]["status"] == "booked" and visits["2"]["start"] != before
    told = Counter((m["kind"], m["appointment"]) for m in messages() if m["kind"] in NOTICES)
    assert told == Counter({("rescheduled", "practice:2"): 1})
    pending = [m for m in messages() if m["appointment"] == "practice:2" and m["status"] == "pending"
               and m["kind"] not in NOTICES]
    moved_to = datetime.fromisoformat(visits["2"]["start"])
    assert pending and all(datetime.fromisoformat(m["due_at"]) > moved_to - timedelta(days=4) for m in pending)

    newer = _move(source, new, 1)  # moved again: the new row gets the word, a third row names it
    run("sync", "--once", "--json")
    visits = stored()
    assert set(visits) == {"1", "2", "3", "4", "5", "6"} and str(newer) not in visits
    assert datetime.fromisoformat(visits["2"]["start"]) == moved_to + timedelta(days=1)
    told = Counter((m["kind"], m["appointment"]) for m in messages() if m["kind"] in NOTICES)
    assert told == Counter({("rescheduled", "practice:2"): 1})  # the unsent notice now names the newer time

    with source.begin() as connection:  # the old rows touched again (an audit column, say): old news
        connection.execute(text("UPDATE visits SET updated_at = :u WHERE id IN (2, :new)"),
                           {"u": local_now() + timedelta(seconds=1), "new": new})
    _, out, _ = run("sync", "--once", "--json")
    counts = json.loads(out)["connectors"]["practice"]
    assert counts["cancelled"] == 0 and counts["rescheduled"] == 0, counts
    assert stored()["2"]["status"] == "booked"
    assert sum(1 for m in messages() if m["kind"] in NOTICES) == 1
    assert datetime.now(UTC) < moved_to.astimezone(UTC)


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_delete_sweep_finds_a_moved_visit_by_its_newest_row(source: Engine, tmp_path: Path,
                                                                write_settings: Callable[..., Path], cli: Any) -> None:
    """The sweep lists row ids: the moved visit is listed by its newest row, so it stays when its
    old row is gone (purged at the source) and is deleted only when its newest row is."""
    run = cli(_settings(source, tmp_path, write_settings, "delete_sweep: every 1m"))

    def sync_later(minutes: int) -> dict[str, Any]:
        with time_machine.travel(datetime.now(UTC) + timedelta(minutes=minutes)):
            _, out, _ = run("sync", "--once", "--json")
        return dict(json.loads(out)["connectors"]["practice"])

    def booked() -> set[str]:
        _, out, _ = run("appointments", "list", "--all", "--json")
        return {a["external_id"] for a in json.loads(out)["items"] if a["status"] == "booked"}

    run("sync", "--once", "--json")
    new = _move(source, 2, 3)
    run("sync", "--once", "--json")
    with source.begin() as connection:  # the product purges the old row of the move
        connection.execute(text("DELETE FROM visits WHERE id = 2"))
    counts = sync_later(2)  # the sweep is due
    assert counts["deleted"] == 0, counts
    assert booked() == {"1", "2", "3", "4", "5", "6"}
    with source.begin() as connection:  # now the visit's newest row is deleted: the visit is gone
        connection.execute(text("DELETE FROM visits WHERE id = :id"), {"id": new})
    counts = sync_later(4)
    assert counts["deleted"] == 1, counts
    assert booked() == {"1", "3", "4", "5", "6"}


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_an_old_row_retried_after_a_mapping_fix_stays_old_news(source: Engine, tmp_path: Path,
                                                                write_settings: Callable[..., Path], cli: Any) -> None:
    """The admin forgot the word: the old row of a move is quarantined ("unknown status word"),
    its successor moves the visit. Once the word is mapped, `quarantine retry --all` closes the
    old row's item without cancelling the visit or telling anyone anything more."""
    run = cli(_settings(source, tmp_path, write_settings))
    mapping = tmp_path / "successor.yaml"
    mapping.write_text(MAPPING.replace(", rescheduled: cancelled", ""), encoding="utf-8")
    run("sync", "--once", "--json")
    _move(source, 2, 3)
    _, out, _ = run("sync", "--once", "--json")
    counts = json.loads(out)["connectors"]["practice"]
    assert counts["quarantined"] == 1 and counts["rescheduled"] == 1, counts

    mapping.write_text(MAPPING, encoding="utf-8")  # the fix
    _, out, _ = run("quarantine", "retry", "--all", "--json")
    assert [o["result"] for o in json.loads(out)] == ["imported"]
    run("sync", "--once", "--json")
    _, out, _ = run("appointments", "list", "--all", "--json")
    assert {a["external_id"]: a["status"] for a in json.loads(out)["items"]}["2"] == "booked"
    _, out, _ = run("reminders", "list", "--all", "--json")
    told = Counter((m["kind"], m["appointment"]) for m in json.loads(out)["items"]
                   if m["recipient"] == "patient" and m["kind"] in NOTICES)
    assert told == Counter({("rescheduled", "practice:2"): 1})
    _, out, _ = run("status", "--json")
    assert json.loads(out)["connectors"][0]["quarantined"] == 0


def test_chains_are_read_for_a_listing_of_thousands(store: Store) -> None:
    """A sweep lists every row id of its window: the chains are read in chunks the store's
    driver takes, each row under its chain's first id, a replaced row under none."""
    now = datetime.now(UTC)
    edges = [{"connector": "practice", "alias": f"B{n}", "external_id": f"A{n}", "created_at": now}
             for n in range(1500)]
    edges += [{"connector": "practice", "alias": f"C{n}", "external_id": f"B{n}", "created_at": now}
              for n in range(0, 1500, 3)]
    with store.engine.begin() as connection:
        connection.execute(insert(BOOKING_ALIASES), edges)
    listing = {f"B{n}" for n in range(1500)} | {f"C{n}" for n in range(0, 1500, 3)} | {f"X{n}" for n in range(900)}
    bound: list[int] = []  # the values each read of the chains binds (SQLite's oldest limit: 999)

    def count(connection: object, cursor: object, statement: str, parameters: object, *args: object) -> None:
        if "bookingalias" in statement.lower():
            bound.append(len(parameters) if isinstance(parameters, tuple | list | dict) else 0)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        assert listed_visits(store, "practice", listing) == {f"A{n}" for n in range(1500)} | {
            f"X{n}" for n in range(900)}
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len(bound) > 1 and max(bound) <= 999, bound  # read in chunks, each within the limit
    assert listed_visits(store, "other", {"B1"}) == {"B1"}
