"""What a push reads before it writes, in one statement: the connector's
:class:`Presence` (go-live moment, tombstones, quarantine items, any visit) and what the store
holds of the pushed appointment's rows (:class:`Known`), with an optional :class:`FoldedRead`
(a webhook's receipt) on PostgreSQL."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Boolean, Connection, text
from sqlalchemy.engine import Dialect

from clinicsync.common.types import UtcDateTime
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.store import quarantine
from clinicsync.sync.store.db import at_cursor


@dataclass(frozen=True)
class Presence:
    """What a connector has that a push must heed (its go-live moment, tombstones, quarantine
    items), read in one statement (``_PRESENCE``) inside the push's transaction instead of
    three probes and a connection of their own (~20 % of a push's CPU)."""

    go_live: datetime | None
    tombstones: bool  # any tombstone, live or expired: _tombstoned looks closer
    open_items: bool  # an open quarantine item: resolve_imported looks closer
    items: bool  # any quarantine item, of any status: _before_go_live looks closer
    # Any appointment row, of any status: a source that has stored none yet is a first run, which
    # a push's ``unstored`` check may refuse (sync/ingest/orphans.py). One more index probe, no statement.
    visits: bool = True


# Has the connector any appointment row (ix on appointment's (connector, external_id) key).
_VISITS = "EXISTS (SELECT 1 FROM appointment WHERE connector = :connector)"
# Each term one indexed probe: connectorbaseline's key, tombstone's (connector, external_id)
# key, quarantine's ix_quarantine_open (connector, status, record_id). Built once.
_PRESENCE_SQL = (
    "SELECT (SELECT recorded_at FROM connectorbaseline WHERE connector = :connector) AS go_live, "
    "EXISTS (SELECT 1 FROM tombstone WHERE connector = :connector) AS tombstones, "
    f"EXISTS (SELECT 1 FROM quarantine WHERE connector = :connector AND status = '{quarantine.OPEN}') AS open_items, "
    "EXISTS (SELECT 1 FROM quarantine WHERE connector = :connector) AS items, "
    f"{_VISITS} AS visits")
_PRESENCE = text(_PRESENCE_SQL).columns(go_live=UtcDateTime(), tombstones=Boolean(), open_items=Boolean(),
                                        items=Boolean(), visits=Boolean())


def presence(connection: Connection, connector: str) -> Presence:
    """:class:`Presence` of ``connector``, in the caller's transaction."""
    row = connection.execute(_PRESENCE, {"connector": connector}).one()
    return Presence(row[0], bool(row[1]), bool(row[2]), bool(row[3]), bool(row[4]))


def _at_driver(sql: str) -> dict[str, str]:
    """``sql`` with its ``:name`` parameters in each driver's own named style (sqlite3 takes
    ``:name`` as it is; psycopg and the MySQL drivers ``%(name)s``), so a push's one read runs
    through ``exec_driver_sql``: ~30-60 us less per statement than a SQLAlchemy construct."""
    assert "%" not in sql, "a % would need escaping in the pyformat style"
    return {"sqlite": sql, "other": re.sub(r":(\w+)", r"%(\1)s", sql)}


@cache
def _utc_result(dialect: Dialect) -> Callable[[Any], Any]:
    """UtcDateTime's result processing on ``dialect`` (aware UTC from a driver's value)."""
    process = UtcDateTime().dialect_impl(dialect).result_processor(dialect, None)
    return process if process is not None else (lambda value: value)


@dataclass(frozen=True)
class Known:
    """What the store holds of one pushed appointment's rows, read with its :class:`Presence`
    (``_PRESENCE_ONE``): the lookups ``apply_batch`` makes before writing, by external id, as
    ``select_in`` would have returned them. Absent keys: no such row."""

    patients: dict[str, str]  # external id -> content_hash
    practitioners: dict[str, str]
    locations: dict[str, str | None]  # external id -> name
    appointments: dict[str, tuple[Any, ...]]  # external id -> (external_id, content_hash, deleted_at, id, fingerprint)


def _one(table: str, column: str, key: str) -> str:
    return f"(SELECT {column} FROM {table} WHERE connector = :connector AND external_id = :{key})"


# A one-record push's Presence with its quarantine terms scoped to the record's own ids (its
# external id and the connector's record id, ``:record_a``/``:record_b``): what the write path then
# looks up (quarantine.first_seen, resolve_imported) is only ever about those ids, so a source
# with items of other records pays nothing for them (a push into a source of 100k
# appointments, with its baseline's quarantine items, costs as one into an empty one). Each
# term walks ix_quarantine_open (connector, status, record_id).
_RECORD = "record_id IN (:record_a, :record_b)"
_PRESENCE_RECORD_SQL = (
    "SELECT (SELECT recorded_at FROM connectorbaseline WHERE connector = :connector) AS go_live, "
    "EXISTS (SELECT 1 FROM tombstone WHERE connector = :connector) AS tombstones, "
    f"EXISTS (SELECT 1 FROM quarantine WHERE connector = :connector AND status = '{quarantine.OPEN}' "
    f"AND {_RECORD}) AS open_items, "
    f"EXISTS (SELECT 1 FROM quarantine WHERE connector = :connector AND status IN ('{quarantine.OPEN}', "
    f"'{quarantine.RESOLVED}', '{quarantine.DISMISSED}') AND {_RECORD}) AS items")


# A one-appointment push's Presence and its four lookups (patient, practitioner, location,
# appointment) in one statement: each term a scalar subquery on a (connector, external_id)
# unique key (three to four round trips fewer per push). content_hash and
# appointment.id are NOT NULL, so NULL means "no row"; a location's name may be NULL, hence
# its EXISTS. Built once.
_PRESENCE_ONE = _at_driver(
    _PRESENCE_RECORD_SQL + ", "
    + _one("patient", "content_hash", "patient") + " AS patient_hash, "
    + _one("practitioner", "content_hash", "practitioner") + " AS practitioner_hash, "
    + "EXISTS " + _one("location", "1", "location") + " AS location_known, "
    + _one("location", "name", "location") + " AS location_name, "
    + ", ".join(f"{_one('appointment', column, 'appointment')} AS appointment_{column}"
                for column in ("id", "content_hash", "deleted_at", "source_fingerprint"))
    + f", {_VISITS} AS visits"
)


class FoldedRead(ABC):
    """A push's own first read and claim (a webhook's receipt), which on PostgreSQL can be read
    in the push's one read (:func:`presence_and_known`) instead of a statement before it: a
    round trip fewer per webhook. Called alone, it is that statement, as before."""

    @abstractmethod
    def __call__(self, connection: Connection) -> Collection[str] | None:
        """The read alone, as a ``within``: what :meth:`decide` says, from a statement of its own."""

    @abstractmethod
    def terms(self, connection: Connection) -> tuple[str, str, dict[str, Any]]:
        """(common table expressions, the select list's further columns, their parameters),
        in psycopg's ``%(name)s`` style; the parameters' names must not be the read's own."""

    @abstractmethod
    def decide(self, connection: Connection, values: Sequence[Any]) -> Collection[str] | None:
        """What the read alone would answer, from its columns' values (it may raise)."""


def presence_and_known(connection: Connection, connector: str, appointment: NormalizedAppointment,
                       record_ids: Sequence[str]) -> tuple[Presence, Known]:
    """:func:`presence_and_folded` without a folded read."""
    present, known, _ = presence_and_folded(connection, connector, appointment, record_ids)
    return present, known


def presence_and_folded(connection: Connection, connector: str, appointment: NormalizedAppointment,
                        record_ids: Sequence[str], folded: FoldedRead | None = None,
                        ) -> tuple[Presence, Known, Sequence[Any]]:
    """:class:`Presence` of ``connector`` and what it holds of ``appointment``'s rows, in one
    statement in the caller's transaction (after the push's turn: nothing else writes them
    until it commits). ``record_ids`` (one or two: the appointment's external id, the
    connector's record id): the Presence's quarantine terms are about items of these only.
    ``folded`` (PostgreSQL): its terms are read in the same statement; their values are returned."""
    assert 1 <= len(record_ids) <= 2, record_ids
    patient = appointment.patient.external_id if appointment.patient else None
    practitioner = appointment.practitioner.external_id if appointment.practitioner else None
    dialect = connection.dialect
    sql = _PRESENCE_ONE["sqlite" if dialect.name == "sqlite" else "other"]
    parameters = {"connector": connector, "patient": patient, "practitioner": practitioner,
                  "location": appointment.location, "appointment": appointment.external_id,
                  "record_a": record_ids[0], "record_b": record_ids[-1]}
    if folded is not None:
        ctes, columns, more = folded.terms(connection)
        assert not parameters.keys() & more.keys(), "a folded read's parameters are its own"
        sql, parameters = f"WITH {ctes} {sql}, {columns}", {**parameters, **more}
    cursor = at_cursor(connection, sql, parameters)
    try:
        row = cursor.fetchone()
    finally:
        cursor.close()
    (go_live, tombstones, open_items, items, patient_hash, practitioner_hash, location_known, location_name,
     appointment_id, appointment_hash, deleted_at, fingerprint, visits) = row[:_PRESENCE_WIDTH]
    utc = _utc_result(dialect)
    go_live, deleted_at = utc(go_live), utc(deleted_at)
    known = Known(
        patients={patient: patient_hash} if patient is not None and patient_hash is not None else {},
        practitioners=({practitioner: practitioner_hash}
                       if practitioner is not None and practitioner_hash is not None else {}),
        locations={appointment.location: location_name} if appointment.location and location_known else {},
        appointments=({appointment.external_id: (appointment.external_id, appointment_hash, deleted_at,
                                                 appointment_id, fingerprint)}
                      if appointment_id is not None else {}))
    return (Presence(go_live, bool(tombstones), bool(open_items), bool(items), bool(visits)), known,
            row[_PRESENCE_WIDTH:])


_PRESENCE_WIDTH = 13  # presence_and_known's own columns
