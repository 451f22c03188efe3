"""A worker hung inside the calendar stage: a Google call that never returns, a
process stopped with SIGSTOP, a write blocked on NFS. It holds the calendar lock, so every
other run skips the stage ("busy") and no doctor's calendar changes. On main nothing named it:
no stall, no gauge, no alert. Now its holder (host, pid, since when) is in the store from the
moment it takes the lock, and past ``calendar.stage_hung_after`` it is the stall
``stage_hung`` in `status`, on the status page and in /metrics; a holder that died is not
(its lock is gone with it, whatever its row says)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from clinicsync.common.types import utcnow
from clinicsync.sync.calendar.ics import IcsCalendar
from clinicsync.sync.calendar.push import calendar_stage
from clinicsync.sync.checks.stalls import figures, find_stalls
from clinicsync.sync.config.settings import Settings, settings_model
from clinicsync.sync.runs.stage_locks import CALENDAR, calendar_lock
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.locks import lock_held
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import LOCK_HOLDERS
from tests.conftest import Cli, SettingsFactory
from tests.sync.calendar.helpers import apply, appointment
from tests.sync.calendar.test_overlap import BUSY, WAIT, Thread, pause_in

STORES = pytest.mark.parametrize("store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                                 indirect=True)
TOKEN = "tok-7Hq2Lx9Vw4Rb6Nz3Kp8Ys5Dg"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_model().model_validate(
        {"calendar": {"provider": "ics", "ics": {"directory": "calendars"}}}, context={"base_dir": tmp_path})


def hung(store: Store, settings: Settings, later: timedelta) -> list[tuple[str, str, str]]:
    """The stage_hung stalls ``later`` from now."""
    return [(s.kind, s.subject, s.detail) for s in find_stalls(store, settings, utcnow() + later)
            if s.kind == "stage_hung"]


def holders(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(LOCK_HOLDERS)))


@STORES
def test_a_worker_hung_inside_the_stage_is_named_after_the_setting_and_no_longer_once_it_lets_go(
        store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run A holds the stage (paused before its file write: a call that does not return); run B
    skips it. Its report has the stage's counts (on main: ``{"busy": 1}`` alone). Within
    calendar.stage_hung_after (30 min) nothing is a stall; past it the stall names A's host,
    pid and since when, and the gauges say so. When A lets go, no stall, no holder row."""
    apply(store, appointment("A1"))
    reached, go = threading.Event(), threading.Event()
    pause_in(monkeypatch, IcsCalendar, "flush", "A", reached, go, before=True)
    run_a = Thread("A", lambda: calendar_stage(settings, store, "run-a"))
    run_a.start()
    try:
        assert reached.wait(WAIT)
        assert calendar_stage(settings, store, "run-b") == BUSY
        [row] = holders(store)
        assert (row.name, row.host, row.pid) == ("stage/calendar", socket.gethostname(), os.getpid())
        assert lock_held(store.engine, *CALENDAR) is True
        assert hung(store, settings, timedelta(minutes=29)) == []
        [(kind, subject, detail)] = hung(store, settings, timedelta(minutes=31))
        assert (kind, subject) == ("stage_hung", "calendar")
        assert f"pid {os.getpid()} on host {socket.gethostname()}" in detail
        assert "calendar.stage_hung_after (30m)" in detail and f"`kill -CONT {os.getpid()}`" in detail
        assert "released on its own" in detail
        with store.engine.connect() as connection:
            later = figures(connection, settings, utcnow() + timedelta(minutes=31))
            sooner = figures(connection, settings, utcnow() + timedelta(minutes=29))
        assert later.stage_hung == {"calendar": 1} and later.stage_lock_held["calendar"] > 31 * 60 - 5
        assert sooner.stage_hung == {"calendar": 0}
    finally:
        go.set()
    assert run_a.outcome()["inserted"] == 1
    assert holders(store) == [] and lock_held(store.engine, *CALENDAR) is False
    assert hung(store, settings, timedelta(hours=2)) == []
    with store.engine.connect() as connection:
        assert figures(connection, settings).stage_lock_held == {"calendar": 0.0}


