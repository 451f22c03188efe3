"""A process that runs for months keeps what it read at start: `clinicsync run` reads
settings.yaml and every ``*_file`` secret once, while the cron jobs on the same store read them
at each run. An edit (or a rotated Kubernetes secret) without a restart used to go unseen.

:class:`SettingsWatch` compares the files the settings were read from (``Settings.files_read``)
with the files now, cheaply: a stat each, and a digest only when the stat moved (an edit that
puts the same bytes back, or a ``touch``, is no change). It never reloads anything: a half-saved
file, or one job on the new settings and the next on the old, is worse than a restart.

Each service process notes itself in the store (table ``service_process``: where it runs, when
it started, the digest of the settings file it runs, since when a file it read has changed), so
that `status`, the status page and /metrics of any process on the store see it
(sync/checks/stalls.py: ``settings_not_applied``, ``settings_differ``). A row not refreshed for
``LIVE`` is a process that is gone (killed); a process that stops cleanly removes its own."""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Connection, and_, delete, or_, select

from clinicsync.common.settings_base import FileRead, read_file
from clinicsync.common.timeutil import iso_z
from clinicsync.sync.store.db import upsert_statement
from clinicsync.sync.store.tables import SERVICE_PROCESSES

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from clinicsync.sync.config.settings import Settings

# How often the service looks (a job of `clinicsync run`), and how long a row it no longer
# refreshes still counts as a running process.
CHECK_EVERY = "30s"
LIVE = timedelta(minutes=5)
# A cron run (`sync --once`, `remind --once`) notes what it ran on the store too (its row, one per
# host and command, refreshed at each run): it counts for settings_differ for this long after its
# last run. Cron runs every few minutes; a job run less often than hourly is not compared.
CRON_LIVE = timedelta(hours=1)
RUN = "run"
RESTART = ("restart it: `systemctl restart clinicsync` (one host), or roll the deployment "
           "(`kubectl rollout restart deployment/clinicsync`)")


@dataclass(frozen=True)
class Drift:
    """The files that differ from what this process read, and since when."""

    files: tuple[str, ...]
    since: datetime


class Watched(NamedTuple):
    """A file a process's settings depend on. ``restart``: read once at start (settings.yaml, a
    ``*_file`` secret), so an edit needs a restart; else read again at its next use (a message
    template at the next message, a mapping at the next poll, the Google key at the next calendar
    run). ``name`` is where it is in the settings, not on disk (two hosts with copies at other
    paths run the same settings); ``secret``: nothing derived from it goes into the store."""

    path: str
    name: str
    restart: bool
    secret: bool


def watched_files(settings: Settings) -> tuple[Watched, ...]:
    """Every file these settings make a process read, one list: what was read at start
    (``Settings.files_read``), then what is read at each use, derived from the settings now
    (a template added to the folder is in it at the next look)."""
    from clinicsync.mappings.preset_files import mapping_files

    found = [Watched(read.path, "settings" if i == 0 else f"secret {i}", True, i > 0)
             for i, read in enumerate(settings.files_read)]
    if settings.reminders.templates:
        folder = settings.base_dir / settings.reminders.templates
        templates = []
        for top, dirs, names in os.walk(folder):  # scandir's types: no stat per file
            dirs[:] = [d for d in dirs if not d.startswith(".")]  # an editor's or git's
            inside = Path(top).relative_to(folder).as_posix()
            prefix = "templates/" if inside == "." else f"templates/{inside}/"
            templates += [Watched(os.path.join(top, name), prefix + name, False, False)
                          for name in names if not name.startswith(".")]
        found += sorted(templates, key=lambda w: w.name)
    # Each mapping once, however many sources share it (a fleet's hundreds name a handful): the
    # watch runs every CHECK_EVERY, and a read per source cost a worker more CPU than its polls.
    refs = dict.fromkeys(ref for config in settings.connectors
                         if config.enabled and isinstance(ref := getattr(config, "mapping", None), str))
    for ref in refs:
        found += [Watched(str(p), f"mapping {p.name}", False, False) for p in mapping_files(ref, settings.base_dir)]
    found += [Watched(read.path, f"fleet list {Path(read.path).name}", False, False) for read in settings.fleet_files]
    key = settings.calendar.google.key_file
    if settings.calendar.provider == "google" and key is not None:
        found.append(Watched(str(key), "calendar.google.key_file", False, True))
    unique: dict[str, Watched] = {}
    for watched in found:
        unique.setdefault(watched.path, watched)
    return tuple(unique.values())


def _file_now(path: str) -> FileRead | None:
    """The file as it is now (None: removed or unreadable)."""
    try:
        return read_file(Path(path))[1]
    except OSError:
        return None


