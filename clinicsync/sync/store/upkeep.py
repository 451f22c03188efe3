"""When a run's upkeep last ran, kept in the store so that cron's `sync --once` does not redo it
at every run.

Cron runs `sync --once` every few minutes, a new process each time, and every run did its
upkeep besides its poll: the run history and the stages' history pruned, old patient data
forgotten, the orphaned sources looked for, each zone's rules probed day by day over eleven
years. On an idle run each finds nothing, and together they were about a quarter of the run's
own CPU. Kept in a process, "done lately" would be forgotten by the next run; so it is a row
of ``housekeeping`` (model/housekeeping.py: a task's name and a time, shared by every process
on the store, no migration), as the daily chores and the standing conditions keep theirs.

A task's name may carry a digest of what it was done for (``zonerules:<digest>``: the tz
database and the zones; ``orphans:<digest>``: the source names): a different digest is not
done, whatever the time. A failure to read or write a mark is never an error of the run: the
task is then simply done (as before this module), or done again next time."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.sync.store.db import upsert_statement
from clinicsync.sync.store.tables import HOUSEKEEPING

H = HOUSEKEEPING.c
# How often `sync --once` does each upkeep task when it has nothing to do. Why an hour: what the
# tasks keep is counted in days (the run history ``store.run_history_days``, the stages' history
# a week, patient data ``store.patient_data_days``, whose window moves once a day at midnight:
# forgetting is due at that move whatever this says, engine.py ``retention_if_due``), so an hour
# delays nothing a clinic could notice, and a cron job every 5 minutes does each once in 12 runs
# instead of 12 times. A task that used its whole bound (a store catching up) stays due.
UPKEEP_EVERY = timedelta(minutes=60)
_TASK_LIMIT = 64  # housekeeping.task's length


def task_name(prefix: str, of: str | None = None) -> str:
    """``prefix`` alone, or ``prefix:of`` (``of`` a digest of what the task is done for: the
    project's one content hash, clinicsync/common/hashing.py ``content_hash``)."""
    name = prefix if of is None else f"{prefix}:{of}"
    assert len(name) <= _TASK_LIMIT, name
    return name


def done_at(engine: Engine, tasks: Collection[str]) -> dict[str, datetime] | None:
    """When each of ``tasks`` was last done (absent: never); None when the store cannot say
    (no housekeeping table yet, a store error): then every task is due."""
    try:
        with engine.connect() as connection:
            return {str(task): when for task, when in connection.execute(
                select(H.task, H.done_for).where(H.task.in_(sorted(tasks))))}
    except SQLAlchemyError:
        return None


def is_due(last: datetime | None, now: datetime, every: timedelta = UPKEEP_EVERY) -> bool:
    """Never done, done ``every`` or longer ago, or done "later" than now (a clock set back)."""
    return last is None or not (now - every < last <= now)


def note_done(engine: Engine, task: str, now: datetime, replacing: str | None = None) -> None:
    """Record ``task`` done at ``now``; ``replacing``: a prefix whose other marks go (the marks of
    another digest: only the newest one means anything). A failure is left: done again next time."""
    try:
        with engine.begin() as connection:
            note_done_in(connection, task, now, replacing)
    except SQLAlchemyError:
        pass


def note_done_in(connection: Connection, task: str, now: datetime, replacing: str | None = None) -> None:
    """:func:`note_done` in the caller's transaction."""
    if replacing is not None:
        connection.execute(delete(HOUSEKEEPING).where(H.task.startswith(replacing, autoescape=True), H.task != task))
    connection.execute(upsert_statement(connection, HOUSEKEEPING, ("task",), ("done_for",)),
                       {"task": task, "done_for": now})


def forget_done(engine: Engine, prefix: str) -> None:
    """Every mark of ``prefix``: the task is due at the next run."""
    try:
        with engine.begin() as connection:
            connection.execute(delete(HOUSEKEEPING).where(H.task.startswith(prefix, autoescape=True)))
    except SQLAlchemyError:
        pass
