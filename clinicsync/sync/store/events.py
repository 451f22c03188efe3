"""The outbox events a batch's appointment writes cause (created, updated, …), at the driver.

One ``created`` event per new appointment is the bulk of a first import's writes; on SQLite
they are copied by one INSERT … SELECT (``_insert_created_events``), a push's one event goes in
as a statement compiled once (``_one_event_insert``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

from clinicsync.sync.store.bulk import placeholder
from clinicsync.sync.store.tables import EVENTS

_EVENT_NAMES = ("appointment_id", "kind", "version", "payload", "created_at")


def _created_by_select(connection: Connection, new_ids: Sequence[int]) -> bool:
    """Can a batch's ``created`` events be written by :func:`_insert_created_events`? On SQLite,
    when the new rows' ids are consecutive in row order (bulk.insert_with_ids usually makes
    them so): then the ids from the first to the last are exactly those rows, in that order."""
    return (len(new_ids) > 1 and connection.dialect.name == "sqlite"
            and new_ids == list(range(new_ids[0], new_ids[0] + len(new_ids))))


# The created events of appointments first..last, in id order, as the executemany of their rows
# wrote them: (id, "created", 1, payload, created_at already bound).
_CREATED_EVENTS = (f"INSERT INTO event ({', '.join(_EVENT_NAMES)}) SELECT id, ?, ?, ?, ? FROM appointment "
                   "WHERE id BETWEEN ? AND ? ORDER BY id")


def _insert_created_events(connection: Connection, first: int, last: int, payload: str, stamp: Any) -> None:
    """One ``created`` event per appointment ``first``..``last`` (consecutive, just inserted:
    :func:`_created_by_select`), in one statement that SQLite runs in its own engine: the same
    rows, in the same order (SQLite numbers the inserted rows in the SELECT's order), without
    a tuple built in Python and bound per row (~1 us an appointment)."""
    connection.exec_driver_sql(_CREATED_EVENTS, ("created", 1, payload, stamp, first, last))


def _unprocessed(connection: Connection, names: Sequence[str]) -> bool:
    """Do these event columns reach this dialect's driver as they are (no bind processor)? Then
    an event row whose created_at is bound already is bound whole. Asked once per dialect and
    columns (a push asks on each of its writes)."""
    return _unprocessed_in(connection.dialect, tuple(names))


@lru_cache(maxsize=32)
def _unprocessed_in(dialect: Dialect, names: tuple[str, ...]) -> bool:
    return not any(column.type.dialect_impl(dialect).bind_processor(dialect) is not None
                   for column in (EVENTS.c[name] for name in names))


@lru_cache(maxsize=32)
def _event_time(dialect: Dialect) -> Callable[[Any], Any]:
    """``bind_value`` of an event's created_at on ``dialect``, its processor looked up once (a push
    writes one event: the lookup cost more than the value)."""
    process = EVENTS.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    return (lambda value: value) if process is None else (lambda value: value if value is None else process(value))


@lru_cache(maxsize=32)
def _event_insert(name: str, quote: Callable[[str], str], mark: str) -> str:
    return (f"INSERT INTO {quote(EVENTS.name)} ({', '.join(quote(n) for n in _EVENT_NAMES)}) "
            f"VALUES ({', '.join([mark] * len(_EVENT_NAMES))})")


def _one_event_insert(connection: Connection) -> str:
    """The INSERT of one event row, bound already (what ``insert_rows`` renders for one row)."""
    return _event_insert(connection.dialect.name, connection.dialect.identifier_preparer.quote,
                         placeholder(connection))
