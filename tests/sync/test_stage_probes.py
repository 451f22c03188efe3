"""A stage with nothing to do is neither imported nor run by `sync --once` (issue 60), and a
stage with work is never skipped (sync/checks/stage_probes.py, sync/service/pipeline.py): for each
probe, a change in what the stage reads makes it run; an unchanged store skips it, with the
report it would give. The calendar and the reminders are state-based: a moved visit, a
template edit, the next day, a set-aside retry each make the calendar run again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import insert, select, update

from clinicsync.sync.checks import stage_probes
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.responses.source_answers import ACTIONS
from clinicsync.sync.service import pipeline
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import APPOINTMENTS, RUN_STAGES, SET_ASIDE, WAITLIST_ENTRIES, WRITEBACKS
from tests.conftest import SettingsFactory
from tests.sync.calendar.helpers import apply, appointment, moved

ALL = ["waitlist_sources", "waitlist_book", "calendar", "source_answers", "reminders", "writeback", "waitlist"]
CALENDAR = """
calendar:
  provider: ics
  ics: {directory: calendars}
  summary: "{{ type }} with {{ patient_initials }}"
reminders:
  offsets: [1d]
  agenda: {enabled: true, at: "07:00"}
"""


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The stages whose module was imported and run, in order."""
    seen: list[str] = []
    call = pipeline.Lazy.__call__
    keys = {stage.run.name: stage.key for stage in pipeline.stages() if isinstance(stage.run, pipeline.Lazy)}

    def counting(self: pipeline.Lazy, *args: Any, **kwargs: Any) -> Any:
        seen.append(keys[self.name])
        return call(self, *args, **kwargs)

    monkeypatch.setattr(pipeline.Lazy, "__call__", counting)
    yield seen


def settings_for(write_settings: SettingsFactory, extra: str = CALENDAR) -> Settings:
    return load_settings(write_settings(extra=extra))


def run(settings: Settings, store: Store, ran: list[str]) -> tuple[list[str], dict[str, Any]]:
    """One `sync --once` (no connector: the store is changed by the test); the stages run and the report."""
    ran.clear()
    report = pipeline.run_once(settings, store)
    assert not report.failed, report.as_dict()
    return list(ran), {key: report.extras[key] for key in ALL}


def settle(settings: Settings, store: Store, ran: list[str]) -> dict[str, Any]:
    """Run until a run skips every stage; the report of that run."""
    for _ in range(4):
        stages, extras = run(settings, store, ran)
        if not stages:
            return extras
    raise AssertionError(f"stages still run with nothing new: {stages}")


def test_an_unchanged_store_runs_no_stage_and_reports_what_the_stages_would(
        store: Store, write_settings: SettingsFactory, ran: list[str]) -> None:
    settings = settings_for(write_settings)
    apply(store, appointment("A1"), appointment("A2", start=moved(appointment("A1"), 60).start))
    first, _ = run(settings, store, ran)
    assert first == ["calendar", "reminders"]  # two new visits: the others have nothing to do
    idle = settle(settings, store, ran)
    stages, again = run(settings, store, ran)
    assert stages == [] and again == idle
    assert idle["calendar"] == {"inserted": 0, "patched": 0, "deleted": 0, "unchanged": 2, "failed": 0, "skipped": 0}
    assert idle["waitlist"] == {"enabled": False} and idle["source_answers"] == {"recorded": 0}
    assert idle["writeback"] == dict.fromkeys(stage_probes.WRITEBACK_COUNTS, 0)
    assert idle["waitlist_book"] == dict.fromkeys(stage_probes.BOOKING_OUTCOMES, 0)
    assert idle["waitlist_sources"] == {"expired": 0, "sources": {}}
    with store.engine.connect() as connection:  # status: the run looked at each stage, finished, nothing to do
        rows = connection.execute(select(RUN_STAGES.c.stage, RUN_STAGES.c.status, RUN_STAGES.c.rows,
                                         RUN_STAGES.c.finished_at).order_by(RUN_STAGES.c.id.desc()).limit(7)).all()
    assert [r.stage for r in reversed(rows)] == ALL
    assert all(r.status == "ok" and r.rows == 0 and r.finished_at is not None for r in rows)


def test_a_moved_visit_runs_the_calendar_and_the_planning(store: Store, write_settings: SettingsFactory,
                                                          ran: list[str]) -> None:
    settings = settings_for(write_settings)
    apply(store, appointment("A1"))
    settle(settings, store, ran)
    apply(store, moved(appointment("A1"), 30))
    stages, extras = run(settings, store, ran)
    assert stages == ["calendar", "reminders"]
    assert extras["calendar"]["patched"] == 1
    assert extras["reminders"]["events"] == 1


