"""Two runs' write-back stages overlapping (cron's `sync --once` beside a long run, a CronJob with
concurrencyPolicy Allow, `run` plus a manual `sync --once`, two replicas, or two connectors'
poll jobs of one `run` on PostgreSQL, which take no turns there), interleaved deterministically
with threads and events, on SQLite and PostgreSQL: an answer is written to its source once,
and a patient's later answer is never overwritten by an earlier one written late."""

from __future__ import annotations

import contextlib
import csv
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from clinicsync.common.types import utcnow
from clinicsync.connectors.base import WritebackAction
from clinicsync.connectors.csv_drop import CsvDropConnector
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.responses import writeback as writeback_module
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.responses.writeback import process_writebacks
from clinicsync.sync.store.locks import StageLockLost
from clinicsync.sync.store.model.responses import WRITEBACKS
from clinicsync.sync.store.store import Store
from tests.conftest import POSTGRES_URL
from tests.responses.test_writeback import csv_clinic, writebacks
from tests.sync.calendar.test_overlap import WAIT, Thread

PHONE = "+12125550101"


def lines(export: Path) -> list[str]:
    with export.open(newline="") as handle:
        return [row["participant_status"] for row in csv.DictReader(handle)]


def change_of_mind(store: Store) -> None:
    """The patient cancels through their answer link: a newer write-back of the same visit
    (as tests/responses/test_writeback.py's newest-answer test writes it)."""
    [first] = writebacks(store)
    with store.engine.begin() as connection:
        connection.execute(
            WRITEBACKS.insert().values(
                appointment_id=first.appointment_id,
                connector=first.connector,
                external_id=first.external_id,
                patient_ref=first.patient_ref,
                participant_status="declined",
                appointment_status="cancelled",
                status="pending",
                attempts=0,
                next_at=utcnow(),
                created_at=utcnow(),
            )
        )


def writing_yes(monkeypatch: pytest.MonkeyPatch, settings: Settings, store: Store) -> tuple[Thread, threading.Event]:
    """The patient answers "yes"; run A's write-back stage starts and waits, once at the write
    to the source, for the event returned."""
    reached, go = threading.Event(), threading.Event()
    original = CsvDropConnector.writeback

    def paused(self: CsvDropConnector, action: WritebackAction) -> None:
        if threading.current_thread().name == "A":
            reached.set()
            assert go.wait(WAIT)
        original(self, action)

    monkeypatch.setattr(CsvDropConnector, "writeback", paused)
    assert handle_reply(settings, store, "sms", PHONE, "yes", "SM1").outcome == "applied"
    run_a = Thread("A", lambda: process_writebacks(settings, store, utcnow()))
    run_a.start()
    assert reached.wait(WAIT)  # A is writing the answer to the source
    return run_a, go


@pytest.fixture
def clinic(drop_dir: Path, cli: Any, tmp_path: Path, write_settings: Callable[..., Path]) -> tuple[Settings, Path]:
    export = tmp_path / "out" / "responses.csv"
    return load_settings(csv_clinic(drop_dir, cli, write_settings, f"  responses_file: {export}\n")), export


def test_an_answer_is_written_once_by_two_overlapping_runs(
    clinic: tuple[Settings, Path], store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, export = clinic
    run_a, go = writing_yes(monkeypatch, settings, store)
    second = process_writebacks(settings, store, utcnow())  # B, while A writes
    go.set()
    first = run_a.outcome()
    assert first["done"] == 1
    assert second["done"] == 0 and second["busy"] == 1  # main: B wrote it too (done 1)
    assert lines(export) == ["accepted"]  # main: ["accepted", "accepted"]
    assert [r.status for r in writebacks(store)] == ["done"]


def test_a_later_answer_is_not_overwritten_by_an_earlier_one_written_late(
    clinic: tuple[Settings, Path], store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writes "yes"; the patient then cancels; B, overlapping, supersedes "yes" and writes the
    cancellation; A's "yes" lands after it. The source's import reads the last line per
    appointment: on main it reads "accepted" for a patient who cancelled."""
    settings, export = clinic
    run_a, go = writing_yes(monkeypatch, settings, store)
    change_of_mind(store)
    process_writebacks(settings, store, utcnow())  # B
    go.set()
    run_a.outcome()
    process_writebacks(settings, store, utcnow())  # the next run
    assert lines(export)[-1] == "declined"  # main: "accepted" (A's yes after B's cancellation)
    assert lines(export) == ["accepted", "declined"]
    assert [r.status for r in writebacks(store)] == ["done", "done"]


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_write_back_whose_lock_session_died_stops_before_its_next_write(
    clinic: tuple[Settings, Path], store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock's PostgreSQL session ends mid-stage (a network blip, a restart): another run may
    take the stage, so this one writes nothing more; the next run writes it."""
    settings, export = clinic
    assert handle_reply(settings, store, "sms", PHONE, "yes", "SM1").outcome == "applied"
    held_lock = writeback_module.stage_lock

    @contextlib.contextmanager
    def dying(engine: Any, stage: str) -> Iterator[Any]:
        with held_lock(engine, stage) as held:
            pid = held.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()  # type: ignore[union-attr]
            with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            yield held

    monkeypatch.setattr(writeback_module, "stage_lock", dying)
    with pytest.raises(StageLockLost):
        process_writebacks(settings, store, utcnow())
    assert not export.exists()  # main: written with no lock held
    monkeypatch.setattr(writeback_module, "stage_lock", held_lock)
    assert process_writebacks(settings, store, utcnow())["done"] == 1
    assert lines(export) == ["accepted"]
