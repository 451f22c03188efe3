"""A process that runs for months keeps what it read at start. `clinicsync run` reads
settings.yaml and every ``*_file`` secret once; an edit or a rotated secret without a restart
went unseen on main (no job looked, no stall, no metric). Now the service looks every 30 s,
says so once in the log, notes itself in the store, and after ``service.stall_after``
`status` (from any process), the status page and /metrics show a ``settings_not_applied``
stall. Times are a fake clock; the files are real."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from clinicsync.common.settings_base import FileRead
from clinicsync.common.types import utcnow
from clinicsync.sync.checks.stalls import figures, find_stalls
from clinicsync.sync.cli.run import _forget as forget_row
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.runs import settings_watch
from clinicsync.sync.runs.settings_watch import LIVE, SettingsWatch, forget_process, note_process, running_services
from clinicsync.sync.server.app import create_app
from clinicsync.sync.service.jobs import SETTINGS_WATCH, PeriodicJob, ServiceContext, collect_jobs, settings_watch_job
from clinicsync.sync.service.runner import Service
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import SERVICE_PROCESSES
from tests.server.metrics_helpers import scrape

pytestmark = pytest.mark.anyio
OLD_KEY = "k-old-0f3a9c2e71d84b56a0c1"
NEW_KEY = "k-new-5e8b1d7c42a96f03b2d4"
TOKEN = "tok-9Xc2Lm7Qw4Vb8Nr3Tz6Yh1Pd"


@pytest.fixture
def files(write_settings: Callable[..., Path], tmp_path: Path) -> tuple[Path, Path]:
    secret = tmp_path / "secret_key"
    secret.write_text(OLD_KEY + "\n", encoding="utf-8")
    path = write_settings(extra=f"server:\n  secret_key_file: {secret}\nui:\n  token: {TOKEN}\n"
                                "reminders:\n  offsets: [24h]\n")
    return path, secret


def started(path: Path, store: Store) -> ServiceContext:
    """What `clinicsync run` does at start: the settings as the CLI loads them, the jobs."""
    return ServiceContext(load_settings(path, defer_secrets=True), store, started_at=utcnow())


def stalls(store: Store, settings: Settings, at: Any) -> list[tuple[str, str]]:
    return [(s.kind, s.subject) for s in find_stalls(store, settings, at)]


def test_an_edit_of_the_settings_file_is_seen_logged_once_and_a_stall_after_stall_after(
        files: tuple[Path, Path], store: Store) -> None:
    path, _secret = files
    ctx = started(path, store)
    t0 = ctx.started_at
    assert [f.path for f in ctx.settings.files_read] == [str(path), str(files[1])]
    job = next(j for j in collect_jobs(ctx) if j.name == SETTINGS_WATCH)  # the service runs it
    assert isinstance(job, PeriodicJob) and job.writes_store is False
    assert settings_watch_job(ctx) is None  # as read: nothing to say
    assert ctx.watch.look(store.engine, t0 + timedelta(seconds=30)) is None

    path.write_text(path.read_text(encoding="utf-8").replace("[24h]", "[48h, 2h]"), encoding="utf-8")
    with capture_logs() as logs:
        drift = ctx.watch.look(store.engine, t0 + timedelta(minutes=1))
        again = ctx.watch.look(store.engine, t0 + timedelta(minutes=1, seconds=30))
    assert drift is not None and drift.files == (str(path),) and again == drift
    assert t0 <= drift.since <= utcnow()  # the file's own modification time
    warned = [e for e in logs if e["event"] == "settings.changed_since_start"]
    assert len(warned) == 1 and warned[0]["log_level"] == "warning" and warned[0]["files"] == [str(path)]
    assert "48h" not in json.dumps(logs, default=str)  # paths, never contents
    # the process still runs what it read (nothing is reloaded); a cron job reads the edit
    assert ctx.settings.reminders.model_dump() != load_settings(path).reminders.model_dump()
    # within the margin (an admin about to restart): no stall yet; after it, one
    assert stalls(store, ctx.settings, t0 + timedelta(minutes=2)) == []
    later = drift.since + ctx.settings.service.stall() + timedelta(minutes=1)
    ctx.watch.look(store.engine, later)  # the service looks every 30 s: its row is current
    [stall] = find_stalls(store, ctx.settings, later)
    assert (stall.kind, stall.subject) == ("settings_not_applied", ctx.watch.process)
    assert str(path) in stall.detail and "systemctl restart clinicsync" in stall.detail
    assert "kubectl rollout restart" in stall.detail and stall.since == drift.since
    with store.engine.connect() as connection:
        found = figures(connection, ctx.settings, later)
    assert found.settings_stale == {ctx.watch.process: pytest.approx((later - drift.since).total_seconds())}


def test_a_rotated_secret_file_is_seen_and_its_value_never_told(files: tuple[Path, Path], store: Store) -> None:
    path, secret = files
    ctx = started(path, store)
    t0 = ctx.started_at
    secret.write_text(NEW_KEY + "\n", encoding="utf-8")  # a Kubernetes secret mount rotated
    with capture_logs() as logs:
        drift = ctx.watch.look(store.engine, t0 + timedelta(minutes=1))
    assert drift is not None and drift.files == (str(secret),)
    later = t0 + timedelta(hours=1)
    ctx.watch.look(store.engine, later)
    [stall] = find_stalls(store, ctx.settings, later)
    assert stall.kind == "settings_not_applied" and str(secret) in stall.detail
    with store.engine.connect() as connection:
        row = connection.execute(select(SERVICE_PROCESSES)).one()
    told = json.dumps(logs, default=str) + stall.detail + repr(tuple(row))
    assert OLD_KEY not in told and NEW_KEY not in told
    assert ctx.settings.server is not None and ctx.settings.server.secret_key is not None
    assert ctx.settings.server.secret_key.get_secret_value() == OLD_KEY  # still the key it read


def test_a_touch_or_an_edit_put_back_is_no_change(files: tuple[Path, Path], store: Store) -> None:
    path, secret = files
    ctx = started(path, store)
    t0 = ctx.started_at
    os.utime(secret)  # touched: the stat moved, the bytes did not
    text = path.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")  # saved unchanged
    assert ctx.watch.look(store.engine, t0 + timedelta(minutes=1)) is None
    path.write_text(text + "# a note\n", encoding="utf-8")
    assert ctx.watch.look(store.engine, t0 + timedelta(minutes=2)) is not None
    path.write_text(text, encoding="utf-8")  # put back as it was
    with capture_logs() as logs:
        assert ctx.watch.look(store.engine, t0 + timedelta(minutes=3)) is None
    assert [e["event"] for e in logs] == ["settings.back_as_loaded"]
    assert stalls(store, ctx.settings, t0 + timedelta(minutes=3)) == []


def test_the_files_read_at_start_are_read_and_hashed_the_one_way_every_watched_file_is(
        files: tuple[Path, Path], store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The look at a file read at start re-hashed it itself (its own stat, read and
    sha256); now it goes through settings_base.read_file like a file read at its use, so what
    is kept of a file (its stat from the open handle, its digest) is made in one place."""
    path, secret = files
    ctx = started(path, store)
    t0 = ctx.started_at
    read: list[str] = []
    real = settings_watch.read_file

    def counted(at: Path) -> tuple[bytes, FileRead]:
        read.append(str(at))
        return real(at)

    monkeypatch.setattr(settings_watch, "read_file", counted)
    path.write_text(path.read_text(encoding="utf-8") + "# a note\n", encoding="utf-8")
    os.utime(secret)  # touched: read again, found unchanged
    drift = ctx.watch.look(store.engine, t0 + timedelta(minutes=1))
    assert drift is not None and drift.files == (str(path),)
    assert sorted(read) == sorted([str(path), str(secret)])
    assert ctx.watch._seen[str(path)] == real(path)[1]  # what is kept: exactly read_file's