def test_a_template_edit_runs_the_calendar(store: Store, write_settings: SettingsFactory, ran: list[str]) -> None:
    apply(store, appointment("A1"))
    settle(settings_for(write_settings), store, ran)
    edited = settings_for(write_settings, CALENDAR.replace("with {{ patient_initials }}", "for {{ patient_initials }}"))
    stages, extras = run(edited, store, ran)
    assert "calendar" in stages
    assert extras["calendar"]["patched"] == 1


def test_the_next_day_runs_the_calendar_and_the_agenda(store: Store, write_settings: SettingsFactory,
                                                       ran: list[str]) -> None:
    settings = settings_for(write_settings)
    apply(store, appointment("A1"))
    settle(settings, store, ran)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=1), tick=False):
        stages, _ = run(settings, store, ran)
    assert stages == ["calendar", "reminders"]


def test_a_calendar_retry_or_a_visit_set_aside_runs_the_calendar(store: Store, write_settings: SettingsFactory,
                                                                 ran: list[str]) -> None:
    settings = settings_for(write_settings)
    apply(store, appointment("A1"))
    settle(settings, store, ran)
    now = datetime.now(UTC)
    with store.engine.begin() as connection:
        connection.execute(insert(SET_ASIDE).values(stage="calendar", item="appointment:999", reason="boom",
                                                    status="retry", attempts=1, first_at=now, last_at=now))
    stages, _ = run(settings, store, ran)
    assert "calendar" in stages


def test_a_stage_failing_last_run_runs_again(store: Store, write_settings: SettingsFactory, ran: list[str]) -> None:
    settings = settings_for(write_settings)
    settle(settings, store, ran)
    pipeline.STAGE_FAILED.seen(store.engine, pipeline.log, "writeback", state="it broke")
    stages, _ = run(settings, store, ran)
    assert stages == ["writeback"]
    assert run(settings, store, ran)[0] == []  # it worked: its failure ended, nothing to do


def test_a_pending_writeback_runs_the_writeback(store: Store, write_settings: SettingsFactory,
                                               ran: list[str]) -> None:
    settings = settings_for(write_settings)
    apply(store, appointment("A1"))
    settle(settings, store, ran)
    now = datetime.now(UTC)
    with store.engine.begin() as connection:
        appointment_id = connection.execute(select(APPOINTMENTS.c.id)).scalar()
        connection.execute(insert(WRITEBACKS).values(
            appointment_id=appointment_id, connector="gone", external_id="A1", participant_status="accepted",
            appointment_status=None, patient_ref="P1", status="pending", attempts=0, next_at=now, created_at=now))
    stages, extras = run(settings, store, ran)
    assert stages == ["writeback"]
    assert extras["writeback"]["retrying"] == 1  # its connector is not configured: tried, kept pending


def test_a_source_answer_runs_the_source_answers(store: Store, write_settings: SettingsFactory,
                                                ran: list[str]) -> None:
    settings = settings_for(write_settings)
    apply(store, appointment("A1"))
    settle(settings, store, ran)
    with store.engine.begin() as connection:
        connection.execute(update(APPOINTMENTS).values(source_answer="accepted"))
    stages, extras = run(settings, store, ran)
    assert stages[0] == "source_answers"
    assert extras["source_answers"] == {"recorded": 1}


def test_the_waiting_list_on_or_an_entry_expiring_runs_its_stages(store: Store, write_settings: SettingsFactory,
                                                                  ran: list[str]) -> None:
    settings = settings_for(write_settings)
    settle(settings, store, ran)
    now = datetime.now(UTC)
    with store.engine.begin() as connection:
        connection.execute(insert(WAITLIST_ENTRIES).values(
            connector="csv", external_id="W1", patient_ref="P1", timezone="America/New_York", priority=0,
            waiting_since=now - timedelta(days=2), expires_at=now - timedelta(minutes=1), status="waiting",
            content_hash="x", updated_at=now))
    stages, extras = run(settings, store, ran)
    assert stages == ["waitlist_sources"]
    assert extras["waitlist_sources"]["expired"] == 1
    on = settings_for(write_settings, CALENDAR + "waitlist:\n  enabled: true\n")
    ran.clear()
    pipeline.run_once(on, store)  # fails: offers need the server's link settings; it ran to say so
    assert ran[-1] == "waitlist"  # (the calendar and the planning too: their settings digest changed)


def test_the_probes_look_for_the_answers_the_stage_records() -> None:
    assert tuple(ACTIONS) == stage_probes.SOURCE_ANSWERS


def test_a_probe_that_cannot_read_the_store_is_work(store: Store, write_settings: SettingsFactory,
                                                    monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = settings_for(write_settings)

    def broken(*args: Any) -> Any:
        raise RuntimeError("no store")

    stage = pipeline.Stage("writeback", pipeline.Lazy("x", "y"), broken)
    assert pipeline._probe(settings, store, stage) == stage_probes.Verdict.work()
