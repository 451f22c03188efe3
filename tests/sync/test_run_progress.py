"""A run's progress, seen from the terminal and from another process: one line per stage
with its rows on a terminal (stderr), nothing on a pipe or with --json; `status` shows a
running stage as running with its rows, then done, and a crashed run as stale."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from clinicsync.common.types import utcnow
from clinicsync.sync.cli.demo import generate_rows
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.runs.progress import ProgressObserver
from clinicsync.sync.runs.run_progress import STAGES, RunRecorder, prune_stages, running_stages
from clinicsync.sync.runs.stage_locks import stage_lock
from clinicsync.sync.service.pipeline import run_once
from clinicsync.sync.store.store import RUNS, Counts, Store
from clinicsync.sync.store.tables import LOCK_HOLDERS
from clinicsync.sync.ui.queries import connectors_health, running_now
from tests.connectors.test_csv_drop import TOMORROW, write_drop
from tests.sync.test_cli_output import SQLITE

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def config(write_settings: Callable[..., Path], drop_dir: Path) -> Path:
    write_drop(drop_dir, "a.csv", generate_rows(TOMORROW, days=2))
    return write_settings(f"- name: emr\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop_dir}\n")


def on_pty(argv: list[str]) -> str:
    """What a person sees running ``argv`` in a terminal (stdout and stderr on one pty)."""
    import fcntl
    import pty
    import struct
    import termios

    main, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160"}
    process = subprocess.Popen([sys.executable, "-m", "clinicsync.sync.cli", *argv],
                               stdin=secondary, stdout=secondary, stderr=secondary, env=env, close_fds=True)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert process.wait(timeout=60) == 0, b"".join(chunks)
    return ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))


@SQLITE
def test_a_terminal_shows_each_stage_with_its_rows_and_a_pipe_shows_none(config: Path) -> None:
    screen = on_pty(["--config", str(config), "sync", "--once"])
    imported = re.search(r"import emr done\s+(\d+) rows", screen)
    assert imported and int(imported.group(1)) > 0, screen
    for stage in ("calendar", "reminders", "writeback"):
        assert re.search(rf"{stage} done\s+[━╸╺ ]*\d+(/\d+)? rows", screen), stage
    assert re.search(r"reminders done\s+.*\d+/\d+ rows", screen), screen  # its total is known: M/N
    assert "connector.synced" not in screen and "calendar.pushed" not in screen  # info logs: not on a terminal

    piped = subprocess.run([sys.executable, "-m", "clinicsync.sync.cli", "--config", str(config), "sync", "--once"],
                           capture_output=True, text=True, timeout=60, check=True)
    assert "import emr" not in piped.stderr and " rows" not in piped.stderr, piped.stderr
    assert "sync run" in piped.stdout  # the report itself still prints

    as_json = on_pty(["--config", str(config), "sync", "--once", "--json"])
    assert "import emr" not in as_json and "rows/s" not in as_json
    json.loads(as_json[as_json.index("{"):])


class StatusMidway(ProgressObserver):
    """Runs `status` (a reader apart from the run) as soon as the import has stored rows."""

    def __init__(self, ask: Callable[[], tuple[str, str]]) -> None:
        self.ask: Callable[[], tuple[str, str]] = ask
        self.seen: tuple[str, str] | None = None

    def stage_advanced(self, stage: str, done: int, total: int | None = None) -> None:
        if stage == "import emr" and self.seen is None:
            self.seen = self.ask()


@SQLITE
def test_status_shows_the_running_stage_then_done(config: Path, store: Store, cli: Any) -> None:
    status = cli(config)
    midway = StatusMidway(lambda: (status("status", "--format", "json")[1],
                                       status("status", "--format", "table")[1]))
    report = run_once(load_settings(config), store, progress=midway)
    assert not report.failed and midway.seen is not None
    seen, table = json.loads(midway.seen[0]), midway.seen[1]
    [running] = seen["running"]
    fetched = report.connectors["emr"].counts.fetched
    assert (running["stage"], running["state"], running["rows"]) == ("import emr", "running", fetched)
    assert [c["state"] for c in seen["connectors"]] == ["running"]
    assert re.search(r"emr\s+│.*│ running ", table), table
    since = r"\w{3}, \w{3} \d{1,2}, \d{4}, \d{1,2}:\d\d\s[AP]M"  # the clinic's clock, through shown_time
    assert re.search(rf"import emr: running since {since}, {fetched:,} rows", table), table

    _, after, _ = status("status", "--format", "table")
    assert re.search(r"emr\s+│.*│ ok ", after) and "running now\n  nothing" in after, after
    assert json.loads(status("status", "--json")[1])["running"] == []


@SQLITE
def test_a_crashed_run_is_stale_not_running(config: Path, store: Store, cli: Any) -> None:
    crash = ("import os, sys\nfrom clinicsync.sync.store.db import make_engine\n"
             "from clinicsync.sync.store.store import Store\n"
             "from clinicsync.sync.runs.run_progress import RunRecorder\n"
             "store = Store(make_engine(sys.argv[1]))\nstore.start_run('deadrun', 'emr')\n"
             "recorder = RunRecorder(store, 'deadrun')\nrecorder.stage_started('import emr')\n"
             "recorder.stage_advanced('import emr', 700)\nos._exit(9)\n")
    subprocess.run([sys.executable, "-c", crash, str(store.engine.url)], check=False, timeout=60)
    _, out, _ = cli(config)("status", "--format", "table")
    assert re.search(r"emr\s+│.*│ stale ", out), out
    assert re.search(r"import emr: STALE, started .*, 700 rows; last progress .*: its process \(\d+ on .*\) is gone",
                     out), out
    [health] = connectors_health(store)  # the status page (/ui) says the same
    assert health["state"] == "stale" and running_now(store)[0]["state"] == "stale"

    # elsewhere (another host): the heartbeat decides, after STALE_AFTER without progress
    recorder = RunRecorder(store, "otherhost")
    recorder.host = "worker-2"
    recorder.stage_started("calendar")
    [live] = [a for a in running_stages(store) if a.stage == "calendar"]
    assert live.state == "running"
    with store.engine.begin() as connection:
        connection.execute(update(STAGES).where(STAGES.c.run_id == "otherhost")
                           .values(heartbeat_at=utcnow() - timedelta(minutes=11)))
    [late] = [a for a in running_stages(store) if a.stage == "calendar"]
    assert late.state == "stale" and "no progress for over 10 minutes" in (late.why_stale or "")

    recorder.stage_finished("calendar")  # a later run of the stage replaces the stale one
    RunRecorder(store, "next").stage_started("import emr")
    assert [(a.run_id, a.state) for a in running_stages(store)] == [("next", "running")]


@SQLITE
def test_finished_stages_are_kept_a_week(store: Store) -> None:
    old = RunRecorder(store, "old")
    old.stage_started("calendar")
    old.stage_finished("calendar")
    with store.engine.begin() as connection:
        connection.execute(update(STAGES).values(started_at=utcnow() - timedelta(days=8)))
    recent = RunRecorder(store, "recent")
    recent.stage_started("calendar")
    recent.stage_advanced("calendar", 40, 90)
    recent.stage_finished("calendar")
    assert prune_stages(store) == 1  # the retention pass's (sync/ingest/after_run.py retention_pass)
    with store.engine.connect() as connection:
        left = connection.execute(STAGES.select()).all()
    assert [(r.run_id, r.status, r.rows, r.total) for r in left] == [("recent", "ok", 40, 90)]


def test_a_runs_one_statement_writes_are_each_their_own_transaction(store: Store) -> None:
    """A stage's progress rows, the run's row and a stage lock's holder row are each one statement
    written in autocommit (db.one_statement): no transaction is left open after it, so none was
    begun (on PostgreSQL no BEGIN and no COMMIT round trip: one of three), and each row is
    committed when the statement returns (another connection sees it)."""
    left_open: list[tuple[str, bool]] = []

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        driver = conn.connection.driver_connection
        still = driver.in_transaction if conn.dialect.name == "sqlite" else driver.pgconn.transaction_status != 0
        left_open.append((" ".join(statement.split()[:3]), bool(still)))

    def count(table: Any) -> int:
        with store.engine.connect() as other:
            return int(other.execute(select(func.count()).select_from(table)).scalar_one())

    event.listen(store.engine, "after_cursor_execute", after)
    recorder = RunRecorder(store, "r-one")
    recorder.stage_started("import")
    assert count(STAGES) == 1
    recorder.stage_finished("import")
    run = store.start_run("r-one", "emr")
    assert count(RUNS) == 1
    store.finish_run(run, Counts(), None)
    with stage_lock(store.engine, "calendar") as held:
        assert held is not None and count(LOCK_HOLDERS) == 1
    assert count(LOCK_HOLDERS) == 0
    event.remove(store.engine, "after_cursor_execute", after)
    writes = [(words, still) for words, still in left_open if not words.upper().startswith(("SELECT", "PRAGMA"))]
    assert len(writes) == 6 and not any(still for _, still in writes), writes
