"""What a poll reads of its connector before it fetches, in one statement.

An idle poll of `clinicsync run` costs its source's query plus its bookkeeping in the store, and
on PostgreSQL each statement is a round trip that costs more CPU than the query. So the poll's
reads of its own state are one ``SELECT`` of scalar subqueries, outside a transaction (a single
read needs none; on PostgreSQL a transaction's BEGIN and its end are two round trips more): when
its baseline was recorded, its cursor, its delete sweep's last time, whether a run of it is still
marked running, whether it has open quarantine items, and which of the standing conditions it
may end (sync/runs/standing.py) stand now.

The statement also reads the connector's last good run row when no failure came after it and it
stands for idle polls (its counts carry ``idle_polls``: sync/store/run_log.py ``note_idle_poll``), so that a
poll that finds nothing folds itself into that row, one UPDATE, instead of writing a run and a
stage row of its own.

The running/quarantine/standing flags let the poll skip a statement that usually finds nothing: closing the runs a dead
worker left running (``Store.restart_run``) when none is, the open items' read (a flat file's
recognizer, sync/ingest/fingerprint.py) when none is open, and ``end_all``'s read of the
conditions at the poll's end when none stood at its start. Why that holds: the poll runs under
its connector's poll lock, and only a poll of that connector starts runs of it or starts and
ends these conditions; an item opened meanwhile by a push or `quarantine retry` on the same
source is left for the next poll, as an item opened after the old read of the open items was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import BindParameter, Engine, Select, bindparam, exists, func, select

from clinicsync.sync.runs.standing import Subject, head_of
from clinicsync.sync.store.db import one_statement
from clinicsync.sync.store.quarantine import OPEN
from clinicsync.sync.store.run_log import IDLE_POLLS
from clinicsync.sync.store.tables import BASELINES, DELETE_SWEEPS, HOUSEKEEPING, QUARANTINE, STATES, SYNC_RUNS


@dataclass(frozen=True)
class PollState:
    """What a poll reads of its connector before it fetches (:func:`read_poll_state`)."""

    go_live: datetime | None  # when its baseline was recorded; None before
    cursor: dict[str, Any] | None
    swept_at: datetime | None  # its delete sweep's last time; None: never swept
    open_quarantine: bool = True  # it has open quarantine items (True: read them)
    running: bool = True  # a run of it is marked running (a dead worker's, under the poll lock: close it)
    standing: frozenset[str] = frozenset()  # the heads (standing.head_of) of the conditions asked that stand
    asked: frozenset[str] = frozenset()  # the heads of the conditions asked
    # its last good run row when it stands for idle polls and no failure followed: (row id, how many)
    idle_run: tuple[int, int] | None = None


def read_poll_state(engine: Engine, connector: str, conditions: Sequence[Subject] = ()) -> PollState:
    """The connector's poll state and which of ``conditions`` stand, in one statement."""
    heads = [head_of(condition) for condition in conditions]
    with one_statement(engine) as connection:
        row = connection.execute(_statement(len(heads)), {"connector": connector,
                                                          **{f"h{n}": head for n, head in enumerate(heads)}}).one()
    standing = frozenset(head for n, head in enumerate(heads) if row[_FIXED + n])
    return PollState(row.go_live, orjson.loads(row.cursor) if row.cursor is not None else None, row.swept_at,
                     bool(row.open), bool(row.running), standing, frozenset(heads),
                     idle_run_of(row.last_id, row.last_counts))


def idle_run_of(row_id: int | None, counts: str | None) -> tuple[int, int] | None:
    """(row id, idle polls) when the latest run row stands for idle polls (``counts`` is read only
    for an ok row); None otherwise: then the next idle poll writes a row of its own."""
    if row_id is None or counts is None or IDLE_POLLS not in counts:
        return None
    polls = orjson.loads(counts).get(IDLE_POLLS)
    return (int(row_id), polls) if isinstance(polls, int) else None


_FIXED = 7  # the statement's columns before the conditions'


@lru_cache(maxsize=8)
def _statement(conditions: int) -> Select[Any]:
    """Built once per number of conditions (a poll asks for 2 to 3): a statement built per call
    costs SQLAlchemy its construction and cache key, more than the round trip it saves."""
    connector: BindParameter[str] = bindparam("connector")

    def of(table: Any, column: Any) -> Any:
        return select(column).where(table.c.connector == connector).scalar_subquery()

    # Its last good run (through (connector, status, id), as connector_health reads it), when no
    # failure came after it: the row an idle poll may move (never one followed by failures).
    runs, later = SYNC_RUNS.alias("runs"), SYNC_RUNS.alias("later")
    last_ok = select(func.max(runs.c.id)).where(runs.c.connector == connector, runs.c.status == "ok") \
        .scalar_subquery()
    failed_since = exists().where(later.c.connector == connector, later.c.status == "failed", later.c.id > last_ok)
    columns = [of(BASELINES, BASELINES.c.recorded_at).label("go_live"),
               of(STATES, STATES.c.cursor).label("cursor"),
               of(DELETE_SWEEPS, DELETE_SWEEPS.c.swept_at).label("swept_at"),
               exists().where(QUARANTINE.c.connector == connector, QUARANTINE.c.status == OPEN).label("open"),
               exists().where(SYNC_RUNS.c.connector == connector, SYNC_RUNS.c.status == "running").label("running"),
               last_ok.label("last_id"),
               select(SYNC_RUNS.c.counts).where(SYNC_RUNS.c.id == last_ok, ~failed_since)
               .scalar_subquery().label("last_counts")]
    assert len(columns) == _FIXED
    columns += [exists().where(HOUSEKEEPING.c.task == bindparam(f"h{n}")).label(f"h{n}") for n in range(conditions)]
    return select(*columns)
