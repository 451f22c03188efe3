"""Reads that run on every pass, page load or file write must not scan a table that grows
with the clinic's history (issue 32: "no scan that grows with the table"). Each case runs
the real function on a SQLite store, records the statements it sent and asks SQLite for
their plans: a full ``SCAN`` of a growing table fails the test. Found on a store inflated to
three years of a six-doctor practice (docs/performance.md, "Reads that grew with history").
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
from clinicsync.sync.model import Patient
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.store import Store
from clinicsync.sync.ui import queries
from tests.conftest import SettingsFactory
from tests.ui.seed import NOW, seed

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
GROWING = {"appointment", "reminder", "delivery", "event", "calendarlink", "icsevent", "patient", "syncrun"}


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
                table = re.match(r"SCAN (\w+)", step[-1])
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
    """Stop 52: each notifier's 7 days and newest attempt, through (notifier, created_at)."""
    found = queries.notifiers_health(store, NOW - timedelta(days=7))
    assert found and all("last_at" in entry for entry in found)
    return found


@pytest.mark.parametrize("read", [_funnel, _ics_file_order, _dispatch_people, _notifiers_health],
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
    """Stop 52: each sync pass's source-answer stage read every appointment ever imported for
    the few whose source answer is not their answer yet; ix_appointment_source_answer holds those."""
    from sqlalchemy import update

    from clinicsync.sync.model import Appointment
    from clinicsync.sync.responses.source_answers import record_source_answers
    from clinicsync.sync.settings import load_settings

    seed(store)
    table = Appointment.__table__  # type: ignore[attr-defined]
    with store.engine.begin() as connection:
        connection.execute(update(table).where(table.c.external_id == "A6").values(source_answer="accepted"))
    settings = load_settings(write_settings())
    with recorded(store.engine) as sent:
        assert record_source_answers(settings, store) == 1
    assert [s for s in scanned(store, sent) if "appointment" in s.split("::")[0]] == []
    assert record_source_answers(settings, store) == 0  # recorded: it left the index
