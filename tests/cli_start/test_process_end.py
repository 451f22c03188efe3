"""The `clinicsync` process ends without the interpreter's teardown after a command that asked
(sync/cli/process_end.py, issue 60), and otherwise exactly as Python ends it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.cli_start.conftest import Run, settings_text

PROBE = """
import sys, atexit, threading, time
from clinicsync.sync.cli import process_end

class Noisy:
    def __del__(self):
        sys.stderr.write("teardown\\n")

kept = Noisy()  # a module global: freed by the interpreter's teardown, and only by it
atexit.register(lambda: sys.stderr.write("atexit\\n"))

def late():
    time.sleep(0.2)
    sys.stdout.write("thread done\\n")

def app():
    threading.Thread(target=late).start()  # not a daemon: the end waits for it, as Python's does
    sys.stdout.write("buffered")  # no newline: written only by the end's flush
    {skip}
    raise SystemExit({code})

process_end.run(app)
"""


def _end(tmp_path: Path, skip: bool, code: str) -> subprocess.CompletedProcess[str]:
    script = PROBE.format(skip="process_end.skip_teardown()" if skip else "", code=code)
    return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False)


def test_a_command_that_asked_ends_after_threads_atexit_and_flush_without_the_teardown(tmp_path: Path) -> None:
    done = _end(tmp_path, skip=True, code="3")
    assert done.returncode == 3
    assert done.stdout == "bufferedthread done\n"  # the thread was waited for, stdout flushed
    assert done.stderr == "atexit\n"  # atexit functions ran; no object was torn down


def test_a_command_that_did_not_ask_ends_as_python_ends_it(tmp_path: Path) -> None:
    done = _end(tmp_path, skip=False, code="3")
    assert done.returncode == 3
    assert done.stdout == "bufferedthread done\n"
    assert done.stderr == "atexit\nteardown\n"


def test_an_exit_with_a_message_takes_the_ordinary_way(tmp_path: Path) -> None:
    done = _end(tmp_path, skip=True, code="'no settings file'")
    assert done.returncode == 1
    assert done.stderr.startswith("atexit\nno settings file\n") or done.stderr.startswith("no settings file\n")
    assert "teardown" in done.stderr


def test_sync_once_ends_with_its_output_written_and_its_store_closed(tmp_path: Path, run: Run) -> None:
    (tmp_path / "settings.yaml").write_text(settings_text(tmp_path), encoding="utf-8")
    first = run("sync", "--once")
    assert first.returncode == 0, first.stderr
    done = run("sync", "--once")  # idle
    assert done.returncode == 0, done.stderr
    assert "desk" in done.stdout and "fetched" in done.stdout  # the report, flushed
    assert "connector.synced" in done.stderr and "calendar.provider is none" in done.stderr
    # the store was disposed before the end: its last connection closed, the WAL checkpointed away
    assert (tmp_path / "store.db").exists() and not (tmp_path / "store.db-wal").exists()
    failed = run("--config", "missing.yaml", "sync", "--once")
    assert failed.returncode == 2 and "missing.yaml" in failed.stderr, failed.stderr  # an error keeps its code