def test_a_removed_file_is_a_change(files: tuple[Path, Path], store: Store) -> None:
    path, secret = files
    ctx = started(path, store)
    secret.unlink()
    drift = ctx.watch.look(store.engine, ctx.started_at + timedelta(minutes=1))
    assert drift is not None and drift.files == (str(secret),)


def other_process(settings: Settings, process: str, started_ago: timedelta, stale_ago: timedelta | None,
                  store: Store, digest_of: Settings | None = None) -> None:
    """A service process elsewhere on this store, as its own looks note it."""
    now = utcnow()
    watch = SettingsWatch(digest_of or settings, now - started_ago, process=process)
    drift = None
    if stale_ago is not None:
        from clinicsync.sync.runs.settings_watch import Drift

        drift = Drift((settings.source,), now - stale_ago)
    note_process(store.engine, watch, drift, now)


async def test_status_in_another_process_and_the_status_page_show_it(
        files: tuple[Path, Path], store: Store, cli: Any) -> None:
    """The cron's `status` (another process) sees the service's stall: it is in the store."""
    path, _ = files
    settings = load_settings(path)
    other_process(settings, "clinic-srv:4242", timedelta(days=40), timedelta(minutes=30), store)
    _, out, _ = cli(path)("status", "--json")
    [stall] = json.loads(out)["stalls"]
    assert (stall["kind"], stall["subject"]) == ("settings_not_applied", "clinic-srv:4242")
    assert "clinic-srv, pid 4242" in stall["detail"] and "restart" in stall["detail"]
    _, text, _ = cli(path)("status")
    assert "STALL settings_not_applied clinic-srv:4242" in text
    app = create_app(settings, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        home = (await client.get("/ui/")).text
    assert "settings not applied: clinic-srv:4242" in home
    served = {(s.name, tuple(s.labels.items())): s.value for s in await scrape(app)}
    assert served[("clinicsync_settings_stale_seconds", (("process", "clinic-srv:4242"),))] >= 1800


def test_processes_on_different_settings_files_are_a_stall_once_past_a_rollout(
        files: tuple[Path, Path], store: Store, write_settings: Callable[..., Path], tmp_path: Path) -> None:
    path, _ = files
    settings = load_settings(path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "settings.yaml").write_text(path.read_text(encoding="utf-8") + "# host b\n", encoding="utf-8")
    other = load_settings(elsewhere / "settings.yaml")
    other_process(settings, "host-a:10", timedelta(hours=3), None, store)
    other_process(settings, "host-b:20", timedelta(minutes=2), None, store, digest_of=other)
    assert stalls(store, settings, utcnow()) == []  # a rollout under way
    other_process(settings, "host-b:20", timedelta(hours=1), None, store, digest_of=other)
    [stall] = find_stalls(store, settings, utcnow())
    assert (stall.kind, stall.subject) == ("settings_differ", "store")
    assert "host-a pid 10" in stall.detail and "host-b pid 20" in stall.detail
    with store.engine.connect() as connection:
        assert figures(connection, settings).settings_differ >= 3600 - 5


def test_a_stopped_process_leaves_and_a_killed_one_ages_out(files: tuple[Path, Path], store: Store) -> None:
    path, _ = files
    settings = load_settings(path)
    other_process(settings, "gone:1", timedelta(days=1), timedelta(hours=2), store)
    assert stalls(store, settings, utcnow()) == [("settings_not_applied", "gone:1")]
    assert stalls(store, settings, utcnow() + LIVE + timedelta(seconds=1)) == []  # killed: no longer refreshed
    forget_process(store.engine, "gone:1")
    with store.engine.connect() as connection:
        assert connection.execute(select(SERVICE_PROCESSES)).all() == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_running_service_notes_itself_and_its_row_leaves_with_it(files: tuple[Path, Path], store: Store) -> None:
    path, _ = files
    ctx = started(path, store)
    service = Service(ctx, [j for j in collect_jobs(ctx) if j.name == SETTINGS_WATCH])
    service.start()
    try:
        for _ in range(100):  # until its first look ran; the bound only guards a hang
            if ctx.board.jobs[SETTINGS_WATCH].runs:
                break
            ctx.stop.wait(0.02)
        with store.engine.connect() as connection:
            [row] = connection.execute(select(SERVICE_PROCESSES)).all()
        assert row.process == ctx.watch.process and row.settings_path == str(path) and row.stale_since is None
    finally:
        assert service.shutdown(timedelta(seconds=5)) == []
    assert ctx.board.jobs[SETTINGS_WATCH].failures == 0
    forget_row(ctx)  # what `clinicsync run` does after the shutdown
    with store.engine.connect() as connection:
        assert connection.execute(select(SERVICE_PROCESSES)).all() == []


def test_check_after_an_edit_says_the_running_service_still_runs_the_old_settings(
        files: tuple[Path, Path], store: Store, cli: Any) -> None:
    """The admin edits, then runs `clinicsync check`: the service on the store is named at once
    (a warning: the restart usually follows the check)."""
    path, _ = files
    before = load_settings(path)
    other_process(before, "clinic-srv:4242", timedelta(days=40), None, store)
    with store.engine.connect() as connection:  # it runs this very file
        assert [p["current"] for p in running_services(connection, before)] == [True]
    path.write_text(path.read_text(encoding="utf-8").replace("[24h]", "[48h]"), encoding="utf-8")
    _, out, _ = cli(path)("check", "--offline", "--json", expect=None)
    [finding] = [f for f in json.loads(out)["findings"] if f["part"] == "services"]
    assert finding["level"] == "warning" and "clinic-srv (pid 4242" in finding["message"]
    assert "restart it" in finding["message"]