def test_the_setting_moves_the_stall(store: Store, tmp_path: Path) -> None:
    """calendar.stage_hung_after is the stall's duration (a bad value is refused, naming it)."""
    quick = settings_model().model_validate({"calendar": {"stage_hung_after": "5m"}}, context={"base_dir": tmp_path})
    with calendar_lock(store.engine) as held:
        assert held is not None
        assert [s.subject for s in find_stalls(store, quick, utcnow() + timedelta(minutes=6))
                if s.kind == "stage_hung"] == ["calendar"]
    with pytest.raises(ValueError, match="stage_hung_after"):
        settings_model().model_validate({"calendar": {"stage_hung_after": "soon"}}, context={"base_dir": tmp_path})


_HOLDER = """
import sys, time
from sqlalchemy import create_engine
from clinicsync.sync.runs.stage_locks import calendar_lock
with calendar_lock(create_engine(sys.argv[1])) as held:
    assert held is not None
    print("held", flush=True)
    time.sleep(120)
"""


@STORES
def test_a_stopped_worker_is_named_by_status_in_another_process_and_a_killed_one_is_not(
        store: Store, write_settings: SettingsFactory, cli: Callable[[Path], Cli], settings: Settings) -> None:
    """A worker process stopped with SIGSTOP inside the stage: `clinicsync status` (another
    process) names its pid, `sync --once` skips the stage with the usual counts. Killed, it
    leaves its holder row behind but not its lock: no stall, and the next run takes the stage."""
    url = store.engine.url.render_as_string(False)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        os.kill(holder.pid, signal.SIGSTOP)
        with store.engine.begin() as connection:  # it stopped 40 minutes ago
            connection.execute(update(LOCK_HOLDERS).values(since=utcnow() - timedelta(minutes=40)))
        run = cli(write_settings(extra="calendar:\n  provider: ics\n  ics:\n    directory: calendars\n"))
        _, out, err = run("sync", "--once", "--json")
        assert json.loads(out)["calendar"] == BUSY
        assert f"pid {holder.pid} on {socket.gethostname()}" in err  # calendar.skipped names the holder
        _, out, _ = run("status", "--json")
        [stall] = [s for s in json.loads(out)["stalls"] if s["kind"] == "stage_hung"]
        assert stall["subject"] == "calendar" and f"pid {holder.pid} on host {socket.gethostname()}" in stall["detail"]
        _, text, _ = run("status")
        assert "STALL stage_hung calendar" in text
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(WAIT)
        for _ in range(100):  # PostgreSQL ends the backend of a closed connection at once; a moment
            if not lock_held(store.engine, *CALENDAR):
                break
            threading.Event().wait(0.05)
        assert [row.pid for row in holders(store)] == [holder.pid]  # its row stays, its lock does not
        assert hung(store, settings, timedelta(0)) == []
        _, out, _ = run("sync", "--once", "--json")
        assert "busy" not in json.loads(out)["calendar"]
        assert holders(store) == []
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(WAIT)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.anyio
async def test_the_status_page_names_the_hung_stage(store: Store, tmp_path: Path) -> None:
    settings = settings_model().model_validate({"ui": {"token": TOKEN}}, context={"base_dir": tmp_path})
    with calendar_lock(store.engine) as held:
        assert held is not None
        with store.engine.begin() as connection:
            connection.execute(update(LOCK_HOLDERS).values(since=utcnow() - timedelta(minutes=40)))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, store)),
                                     base_url="http://test", headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            home = (await client.get("/ui/")).text
    assert "stage hung: calendar" in home and f"pid {os.getpid()} on host" in home


@STORES
def test_a_worker_hung_inside_the_write_back_stage_is_named_too(store: Store, settings: Settings) -> None:
    """The write-back stage is one worker at a time too (``stage_lock``): a worker
    hung in it keeps every patient's answer from reaching its source, so it is the same stall,
    with what waits named (at the merge of both branches only the calendar stage was looked at)."""
    from clinicsync.sync.runs.stage_locks import stage_lock

    with stage_lock(store.engine, "writeback") as held:
        assert held is not None
        assert hung(store, settings, timedelta(minutes=29)) == []
        [(kind, subject, detail)] = hung(store, settings, timedelta(minutes=31))
    assert (kind, subject) == ("stage_hung", "writeback")
    assert f"pid {os.getpid()} on host {socket.gethostname()}" in detail
    assert "answers are not written back" in detail
    assert hung(store, settings, timedelta(minutes=31)) == [] and holders(store) == []
