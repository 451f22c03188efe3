"""The collector is tuned only while a bulk stage runs, and always restored: nested and
concurrent stages, an exception, a process that switched collection off, and a real sync."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clinicsync.common.gc_tuning import BULK_THRESHOLD, bulk_stage


@pytest.fixture(autouse=True)
def default_thresholds() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*saved)


def test_the_threshold_is_raised_inside_and_restored_after(default_thresholds: tuple[int, int, int]) -> None:
    with bulk_stage():
        assert gc.get_threshold() == (BULK_THRESHOLD, 10, 10)
        with bulk_stage():
            assert gc.get_threshold()[0] == BULK_THRESHOLD
        assert gc.get_threshold()[0] == BULK_THRESHOLD  # the outer stage still runs
    assert gc.get_threshold() == default_thresholds


def test_an_exception_restores_the_thresholds(default_thresholds: tuple[int, int, int]) -> None:
    with pytest.raises(RuntimeError), bulk_stage():
        raise RuntimeError("the poll failed")
    assert gc.get_threshold() == default_thresholds


def test_overlapping_stages_in_two_threads_restore_once_both_end(default_thresholds: tuple[int, int, int]) -> None:
    entered, release = threading.Event(), threading.Event()

    def other_stage() -> None:
        with bulk_stage():
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=other_stage)
    with bulk_stage():
        thread.start()
        assert entered.wait(5)
    assert gc.get_threshold()[0] == BULK_THRESHOLD  # the other thread's stage still runs
    release.set()
    thread.join(5)
    assert gc.get_threshold() == default_thresholds


def test_a_process_that_tuned_or_disabled_collection_keeps_its_choice() -> None:
    for thresholds in ((0, 10, 10), (200_000, 5, 5)):
        gc.set_threshold(*thresholds)
        with bulk_stage():
            assert gc.get_threshold() == thresholds
        assert gc.get_threshold() == thresholds


def test_a_sync_runs_as_a_bulk_stage(tmp_path: Path, default_thresholds: tuple[int, int, int],
                                     write_settings: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen from inside a poll: the connector's fetch runs with the raised threshold."""
    from clinicsync.connectors.csv_drop import CsvDropConnector
    from clinicsync.sync.config.settings import load_settings
    from clinicsync.sync.ingest.engine import sync_once
    from clinicsync.sync.store.store import Store

    seen: list[int] = []
    original = CsvDropConnector.fetch

    def watched(self: Any, cursor: Any) -> Any:
        seen.append(gc.get_threshold()[0])
        yield from original(self, cursor)

    monkeypatch.setattr(CsvDropConnector, "fetch", watched)
    (tmp_path / "drop").mkdir()
    connector = f"- {{name: drop, kind: csv, mapping: csv_default, drop_dir: {tmp_path / 'drop'}}}\n"
    settings = load_settings(write_settings(connector))
    store = Store.open(settings.store)
    try:
        sync_once(settings, store)
    finally:
        store.close()
    assert seen == [BULK_THRESHOLD]
    assert gc.get_threshold() == default_thresholds


def test_the_later_stages_of_a_run_are_bulk_stages_too(default_thresholds: tuple[int, int, int],
                                                       write_settings: Callable[..., Path],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`sync --once` and the service run the calendar push and the planning after the poll:
    they build rows in bulk as well."""
    from clinicsync.sync.config.settings import load_settings
    from clinicsync.sync.service import pipeline
    from clinicsync.sync.store.store import Store

    seen: list[int] = []

    def watching(settings: Any, store: Any, run_id: str, progress: Any = None) -> dict[str, Any]:
        seen.append(gc.get_threshold()[0])
        return {}

    monkeypatch.setattr(pipeline, "stages", lambda: [pipeline.Stage("watching", watching)])
    settings = load_settings(write_settings())
    store = Store.open(settings.store)
    try:
        report = pipeline.run_once(settings, store)
    finally:
        store.close()
    assert report.extras == {"watching": {}}
    assert seen == [BULK_THRESHOLD]
    assert gc.get_threshold() == default_thresholds


def test_the_cli_start_pause_freezes_what_it_built_and_switches_collection_back_on() -> None:
    from clinicsync.common.gc_tuning import pause_during_start, resume_after_start

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    pause_during_start()
    try:
        assert not gc.isenabled()
        kept = [[n] for n in range(1000)]  # what a start builds: it lives on, frozen
    finally:
        resume_after_start()
    try:
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + len(kept)
    finally:
        gc.unfreeze()  # the test process's heap goes back to the collector
    resume_after_start()  # a second call (an in-process invocation that never paused) changes nothing
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_process_that_switched_collection_off_keeps_it_off_after_the_start() -> None:
    from clinicsync.common.gc_tuning import pause_during_start, resume_after_start

    gc.disable()
    try:
        pause_during_start()
        resume_after_start()
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_a_cli_command_runs_its_own_work_with_collection_on(tmp_path: Path) -> None:
    """A real `clinicsync status`: paused from the entry to the root callback's end, then on, with
    the start's objects frozen; an in-process invocation (CliRunner) never pauses."""
    import json
    import subprocess
    import sys
    import textwrap

    from tests.cli_start.conftest import settings_text

    (tmp_path / "settings.yaml").write_text(settings_text(tmp_path), encoding="utf-8")
    probe = textwrap.dedent("""\
        import gc, json, sys
        from clinicsync.sync.cli import app
        import clinicsync.sync.cli.main as cli
        seen = []
        resolve = cli.resolve_format  # called by the command's body, after the root callback

        def watched(*args, **kwargs):
            seen.append([gc.isenabled(), gc.get_freeze_count()])
            return resolve(*args, **kwargs)

        cli.resolve_format = watched
        try:
            app(["status", "--format", "json"], prog_name="clinicsync")
        except SystemExit as exc:
            sys.stderr.write("SEEN " + json.dumps([exc.code, seen]))
        """)
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          check=False)
    code, seen = json.loads(done.stderr.rsplit("SEEN ", 1)[-1])
    assert code == 0, done.stderr
    ((enabled, frozen),) = seen
    assert enabled and frozen > 50_000, seen  # typer, SQLAlchemy, pydantic, the settings: ~100,000 objects
