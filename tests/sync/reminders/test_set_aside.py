"""One fault stays one fault (issue 28): in every post-sync stage, one appointment the stage
cannot handle is set aside with its reason and the stage goes on with everything else, on
SQLite and PostgreSQL. The poisons are rows as they reach a store from before the checks at
mapping existed: a start in the year 1 (.NET's empty date), a zone no longer known."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from clinicsync.sync.calendar.ics import IcsCalendar
from clinicsync.sync.calendar.push import push
from clinicsync.sync.config.settings.calendar import CalendarSettings
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.planner import CONSUMER
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.responses import writeback
from clinicsync.sync.runs.setaside import open_counts, open_items, request_retry
from clinicsync.sync.store.model import Appointment, EventConsumer
from clinicsync.sync.store.model.responses import WRITEBACKS
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put, states
from tests.sync.reminders.fakes import read_log

A = Appointment.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 6, 1, 16, tzinfo=UTC)
START = datetime(2026, 6, 12, 14, tzinfo=UTC)
BASE = ("quiet_hours: null\nagenda: {enabled: false}\noffsets: [1d]\nchannels: [sms]\n"
        "routes: {sms: texts, email: mails}")
PATIENTS = [f"P{i}" for i in range(1, 6)]


def healthy(count: int = 5, start: datetime = START) -> list[Any]:
    return [appointment(f"A{i}", start + timedelta(hours=i), patient=f"P{i}") for i in range(1, count + 1)]


def break_zone(store: Store, external_id: str) -> None:
    """A zone the runtime no longer knows (tzdata dropped it, or a row from before zones were checked)."""
    with store.engine.begin() as connection:
        connection.execute(update(A).where(A.c.external_id == external_id).values(timezone="Mars/Olympus_Mons"))


def listed(store: Store) -> list[tuple[str, str | None, str]]:
    with store.engine.connect() as connection:
        return [(i["stage"], i["appointment"], i["reason"]) for i in open_items(connection)]


def assert_no_phi(store: Store) -> None:
    for _stage, _appointment, reason in listed(store):
        for phi in ("Ana", "Ruiz", "+1212", "@example.org"):
            assert phi not in reason


def test_planning_sets_aside_a_year_1_start_and_plans_every_other_appointment(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE)
    put(store, appointment("A0", datetime(1, 1, 1, tzinfo=UTC), patient="P0"), *healthy())
    report = plan(settings, store, NOW)  # before: OverflowError, rolled back, the outbox stuck at 0
    assert report.events == 6
    planned = states(store)
    first = _id("A1", store)
    assert {k for k in planned if k.startswith(f"a{first}:")} == {f"a{first}:patient:confirmation:v1",
                                                                  f"a{first}:patient:reminder:1d:v1"}
    assert len(planned) == 10 and not any(k.startswith(f"a{_id('A0', store)}:") for k in planned)
    with store.engine.connect() as connection:
        offset = connection.execute(select(EventConsumer.__table__.c.last_event_id).where(  # type: ignore[attr-defined]
            EventConsumer.__table__.c.consumer == CONSUMER)).scalar_one()  # type: ignore[attr-defined]
    assert offset == 6  # the outbox went past the poisoned event
    assert listed(store) == [("reminders", "c1:A0", "OverflowError: date value out of range")]
    assert_no_phi(store)
    # Later bookings still plan; the item is not set aside twice by planning that does not meet it again.
    put(store, appointment("A9", START + timedelta(days=1), patient="P9"))
    assert plan(settings, store, NOW).planned == 2
    with store.engine.connect() as connection:
        assert open_counts(connection)["reminders"] == 1


def test_a_retry_after_the_fix_plans_the_set_aside_appointment(store: Store, reminder_settings: SettingsMaker,
                                                                 cli: Any, tmp_path: Path) -> None:
    settings = reminder_settings(BASE)
    put(store, appointment("A0", datetime(1, 1, 1, tzinfo=UTC), patient="P0"), *healthy(2))
    plan(settings, store, NOW)
    run = cli(tmp_path / "settings.yaml")
    [listed_item] = json.loads(run("set-aside", "list", "--all", "--json")[1])["items"]
    assert (listed_item["stage"], listed_item["appointment"], listed_item["status"]) == ("reminders", "c1:A0", "open")
    # Retried before the fix: it fails again and stays listed, counted twice.
    assert "1 item(s) will be retried" in run("set-aside", "retry", "--stage", "reminders")[1]
    plan(settings, store, NOW)
    with store.engine.connect() as connection:
        [item] = open_items(connection)
    assert (item["status"], item["attempts"]) == ("open", 2)
    # The fix: the source now gives the real date (here written straight into the row).
    with store.engine.begin() as connection:
        connection.execute(update(A).where(A.c.external_id == "A0").values(
            start_utc=START, end_utc=START + timedelta(minutes=30)))
    request_retry(store.engine)
    plan(settings, store, NOW)
    assert listed(store) == []
    assert f"a{_id('A0', store)}:patient:confirmation:v1" in states(store)


def test_replanning_after_a_settings_change_sets_aside_one_appointment_and_replans_the_rest(
        store: Store, reminder_settings: SettingsMaker) -> None:
    put(store, *healthy())
    plan(reminder_settings(BASE), store, NOW)
    break_zone(store, "A3")
    report = plan(reminder_settings(BASE.replace("offsets: [1d]", "offsets: [1d, 2h]")), store, NOW)
    assert report.replanned == 5 and report.planned == 4  # the 2 h reminder of each but A3
    assert [(s, a) for s, a, _ in listed(store)] == [("reminders", "c1:A3")]
    assert "Mars/Olympus_Mons" in listed(store)[0][2]  # a zone name is no patient's data


def test_dispatch_sets_aside_one_reminder_it_cannot_handle_and_sends_the_others(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(BASE)
    put(store, *healthy())
    plan(settings, store, NOW)
    break_zone(store, "A2")
    report = Dispatcher(settings, store, NOW).run().as_dict()
    assert report == {"sent": 4, "failed": 1, "skipped": 0, "unknown": 0}
    assert len(read_log(tmp_path / "texts.jsonl")) == 4
    key = f"a{_id('A2', store)}:patient:confirmation:v1"
    status, reason = states(store)[key]
    assert status == "failed" and reason is not None and reason.startswith("set aside: ")
    assert [(s, a) for s, a, _ in listed(store)] == [("dispatch", "c1:A2")]
    assert_no_phi(store)
    # A second run does not meet it again; after the fix, a retry sends it.
    assert Dispatcher(settings, store, NOW).run().as_dict()["sent"] == 0
    with store.engine.begin() as connection:
        connection.execute(update(A).where(A.c.external_id == "A2").values(timezone="America/New_York"))
    request_retry(store.engine, "dispatch")
    assert Dispatcher(settings, store, NOW).run().as_dict()["sent"] == 1
    assert states(store)[key][0] == "sent" and listed(store) == []


def test_an_agenda_leaves_out_the_visit_it_cannot_show_and_goes_to_the_doctor(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings("quiet_hours: null\nagenda: {enabled: true, at: '07:00'}\noffsets: []\n"
                                 "confirmation: false\nchannels: [email]\nroutes: {sms: texts, email: mails}")
    day = datetime(2026, 6, 2, 13, tzinfo=UTC)  # 09:00 in New York
    put(store, *healthy(3, day))
    break_zone(store, "A2")
    plan(settings, store, datetime(2026, 6, 1, 20, tzinfo=UTC))
    report = Dispatcher(settings, store, datetime(2026, 6, 2, 11, 5, tzinfo=UTC)).run().as_dict()
    assert report["sent"] == 1
    [mail] = read_log(tmp_path / "mails.jsonl")
    assert "Ana María Ruiz" in mail["body"] and mail["body"].count("Ana María Ruiz") == 2  # A1 and A3, not A2
    # planning met it first (its reminders), the agenda then: each stage lists it once
    assert sorted((s, a) for s, a, _ in listed(store)) == [("agenda", "c1:A2"), ("reminders", "c1:A2")]


def test_the_calendar_push_sets_aside_one_appointment_and_pushes_the_others(
        store: Store, tmp_path: Path) -> None:
    put(store, *healthy())
    break_zone(store, "A4")
    settings = CalendarSettings.model_validate({"provider": "ics", "ics": {"directory": "calendars"}},
                                               context={"base_dir": tmp_path})
    report = push(settings, store.engine, IcsCalendar(settings.ics), now=NOW).as_dict()
    assert report["inserted"] == 4 and report["failed"] == 0
    assert [(s, a) for s, a, _ in listed(store)] == [("calendar", "c1:A4")]
    # The stage is state-based: each pass tries again; once fixed, the item resolves itself.
    with store.engine.begin() as connection:
        connection.execute(update(A).where(A.c.external_id == "A4").values(timezone="America/New_York"))
    assert push(settings, store.engine, IcsCalendar(settings.ics), now=NOW).inserted == 1
    assert listed(store) == []


def test_write_back_sets_aside_one_answer_it_cannot_handle_and_writes_the_others(
        store: Store, reminder_settings: SettingsMaker, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = reminder_settings(BASE)
    put(store, *healthy())
    with store.engine.begin() as connection:
        for external_id, appointment_id in connection.execute(select(A.c.external_id, A.c.id)):
            connection.execute(WRITEBACKS.insert().values(
                appointment_id=appointment_id, connector="c1", external_id=external_id, participant_status="accepted",
                status="pending", attempts=0, next_at=NOW, created_at=NOW))
    real = writeback._write

    def poisoned(row: Any, configs: Any, connectors: Any) -> Any:
        if row.external_id == "A5":  # a bug met by one answer only (outside the connector's own errors)
            raise KeyError("ana@example.org")
        return real(row, configs, connectors)

    monkeypatch.setattr(writeback, "_write", poisoned)
    report = writeback.process_writebacks(settings, store, NOW)
    assert report == {"done": 0, "retrying": 4, "unsupported": 0, "superseded": 0, "set_aside": 1}
    [(stage, where, reason)] = listed(store)
    assert (stage, where) == ("writeback", "c1:A5") and "example.org" not in reason and reason.startswith("KeyError")
    with store.engine.connect() as connection:
        statuses = dict(connection.execute(select(WRITEBACKS.c.external_id, WRITEBACKS.c.status)).all())
    assert statuses["A5"] == "set_aside" and {statuses[f"A{i}"] for i in range(1, 5)} == {"pending"}
    monkeypatch.setattr(writeback, "_write", real)
    request_retry(store.engine)
    assert writeback.process_writebacks(settings, store, NOW + timedelta(seconds=1))["set_aside"] == 0
    assert listed(store) == []


def _id(external_id: str, store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(A.c.id).where(A.c.external_id == external_id)).scalar_one())
