"""A process that runs for months keeps what it read at start (stop 52): `clinicsync run` reads
settings.yaml and every ``*_file`` secret once, while the cron jobs on the same store read them
at each run. An edit (or a rotated Kubernetes secret) without a restart used to go unseen.

:class:`SettingsWatch` compares the files the settings were read from (``Settings.files_read``)
with the files now, cheaply: a stat each, and a digest only when the stat moved (an edit that
puts the same bytes back, or a ``touch``, is no change). It never reloads anything: a half-saved
file, or one job on the new settings and the next on the old, is worse than a restart.

Each service process notes itself in the store (table ``service_process``: where it runs, when
it started, the digest of the settings file it runs, since when a file it read has changed), so
that `status`, the status page and /metrics of any process on the store see it
(sync/stalls.py: ``settings_not_applied``, ``settings_differ``). A row not refreshed for
``LIVE`` is a process that is gone (killed); a process that stops cleanly removes its own."""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, select

from clinicsync.common.settings_base import FileRead
from clinicsync.common.timeutil import iso_z
from clinicsync.sync.db import upsert_statement
from clinicsync.sync.tables import SERVICE_PROCESSES

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from clinicsync.sync.settings import Settings

# How often the service looks (a job of `clinicsync run`), and how long a row it no longer
# refreshes still counts as a running process.
CHECK_EVERY = "30s"
LIVE = timedelta(minutes=5)
RESTART = ("restart it: `systemctl restart clinicsync` (one host), or roll the deployment "
           "(`kubectl rollout restart deployment/clinicsync`)")


@dataclass(frozen=True)
class Drift:
    """The files that differ from what this process read, and since when."""

    files: tuple[str, ...]
    since: datetime


def settings_digest(settings: Settings) -> str:
    """The settings file's digest as this process read it (16 hex digits): two processes on one
    store with different ones run different settings. Secret files are left out, so nothing
    derived from a secret is stored."""
    first = settings.files_read[0].digest if settings.files_read else ""
    return hashlib.sha256(first.encode()).hexdigest()[:16]


@dataclass
class SettingsWatch:
    settings: Settings
    started_at: datetime
    process: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    _seen: dict[str, FileRead | None] = field(default_factory=dict)  # path -> its stat at the last look
    _changed: dict[str, datetime] = field(default_factory=dict)  # path -> when it changed
    _told: tuple[str, ...] = ()  # the changed files the log was told of

    def look(self, engine: Engine, now: datetime) -> Drift | None:
        """One look (a job of `clinicsync run`): compare, say so in the log once per change (the
        paths, never a value), and note this process in the store."""
        import structlog  # here: `status` reads this module's tables and must not import the logging

        log = structlog.get_logger("clinicsync.settings")
        drift = self.check(now)
        files = drift.files if drift else ()
        if drift and set(files) - set(self._told):
            log.warning("settings.changed_since_start", files=list(files), changed_at=iso_z(drift.since),
                        started_at=iso_z(self.started_at),
                        detail="this process still runs the settings it read at start (nothing is reloaded); "
                               + RESTART)
        elif self._told and not drift:
            log.info("settings.back_as_loaded", detail="the files are again as this process read them")
        self._told = files
        note_process(engine, self, drift, now)
        return drift

    def check(self, now: datetime) -> Drift | None:
        """Look at every file the settings were read from; a stat each, a digest when it moved."""
        for read in self.settings.files_read:
            last = self._seen.get(read.path, read)
            try:
                stat = os.stat(read.path)
            except OSError:  # removed (or unreadable): not what this process runs
                self._seen[read.path] = None
                self._changed.setdefault(read.path, now)
                continue
            if last is not None and last.same_stat(stat):
                continue  # as at the last look: changed or not, as then
            try:
                digest = hashlib.sha256(Path(read.path).read_bytes()).hexdigest()
            except OSError:
                self._seen[read.path] = None
                self._changed.setdefault(read.path, now)
                continue
            self._seen[read.path] = read._replace(mtime_ns=stat.st_mtime_ns, size=stat.st_size,
                                                  inode=stat.st_ino, digest=digest)
            if digest == read.digest:
                self._changed.pop(read.path, None)  # touched, or put back as it was
            else:
                self._changed.setdefault(read.path, self._changed_at(stat.st_mtime_ns, now))
        if not self._changed:
            return None
        return Drift(tuple(sorted(self._changed)), min(self._changed.values()))

    def _changed_at(self, mtime_ns: int, now: datetime) -> datetime:
        """The file's modification time, when it falls after this process started and not in the
        future (a copy that kept an older time, a clock apart: then when it was seen)."""
        at = datetime.fromtimestamp(mtime_ns / 1e9, UTC)
        return at if self.started_at <= at <= now else now


def note_process(engine: Engine, watch: SettingsWatch, drift: Drift | None, now: datetime,
                 command: str = "run") -> None:
    """This process's row, refreshed."""
    host, _, pid = watch.process.rpartition(":")
    values: dict[str, Any] = {
        "process": watch.process, "host": host[:255], "pid": int(pid) if pid.isdigit() else 0, "command": command,
        "started_at": watch.started_at, "seen_at": now, "settings_path": watch.settings.source[:500],
        "settings_digest": settings_digest(watch.settings),
        "stale_since": drift.since if drift else None,
        "stale_files": "\n".join(drift.files)[:2000] if drift else None}
    with engine.begin() as connection:
        connection.execute(upsert_statement(connection, SERVICE_PROCESSES, ["process"],
                                            [k for k in values if k != "process"]), values)


def forget_process(engine: Engine, process: str) -> None:
    """A process that stops cleanly takes its row with it."""
    with engine.begin() as connection:
        connection.execute(delete(SERVICE_PROCESSES).where(SERVICE_PROCESSES.c.process == process))


def live_processes(connection: Connection, now: datetime) -> list[Any]:
    """The service processes on this store that refreshed their row within ``LIVE``."""
    return list(connection.execute(select(SERVICE_PROCESSES).where(SERVICE_PROCESSES.c.seen_at >= now - LIVE)
                                   .order_by(SERVICE_PROCESSES.c.started_at, SERVICE_PROCESSES.c.process)))


def running_services(connection: Connection, settings: Settings, now: datetime | None = None) -> list[dict[str, Any]]:
    """The live `clinicsync run` processes on this store, and whether each runs ``settings``
    (the file `clinicsync check` just read): what an admin needs after an edit."""
    from clinicsync.common.types import utcnow

    ours = settings_digest(settings)
    return [{"process": row.process, "host": row.host, "pid": row.pid, "started_at": iso_z(row.started_at),
             "settings_path": row.settings_path, "current": row.settings_digest == ours and row.stale_since is None}
            for row in live_processes(connection, now or utcnow())]


def not_applied_detail(row: Any) -> str:
    """What a stale process's stall says: which files changed when, since when it runs, the fix.
    Paths only, never a value."""
    files = ", ".join((row.stale_files or "").splitlines()) or "a settings file"
    return (f"{files} changed at {iso_z(row.stale_since)} after this process (`clinicsync {row.command}` on "
            f"{row.host}, pid {row.pid}) started at {iso_z(row.started_at)}: it still runs the settings it read "
            f"then, while a cron job on this store reads the new ones; {RESTART}")


def differ_detail(rows: list[Any]) -> str:
    each = "; ".join(f"{row.host} pid {row.pid}: {row.settings_path} (digest {row.settings_digest[:8]})"
                     for row in rows)
    return (f"the service processes on this store run different settings files: {each}. Make them the same "
            f"file (one ConfigMap, one copy per host), then {RESTART.removeprefix('restart it: ')}")