def settings_digest(settings: Settings, now: dict[str, FileRead | None] | None = None,
                    watched: tuple[Watched, ...] | None = None) -> str:
    """What this process runs, as 16 hex digits: two processes on one store with different ones
    run different settings (another settings file, templates, mappings). The settings file as
    read at start, and each file read at its use as it is ``now`` (by its place in the settings:
    copies at other paths are the same). Secret files are left out, so nothing derived from a
    secret is stored."""
    first = settings.files_read[0].digest if settings.files_read else ""
    parts = [first]
    for each in watched if watched is not None else watched_files(settings):
        if each.restart or each.secret:
            continue
        read = now[each.path] if now is not None and each.path in now else _file_now(each.path)
        parts.append(f"{each.name}={read.digest if read else '-'}")
    if len(parts) == 1:  # the settings file alone: the digest earlier releases noted
        return hashlib.sha256(first.encode()).hexdigest()[:16]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@dataclass
class SettingsWatch:
    settings: Settings
    started_at: datetime
    process: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    _seen: dict[str, FileRead | None] = field(default_factory=dict)  # path -> its stat at the last look
    _changed: dict[str, datetime] = field(default_factory=dict)  # path -> when it changed (restart needed)
    _told: tuple[str, ...] = ()  # the changed files the log was told of
    _watched: tuple[Watched, ...] | None = None  # the list at the last look

    def __post_init__(self) -> None:
        for watched in watched_files(self.settings):  # the files read at use, as at start
            if not watched.restart:
                self._seen[watched.path] = _file_now(watched.path)

    def look(self, engine: Engine, now: datetime) -> Drift | None:
        """One look (a job of `clinicsync run`): compare, say so in the log once per change (the
        paths, never a value), and note this process in the store."""
        import structlog  # here: `status` reads this module's tables and must not import the logging

        log = structlog.get_logger("clinicsync.settings")
        drift, reread = self._check(now)
        files = drift.files if drift else ()
        if drift and set(files) - set(self._told):
            log.warning("settings.changed_since_start", files=list(files), changed_at=iso_z(drift.since),
                        started_at=iso_z(self.started_at),
                        detail="this process still runs the settings it read at start (nothing is reloaded); "
                               + RESTART)
        elif self._told and not drift:
            log.info("settings.back_as_loaded", detail="the files are again as this process read them")
        if reread:
            log.info("settings.read_at_use_changed", files=reread,
                     detail="read again at its next use (a template at the next message, a mapping at the next "
                            "poll, the calendar key at the next calendar run): no restart needed; check an edit "
                            "with `clinicsync templates check` / `clinicsync config validate`")
        self._told = files
        note_process(engine, self, drift, now)
        return drift

    def check(self, now: datetime) -> Drift | None:
        """Look at every file the settings were read from; a stat each, a digest when it moved."""
        return self._check(now)[0]

    def _check(self, now: datetime) -> tuple[Drift | None, list[str]]:
        """The drift of the files read at start, and the files read at use that changed since
        the last look (a stat each, a digest when the stat moved)."""
        reread: list[str] = []
        at_start = {read.path: read for read in self.settings.files_read}
        self._watched = watched_files(self.settings)
        for watched in self._watched:
            read = at_start.get(watched.path)
            if watched.restart and read is not None:
                self._look_at_start_file(read, now)
                continue
            last = self._seen.get(watched.path)  # None: appeared since the last look (a template added)
            current = self._stat_then_read(watched.path, last)
            if current != last and (current is None or last is None or current.digest != last.digest):
                reread.append(watched.path)
            self._seen[watched.path] = current
        drift = Drift(tuple(sorted(self._changed)), min(self._changed.values())) if self._changed else None
        return drift, reread

    @staticmethod
    def _stat_then_read(path: str, last: FileRead | None) -> FileRead | None:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if last is not None and last.same_stat(stat):
            return last
        return _file_now(path)

    def digest(self) -> str:
        """What this process runs now (:func:`settings_digest`), from this watch's last look."""
        return settings_digest(self.settings, self._seen, self._watched)

    def _look_at_start_file(self, read: FileRead, now: datetime) -> None:
        last = self._seen.get(read.path, read)
        try:
            stat = os.stat(read.path)
        except OSError:  # removed (or unreadable): not what this process runs
            self._seen[read.path] = None
            self._changed.setdefault(read.path, now)
            return
        if last is not None and last.same_stat(stat):
            return  # as at the last look: changed or not, as then
        current = _file_now(read.path)  # one way to read and hash a watched file (settings_base.read_file)
        if current is None:
            self._seen[read.path] = None
            self._changed.setdefault(read.path, now)
            return
        self._seen[read.path] = current._replace(path=read.path)
        if current.digest == read.digest:
            self._changed.pop(read.path, None)  # touched, or put back as it was
        else:
            self._changed.setdefault(read.path, self._changed_at(current.mtime_ns, now))

    def _changed_at(self, mtime_ns: int, now: datetime) -> datetime:
        """The file's modification time, when it falls after this process started and not in the
        future (a copy that kept an older time, a clock apart: then when it was seen)."""
        at = datetime.fromtimestamp(mtime_ns / 1e9, UTC)
        return at if self.started_at <= at <= now else now


