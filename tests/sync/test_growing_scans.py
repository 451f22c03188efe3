"""Reads that run on every pass, page load or file write must not scan a table that grows
with the clinic's history (issue 32: "no scan that grows with the table"). Each case runs
the real function on a SQLite store, records the statements it sent and asks SQLite for
their plans: a full ``SCAN`` of a growing table fails the test. Found on a store inflated to
three years of a six-doctor practice (docs/performance.md, "The store over years").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from clinicsync.sync.calendar.ics_state import _mostly
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.store.model import Patient
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui import queries
from tests.conftest import SettingsFactory
from tests.ui.seed import NOW, seed

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
GROWING = {"appointment", "reminder", "delivery", "event", "calendarlink", "icsevent", "patient", "syncrun",
           "response", "writeback"}


@contextmanager
def recorded(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements ``engine`` sends meanwhile, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def scanned(store: Store, sent: list[tuple[str, Any]]) -> list[str]:
    """Each growing table a statement reads whole, with the statement's start."""
    found = []
    with store.engine.connect() as connection:
        for statement, parameters in sent:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            for step in plan:
                # a scan, or a search by the connector alone: that connector's whole history
                table = re.match(r"SCAN (\w+)", step[-1]) or re.match(r"SEARCH (\w+) USING .*\(connector=\?\)$",
                                                                       step[-1])
                if table and table.group(1) in GROWING:
                    found.append(f"{step[-1]} :: {statement[:120]}")
    return found


def _funnel(store: Store) -> object:
    return queries.funnel(store, NOW - timedelta(weeks=8), NOW)


def _ics_file_order(store: Store) -> object:
    with store.engine.connect() as connection:
        return _mostly(connection, "dr-a@clinic.example.org")


def _dispatch_people(store: Store) -> object:
    with store.engine.connect() as connection:
        return Dispatcher._by_key(connection, Patient.__table__,  # type: ignore[attr-defined]
                                  {("csv", "P1"), ("csv", "P2"), ("fhir", "P1")})


def _notifiers_health(store: Store) -> object:
    """Each notifier's 7 days and newest attempt, through (notifier, created_at)."""
    found = queries.notifiers_health(store, NOW - timedelta(days=7))
    assert found and all("last_at" in entry for entry in found)
    return found


def _scrape_reminders_replies_writebacks(store: Store) -> object:
    """/metrics counted every reminder, reply and write-back ever, at each scrape."""
    from clinicsync.sync.responses.metrics import response_gauges

    return list(response_gauges(store))


def _scrape_runs(store: Store) -> object:
    """/metrics counted every run kept (`store.run_history_days`) by connector and status."""
    from clinicsync.sync.server.metrics import sync_gauges

    return list(sync_gauges(store))


def _scrape_failing_links(store: Store) -> object:
    """/metrics' failing calendar links read every link ever written."""
    from clinicsync.sync.calendar.metrics import calendar_gauges

    return list(calendar_gauges(store))


def _calendar_health(store: Store) -> object:
    """The status page counted every calendar link by state."""
    return queries.calendar_health(store)


def _status_reminders_writebacks(store: Store) -> object:
    """`clinicsync status` counted every reminder and write-back by status."""
    from clinicsync.sync.reminders.queries import reminder_counts
    from clinicsync.sync.responses.writeback_status import writeback_status

    return reminder_counts(store, NOW), writeback_status(store, NOW)


def _poll_state(store: Store) -> object:
    """Every poll of every source reads its state (sync/runs/poll_state.py): its runs left running
    and its open quarantine items through (connector, status), never the run history."""
    from clinicsync.sync.ingest.engine import CRASHING, FAILING
    from clinicsync.sync.runs.poll_state import read_poll_state

    return read_poll_state(store.engine, "csv", [(FAILING, "csv", ""), (CRASHING, "csv", "")])


@pytest.mark.parametrize("read", [_poll_state, _funnel, _ics_file_order, _dispatch_people, _notifiers_health,
                                  _scrape_reminders_replies_writebacks, _scrape_runs, _scrape_failing_links,
                                  _calendar_health, _status_reminders_writebacks],
                         ids=lambda f: f.__name__)
def test_a_frequent_read_seeks_rather_than_scanning_history(store: Store, read: Callable[[Store], object]) -> None:
    seed(store)
    with recorded(store.engine) as sent:
        read(store)
    assert sent, "the read sent no statement: the test would prove nothing"
    assert scanned(store, sent) == []


def test_the_check_sees_a_scan(store: Store) -> None:
    """The probe itself: the row-value form the dispatcher used before is reported."""
    seed(store)
    statement = "SELECT * FROM patient WHERE (connector, external_id) IN (VALUES (?, ?), (?, ?))"
    assert scanned(store, [(statement, ("csv", "P1", "csv", "P2"))])


