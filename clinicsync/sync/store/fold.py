"""PostgreSQL's fold of a push's writes into one statement of data-modifying CTEs.

Apart from the batch writer because it is a driver trick with its own invariants (see
:class:`_Fold`): the writers only hand it their parts, and the batch decides when it applies."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

from clinicsync.sync.store.bulk import Processor
from clinicsync.sync.store.changes import Change
from clinicsync.sync.store.db import at_cursor
from clinicsync.sync.store.events import _EVENT_NAMES, _event_time, _one_event_insert
from clinicsync.sync.store.tables import APPOINTMENTS, EVENTS


class _Fold:
    """A PostgreSQL push's writes (a new person's or location's upsert; a new appointment and its
    ``created`` event, or a changed one's UPDATE and its event; the push's run row) sent as one
    statement of data-modifying CTEs (``flush``) instead of a round trip each (a REST
    push made nine round trips against the yardstick's four; each ~30 us of client and ~15 us of
    server CPU, and a wait on the wire). Only for a push that reads nothing its writes wrote and
    writes nothing after them but its run (Store.apply_batch's conditions), so the order they
    reach the store in changes nothing; every CTE runs once and to completion in the statement's
    one snapshot, each row is written once, and the one foreign key among them (event ->
    appointment) is checked by PostgreSQL's RI trigger at the statement's end, when the CTE's
    appointment row is in (tests/sync/test_push_folded.py). A failure of any part (another replica's
    copy of the new appointment) fails the statement, as it would have failed its own, and the
    push's transaction rolls back whole."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, tuple[Any, ...]]] = []  # (INSERT in psycopg's %s style, its values)

    def add(self, sql: str, values: tuple[Any, ...]) -> None:
        self.parts.append((sql, values))

    def created(self, connection: Connection, appointment: tuple[str, tuple[Any, ...]],
                event: tuple[str, Any]) -> None:
        """The new appointment (its ``INSERT … RETURNING id``) and its created event, whose
        ``appointment_id`` is that id: ``event`` is the rest of its row (payload, stamp)."""
        self.add(*appointment)
        quote = connection.dialect.identifier_preparer.quote
        self.add(f"INSERT INTO {quote(EVENTS.name)} ({', '.join(quote(n) for n in _EVENT_NAMES)}) "
                 f"VALUES ((SELECT id FROM w{len(self.parts) - 1}), %s, %s, %s, %s)", ("created", 1, *event))

    def flush(self, connection: Connection, tail: tuple[str, tuple[Any, ...]] | None) -> None:
        """Send the parts and ``tail`` (the run row, or nothing) in one statement: all but the
        last as CTEs ``w0``, ``w1``, … in their order, the last as the statement itself."""
        parts = self.parts if tail is None else [*self.parts, tail]
        if not parts:
            return
        *ctes, (last, _) = parts
        sql = f"WITH {', '.join(f'w{i} AS ({part})' for i, (part, _) in enumerate(ctes))} {last}" if ctes else last
        at_cursor(connection, sql, tuple(value for _, part in parts for value in part)).close()
        self.parts = []


def _fold_update(connection: Connection, fold: _Fold, values: dict[str, Any], unanswered: bool,
                 change: tuple[int, Change, int], marks: dict[str, Any], now: datetime) -> None:
    """A push's one changed appointment into ``fold``: its UPDATE (with the answer's reset when
    the change outlived it, in the same statement: a row is written once per statement) and its
    event, each value through its column's bind processor as the Core UPDATE passes it."""
    columns = tuple(c for c in values if not c.startswith("_"))
    sql, processors = _update_one(connection.dialect, columns, unanswered)
    fold.add(sql, (*(value if process is None else process(value)
                     for value, process in zip((values[c] for c in columns), processors, strict=True)), values["_id"]))
    appointment_id, made, version = change
    payload = orjson.dumps({**made.payload, **marks} if made.payload else marks).decode()
    fold.add(_one_event_insert(connection),
             (appointment_id, made.kind, version, payload, _event_time(connection.dialect)(now)))


@lru_cache(maxsize=32)
def _update_one(dialect: Dialect, columns: tuple[str, ...], unanswered: bool) -> tuple[str, list[Processor]]:
    """``UPDATE appointment SET columns … WHERE id`` at the driver (``%s`` marks), and the columns' processors."""
    quote = dialect.identifier_preparer.quote
    assignments = [f"{quote(c)} = %s" for c in columns]
    if unanswered:
        assignments += ["participation = NULL", "participation_at = NULL"]
    processors: list[Processor] = [APPOINTMENTS.c[c].type.dialect_impl(dialect).bind_processor(dialect)
                                   for c in columns]
    return f"UPDATE {quote(APPOINTMENTS.name)} SET {', '.join(assignments)} WHERE id = %s", processors


@lru_cache(maxsize=64)
def _positions(sql: str) -> tuple[str, tuple[str, ...]]:
    """``sql`` in psycopg's named style (``%(name)s``) in the positional one, and the names in order."""
    names = tuple(re.findall(r"%\((\w+)\)s", sql))
    assert "%%" not in sql, "a literal % would need its escape kept"
    return re.sub(r"%\((\w+)\)s", "%s", sql), names


def _positional(sql: str, parameters: Any) -> tuple[str, tuple[Any, ...]]:
    """A statement and its parameters (a dict for the named style, else a tuple) as a :class:`_Fold` part."""
    if not isinstance(parameters, dict):
        return sql, tuple(parameters)
    positional, names = _positions(sql)
    return positional, tuple(parameters[name] for name in names)
