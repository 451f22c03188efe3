"""A standing condition is logged when it starts, when it changes and when it ends — not at
every run.

Under cron (`sync --once` every 5 minutes) a condition that lasts — a source the settings no
longer name, a source that cannot be read, a FHIR Subscription the poll cannot read, a stage
that fails — was a warning at each run: 288 lines a day, for months, until the journal's bound
and the log-based alerts drowned in them and retention evicted the line that said when it
began. Now a condition (an event and its subject: a connector, a stage, a notifier — names from
the settings, never patient data) is written at its level

- the first time it is seen (``since`` says when);
- when its state changes (the error text differs: a new fault during a standing one);
- as a reminder, ``reminder=true``, once per REMIND_EVERY while it lasts;

and otherwise at debug; when it ends, ``<event>.resolved`` at info with ``since``. `status`,
the status page, /metrics and the alert rules keep showing a stall for as long as it lasts
(sync/checks/stalls.py): they read the store, not the log.

Cron runs are separate processes, so what was said lives in the store: two rows per condition
in ``housekeeping`` (model/housekeeping.py, one row per name, no migration): ``said:<event>:
<subject>`` when it began, ``said:<event>:<subject>#<digest of its state>`` when it was last
written. If the store cannot be read or written, the line is written at its level: a condition
is never lost for a bookkeeping failure."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, delete, or_, select
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.common.timeutil import iso_z
from clinicsync.common.types import utcnow
from clinicsync.sync.store.db import upsert_statement
from clinicsync.sync.store.tables import HOUSEKEEPING

REMIND_EVERY = timedelta(hours=24)
PREFIX = "said:"
_TASK_LIMIT = 64  # housekeeping.task's length
_DIGEST = 8
# A state's numbers (a count of visits that goes down, a time) are not a change of state.
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Standing:
    """One kind of standing condition: its log event and the field that names its subject."""

    event: str
    field: str  # connector | stage | notifier

    def seen(self, engine: Engine, log: Any, subject: str, *, state: str = "", level: str = "warning",
             now: datetime | None = None, part: str = "", remind: bool = True, **fields: Any) -> bool:
        """The condition holds for ``subject`` now, in ``state`` (e.g. its error text; its numbers
        are ignored: a count that goes down is the same state): written at ``level`` when it is
        new, changed or due a reminder, else at debug. True if written at ``level``. ``part``: of
        the subject, one condition each (a source's Location reads, its Practitioner reads).
        ``remind`` False: no daily reminder (a condition worked around, which needs no one)."""
        now = now or utcnow()
        head = self._key(subject, part)
        said = f"{head}#{hashlib.sha256(_DIGITS.sub('#', state).encode()).hexdigest()[:_DIGEST]}"
        try:
            with engine.begin() as connection:
                rows = _rows(connection, _of(head))
                since, last = rows.get(head), rows.get(said)
                if last is not None and (now - last < REMIND_EVERY or not remind):
                    write = ""
                else:
                    write = "reminder" if last is not None else ("changed" if since is not None else "new")
                    stale = [task for task in rows if task not in (head, said)]
                    if stale:
                        connection.execute(delete(HOUSEKEEPING).where(HOUSEKEEPING.c.task.in_(stale)))
                    upsert = upsert_statement(connection, HOUSEKEEPING, ("task",), ("done_for",))
                    connection.execute(upsert, [{"task": said, "done_for": now}]
                                       + ([] if since is not None else [{"task": head, "done_for": now}]))
        except SQLAlchemyError:
            getattr(log, level)(self.event, **{self.field: subject}, **fields)
            return True
        since = since or now
        extra: dict[str, Any] = {"since": iso_z(since)}
        if write == "reminder":
            extra["reminder"] = True
        elif write == "changed":
            extra["changed"] = True
        getattr(log, level if write else "debug")(self.event, **{self.field: subject}, **fields, **extra)
        return bool(write)

    def holds(self, engine: Engine, subject: str, part: str = "") -> bool:
        """Whether the condition stands for ``subject`` (its start is recorded in the store): what
        a run may remember of the last one. False when the store cannot be read."""
        try:
            with engine.connect() as connection:
                return connection.execute(select(HOUSEKEEPING.c.task).where(
                    HOUSEKEEPING.c.task == self._key(subject, part))).first() is not None
        except SQLAlchemyError:
            return False

    def ended(self, engine: Engine, log: Any, subject: str | None = None, *, keep: Collection[str] = (),
              now: datetime | None = None, part: str = "") -> list[str]:
        """The condition no longer holds for ``subject`` (None: for every subject but those of
        ``keep``, the ones still seen): ``<event>.resolved`` at info for each that was standing,
        its rows gone. The subjects resolved."""
        now = now or utcnow()
        base = f"{PREFIX}{self.event}:"
        try:
            with engine.begin() as connection:
                rows = _rows(connection, _of(self._key(subject, part)) if subject is not None
                             else HOUSEKEEPING.c.task.startswith(base, autoescape=True))
                kept = {self._key(s) for s in keep}
                heads = {task: since for task, since in rows.items() if "#" not in task and task not in kept}
                gone = [task for task in rows if task.split("#", 1)[0] in heads]
                if gone:
                    connection.execute(delete(HOUSEKEEPING).where(HOUSEKEEPING.c.task.in_(gone)))
        except SQLAlchemyError:
            return []  # said again at the next run that reads the store
        named = {task: subject if subject is not None else task[len(base):] for task in heads}
        for task, since in sorted(heads.items()):
            log.info(f"{self.event}.resolved", **{self.field: named[task]}, **({"part": part} if part else {}),
                     since=iso_z(since), lasted_minutes=int((now - since).total_seconds() // 60))
        return [named[task] for task in sorted(heads)]

    def _key(self, subject: str, part: str = "") -> str:
        """``said:<event>:<subject>`` (``…:<subject>/<part>``), shortened (with a digest of it) to
        leave room for the state's ``#digest`` in housekeeping.task."""
        subject = f"{subject}/{part}" if part else subject
        key = f"{PREFIX}{self.event}:{subject}"
        room = _TASK_LIMIT - 1 - _DIGEST
        if len(key) <= room:
            return key
        tail = "~" + hashlib.sha256(subject.encode()).hexdigest()[:6]
        return key[:room - len(tail)] + tail


# (kind, subject, part): one condition of one subject, as ``Standing.seen``/``ended``/``holds`` take it.
Subject = tuple[Standing, str, str]


def holding(engine: Engine, conditions: Sequence[Subject]) -> list[bool]:
    """``Standing.holds`` of each, in one read (a poll asks for those its connector remembers)."""
    if not conditions:
        return []
    heads = [kind._key(subject, part) for kind, subject, part in conditions]
    try:
        with engine.connect() as connection:
            found = set(connection.execute(select(HOUSEKEEPING.c.task).where(HOUSEKEEPING.c.task.in_(heads))).scalars())
    except SQLAlchemyError:
        return [False] * len(heads)
    return [head in found for head in heads]


def head_of(condition: Subject) -> str:
    """The housekeeping task that says ``condition`` stands (what :func:`holding` looks for)."""
    kind, subject, part = condition
    return kind._key(subject, part)


def end_all(engine: Engine, log: Any, conditions: Sequence[Subject], now: datetime | None = None,
            standing: Collection[str] | None = None, asked: Collection[str] = ()) -> None:
    """``Standing.ended`` of each (a subject each, never None), in one transaction: one read of
    their rows, at most one delete. What a poll ends at its end (the failure kinds that did not
    happen, the conditions its connector found fine) costs one round of the store, not one each
    (an idle poll's bookkeeping). ``<event>.resolved`` in the order given. ``asked`` and
    ``standing``: the heads (:func:`head_of`) the caller read, and those of them that stood, when
    nothing else could start them since (a poll under its poll lock, sync/runs/poll_state.py):
    when every one of ``conditions`` was asked and none stood, nothing is read. A condition not
    asked (a connector's condition it does not remember across runs) is always read."""
    if not conditions:
        return
    heads_of = [head_of(c) for c in conditions]
    if standing is not None and all(h in asked for h in heads_of) and not any(h in standing for h in heads_of):
        return
    now = now or utcnow()
    heads = {kind._key(subject, part): (kind, subject, part) for kind, subject, part in conditions}
    try:
        with engine.begin() as connection:
            rows = _rows(connection, or_(*(_of(head) for head in heads)))
            standing = {task for task in rows if "#" not in task}
            gone = [task for task in rows if task.split("#", 1)[0] in standing]
            if gone:
                connection.execute(delete(HOUSEKEEPING).where(HOUSEKEEPING.c.task.in_(gone)))
    except SQLAlchemyError:
        return  # said again at the next run that reads the store
    for head, (kind, subject, part) in heads.items():
        if head in standing:
            since = rows[head]
            log.info(f"{kind.event}.resolved", **{kind.field: subject}, **({"part": part} if part else {}),
                     since=iso_z(since), lasted_minutes=int((now - since).total_seconds() // 60))


def _of(head: str) -> ColumnElement[bool]:
    """The rows of one condition: its start and its state(s)."""
    return (HOUSEKEEPING.c.task == head) | HOUSEKEEPING.c.task.startswith(head + "#", autoescape=True)


def _rows(connection: Connection, where: ColumnElement[bool]) -> dict[str, datetime]:
    rows = connection.execute(select(HOUSEKEEPING.c.task, HOUSEKEEPING.c.done_for).where(where))
    return {task: done_for for task, done_for in rows}