def note_process(engine: Engine, watch: SettingsWatch, drift: Drift | None, now: datetime,
                 command: str = RUN) -> None:
    """This process's row, refreshed."""
    host, _, pid = watch.process.rpartition(":")
    values: dict[str, Any] = {
        "process": watch.process, "host": host[:255], "pid": int(pid) if pid.isdigit() else 0, "command": command,
        "started_at": watch.started_at, "seen_at": now, "settings_path": watch.settings.source[:500],
        "settings_digest": watch.digest(),
        "stale_since": drift.since if drift else None,
        "stale_files": "\n".join(drift.files)[:2000] if drift else None}
    with engine.begin() as connection:
        connection.execute(upsert_statement(connection, SERVICE_PROCESSES, ["process"],
                                            [k for k in values if k != "process"]), values)


def note_cron_run(engine: Engine, settings: Settings, command: str, now: datetime | None = None) -> None:
    """A run that reads the settings and exits (cron's `sync --once`, `remind --once`) notes what it
    ran, so that settings_differ sees a cron job left on an old copy of settings.yaml (or of the
    templates) beside a service on the new one. One row per host and command, ``started_at`` the
    first run on these settings (so a rollout's margin counts from the change, not from each
    run). Never fails the run: a store that cannot take the row is a run not compared."""
    from sqlalchemy.exc import SQLAlchemyError

    from clinicsync.common.types import utcnow

    now = now or utcnow()
    host = socket.gethostname()
    process = f"{host}:{command}"[:300]
    digest = settings_digest(settings)
    try:
        with engine.begin() as connection:
            row = connection.execute(select(SERVICE_PROCESSES.c.settings_digest, SERVICE_PROCESSES.c.started_at)
                                     .where(SERVICE_PROCESSES.c.process == process)).first()
            values: dict[str, Any] = {
                "process": process, "host": host[:255], "pid": os.getpid(), "command": command[:32],
                "started_at": row.started_at if row is not None and row.settings_digest == digest else now,
                "seen_at": now, "settings_path": settings.source[:500], "settings_digest": digest,
                "stale_since": None, "stale_files": None}
            connection.execute(upsert_statement(connection, SERVICE_PROCESSES, ["process"],
                                                [k for k in values if k != "process"]), values)
    except SQLAlchemyError:
        return


def forget_process(engine: Engine, process: str) -> None:
    """A process that stops cleanly takes its row with it."""
    with engine.begin() as connection:
        connection.execute(delete(SERVICE_PROCESSES).where(SERVICE_PROCESSES.c.process == process))


def live_processes(connection: Connection, now: datetime) -> list[Any]:
    """The processes on this store that refreshed their row lately: a service within ``LIVE``, a
    cron run's (:func:`note_cron_run`) within ``CRON_LIVE``."""
    table = SERVICE_PROCESSES.c
    live = or_(and_(table.command == RUN, table.seen_at >= now - LIVE),
               and_(table.command != RUN, table.seen_at >= now - CRON_LIVE))
    return list(connection.execute(select(SERVICE_PROCESSES).where(live)
                                   .order_by(table.started_at, table.process)))


def running_services(connection: Connection, settings: Settings, now: datetime | None = None) -> list[dict[str, Any]]:
    """The live `clinicsync run` processes on this store, and whether each runs ``settings``
    (the file `clinicsync check` just read): what an admin needs after an edit."""
    from clinicsync.common.types import utcnow

    ours = settings_digest(settings)
    return [{"process": row.process, "host": row.host, "pid": row.pid, "started_at": iso_z(row.started_at),
             "settings_path": row.settings_path, "current": row.settings_digest == ours and row.stale_since is None}
            for row in live_processes(connection, now or utcnow()) if row.command == RUN]


def not_applied_detail(row: Any) -> str:
    """What a stale process's stall says: which files changed when, since when it runs, the fix.
    Paths only, never a value."""
    files = ", ".join((row.stale_files or "").splitlines()) or "a settings file"
    return (f"{files} changed at {iso_z(row.stale_since)} after this process (`clinicsync {row.command}` on "
            f"{row.host}, pid {row.pid}) started at {iso_z(row.started_at)}: it still runs the settings it read "
            f"then, while a cron job on this store reads the new ones; {RESTART}")


def differ_detail(rows: list[Any]) -> str:
    each = "; ".join(f"{row.host} pid {row.pid}: {row.settings_path} (digest {row.settings_digest[:8]})"
                     if row.command == RUN else
                     f"{row.host} cron `clinicsync {row.command}`, last at {iso_z(row.seen_at)}: {row.settings_path} "
                     f"(digest {row.settings_digest[:8]})"
                     for row in rows)
    return (f"the processes on this store run different settings (settings file, message templates, mappings): "
            f"{each}. Make them the same files (one ConfigMap, one copy per host: the cron's too), then "
            f"{RESTART.removeprefix('restart it: ')}")