def test_the_source_answers_stage_reads_only_the_answers_not_recorded(store: Store,
                                                                      write_settings: SettingsFactory) -> None:
    """Each sync pass's source-answer stage read every appointment ever imported for
    the few whose source answer is not their answer yet; ix_appointment_source_answer holds those."""
    from sqlalchemy import update

    from clinicsync.sync.config.settings import load_settings
    from clinicsync.sync.responses.source_answers import record_source_answers
    from clinicsync.sync.store.model import Appointment

    seed(store)
    table = Appointment.__table__  # type: ignore[attr-defined]
    with store.engine.begin() as connection:
        connection.execute(update(table).where(table.c.external_id == "A6").values(source_answer="accepted"))
    settings = load_settings(write_settings())
    with recorded(store.engine) as sent:
        assert record_source_answers(settings, store) == 1
    assert [s for s in scanned(store, sent) if "appointment" in s.split("::")[0]] == []
    assert record_source_answers(settings, store) == 0  # recorded: it left the index


def test_the_bounded_figures_count_every_live_row_and_the_settled_rows_of_the_window(store: Store) -> None:
    """What the figures now mean. A reminder waiting or unknown is counted however old
    (the alert on unknown ones, the work to do); one sent or delivered is counted while due in
    the last ``RECENT`` (or later); a run still running however old; a pending or failing
    calendar link always."""
    from sqlalchemy import insert

    from clinicsync.common.types import utcnow
    from clinicsync.sync.reminders.queries import reminder_counts
    from clinicsync.sync.responses.metrics import response_gauges
    from clinicsync.sync.server.metrics import sync_gauges
    from clinicsync.sync.store.model import SyncRun
    from clinicsync.sync.store.model.calendar import LINKS
    from clinicsync.sync.store.model.reminders import REMINDERS
    from clinicsync.sync.store.model.responses import RESPONSES
    from clinicsync.sync.store.tables import RECENT

    ids = seed(store)
    before = reminder_counts(store, NOW)
    calendar = queries.calendar_health(store)
    long_ago = NOW - RECENT - timedelta(days=400)
    now = utcnow()

    def reminder(key: str, status: str, due: Any) -> dict[str, Any]:
        return {"key": key, "appointment_id": ids["A1"], "connector": "csv", "recipient": "patient",
                "kind": "reminder", "offset": "1d", "version": 1, "due_at": due, "status": status,
                "channel": "sms", "tried": "", "attempts": 0, "created_at": due, "updated_at": due}
    with store.engine.begin() as connection:
        connection.execute(insert(REMINDERS), [reminder("old-delivered", "delivered", long_ago),
                                               reminder("old-unknown", "unknown", long_ago),
                                               reminder("old-pending", "pending", long_ago),
                                               reminder("now-delivered", "delivered", now),
                                               reminder("now-old-delivered", "delivered", now - RECENT * 2)])
        connection.execute(insert(RESPONSES), [
            {"channel": "sms", "sender": "+12015550165", "body": "C", "language": "en", "action": "confirm",
             "outcome": "applied", "appointment_id": ids["A1"], "provider_id": f"SM{n}", "received_at": at}
            for n, at in enumerate([now, now - RECENT * 2])])
        connection.execute(insert(SyncRun.__table__), [  # type: ignore[attr-defined]  # in the order runs start
            {"run_id": f"x{n}", "connector": "fhir", "status": status, "counts": "{}", "started_at": at}
            for n, (status, at) in enumerate([("ok", now - RECENT * 2), ("running", now - RECENT * 2), ("ok", now)])])
        connection.execute(insert(LINKS), [
            {"appointment_id": ids["A1"], "provider": "ics", "account": "", "calendar_id": "hart", "event_id": "e1",
             "state": "present", "attempts": 0, "updated_at": long_ago},
            {"appointment_id": ids["A2"], "provider": "ics", "account": "", "calendar_id": "hart", "event_id": "e2",
             "state": "pending", "attempts": 1, "last_error": "503", "updated_at": long_ago}])

    after = reminder_counts(store, NOW)
    # the two due at the test's real time and two weeks before are after NOW's window start; the
    # one due 400 days before it is not counted
    assert after["delivered"] == before["delivered"] + 2
    assert (after["unknown"], after["pending"]) == (before["unknown"] + 1, before["pending"] + 1)
    # a link of a visit 8 days before NOW still pending and failing is counted
    assert queries.calendar_health(store) == {"pending": calendar["pending"] + 1, "failing": calendar["failing"] + 1}
    scraped = {(family.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in [*response_gauges(store), *sync_gauges(store)] for sample in family.samples}
    assert scraped[("clinicsync_reminders", (("channel", "sms"), ("status", "delivered")))] == 1
    assert scraped[("clinicsync_reminders", (("channel", "sms"), ("status", "unknown")))] == 2  # seed's r8
    assert scraped[("clinicsync_responses", (("action", "confirm"), ("outcome", "applied")))] == 1
    assert scraped[("clinicsync_sync_runs", (("connector", "fhir"), ("status", "ok")))] == 1
    assert scraped[("clinicsync_sync_runs", (("connector", "fhir"), ("status", "running")))] == 1
