"""The post-sync stages one worker runs at a time (calendar, write-back), and who holds each.

A stage's lock is :func:`clinicsync.sync.store.locks.try_lock`'s; what this module adds is its
holder's row in the store (``lock_holder``), written when the lock is taken and deleted when
it is released, so that `status` in any process names a worker hung inside a stage
(sync/checks/stalls.py). Apart from sync/store/locks.py because the row needs the store's tables, and the
store's migrations need the locks (no import cycle)."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, select
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.common.timeutil import iso_z
from clinicsync.common.types import utcnow
from clinicsync.sync.store.db import one_statement, upsert_statement
from clinicsync.sync.store.locks import HeldLock, try_lock
from clinicsync.sync.store.tables import LOCK_HOLDERS

CALENDAR = ("stage", "calendar")


@contextlib.contextmanager
def stage_lock(engine: Engine, stage: str) -> Iterator[HeldLock | None]:
    """One worker runs the post-sync stage ``stage`` at a time, for the stages that write to the
    world outside the store from rows they read first (a calendar, a source's write-back): two
    runs that overlap (cron's `sync --once` while a long one still runs, a CronJob with
    concurrencyPolicy Allow, the `run` service and a manual `sync --once`, two replicas, two
    poll jobs of one `run` on PostgreSQL) would otherwise both act on what both read. The others
    skip the stage, never wait: the holder does what is due, the next run anything newer.

    Its holder (host, pid, command, since when) is written to the store once the lock is taken
    and deleted when it is released (``lock_holder``), so `status` in any process names a worker
    hung inside the stage (sync/checks/stalls.py); a holder that died leaves its row, not its lock."""
    name = ("stage", stage)
    with try_lock(engine, *name) as held:
        holder = _note_holder(engine, name) if held is not None else None
        try:
            yield held
        finally:
            if holder is not None:
                _forget_holder(engine, holder)


def calendar_lock(engine: Engine) -> contextlib.AbstractContextManager[HeldLock | None]:
    """The calendar stage's :func:`stage_lock` (sync/calendar/push.py): without it two runs
    pushed the same changes twice and wrote a doctor's .ics file from an older view over a
    newer one. One lock for the whole stage, not one per calendar: it reads every calendar's
    links in pages and retires the events of a provider no longer used, whatever the doctor."""
    return stage_lock(engine, CALENDAR[1])


def this_command() -> str:
    """What this process is, for a holder's row: the program and its sub-command words
    (``clinicsync sync``, ``clinicsync calendar push``), never an option's value."""
    words = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"]
    words += [word for word in sys.argv[1:4] if word.replace("-", "").isalnum() and not word.startswith("-")]
    return " ".join(words)[:64]


def _note_holder(engine: Engine, name: tuple[str, ...]) -> dict[str, Any]:
    row = {"name": "/".join(name), "host": socket.gethostname()[:255], "pid": os.getpid(),
           "command": this_command(), "since": utcnow()}
    with one_statement(engine) as connection:  # a holder that died left its row: the lock is ours now
        connection.execute(upsert_statement(connection, LOCK_HOLDERS, ["name"], ["host", "pid", "command", "since"]),
                           row)
    return row


def _forget_holder(engine: Engine, row: dict[str, Any]) -> None:
    """Delete our row (only ours). When the store cannot be reached the row stays: the lock is
    released anyway, `status` sees it free, and the next holder writes its own row over it."""
    with contextlib.suppress(SQLAlchemyError), one_statement(engine) as connection:
        connection.execute(delete(LOCK_HOLDERS).where(and_(*(LOCK_HOLDERS.c[key] == value
                                                             for key, value in row.items() if key != "command"))))


def holder_of(connection: Connection, *name: str) -> Any:
    """The row its holder wrote when it took the lock ``name`` (None: none written, or
    released): maybe left by a holder that died, see :func:`lock_held`."""
    return connection.execute(select(LOCK_HOLDERS).where(LOCK_HOLDERS.c.name == "/".join(name))).first()


def who_holds(engine: Engine, *name: str) -> str | None:
    """``pid 4121 on worker-1 (clinicsync sync) since 2026-11-26T14:00:00Z`` for the lock's
    holder, for a line that says the lock is taken (None: no holder row)."""
    with engine.connect() as connection:
        row = holder_of(connection, *name)
    return f"pid {row.pid} on {row.host} ({row.command}) since {iso_z(row.since)}" if row is not None else None
