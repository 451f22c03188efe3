"""An appointment's row as the batch path writes it, and the code generated to build it.

``_appointment_values`` is the reference row; ``_ROW_SOURCES`` says the same per column as an
expression, from which a row builder is compiled once per pattern of bind processors
(``_row_maker``, ``_hashing_row_maker``: eval/exec of the dataclass's and the table's own names).
SQLite's literal inlining (``_inlined``) and left-out columns (``_unset_columns``) live here too:
they decide which columns those builders write. tests/sync/test_store_import.py and
test_store_hash.py check that every builder agrees with the reference."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any

import orjson
from sqlalchemy import Connection

from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.store.bulk import BoundValues, bind_processors, bind_value, leaves_null
from clinicsync.sync.store.row_hash import _EMPTY_DIGEST, HeldJson
from clinicsync.sync.store.tables import APPOINTMENTS
from clinicsync.sync.store.views import _LATER_GROUPS, _VIEW_MASK, _VIEWS, _view_builders, _view_display


def notes_text(notes: Sequence[str]) -> str | None:
    """Data-quality notes as stored: one per line, or NULL when there are none."""
    return "\n".join(notes) or None


_ROW_NAMES = ("connector", "external_id", "status", "start_utc", "end_utc", "timezone", "type", "location_ref",
              "patient_ref", "practitioner_ref", "content_hash", "version", "source_updated_at", "source_answer",
              "cancel_reason", "quality_notes", "visit_mode", "join_url", "provider_join_url", "dial_in",
              "source_fingerprint", "created_at", "updated_at")


def _appointment_values(connector: str, a: NormalizedAppointment, new_hash: str, now: datetime,
                        version: int, printed: str | None = None) -> tuple[Any, ...]:
    """The row of an appointment's content, in ``_ROW_NAMES`` order. ``printed``: the
    fingerprint of the raw record it was mapped from; every write of content sets it (None
    clears it), so a stored fingerprint always describes the record the row's content came from."""
    patient, practitioner = a.patient, a.practitioner
    return (connector, a.external_id, a.status, a.start, a.end, a.timezone, a.type, a.location,
            patient.external_id if patient else None, practitioner.external_id if practitioner else None,
            new_hash, version, a.source_updated_at, a.answer, a.cancel_reason, notes_text(a.notes),
            a.visit_mode, a.join_url, a.provider_join_url, a.dial_in, printed, now, now)


# Each column of ``_ROW_NAMES`` as ``_appointment_values`` computes it, a Python expression of the
# appointment ``a``, its hash ``h`` and fingerprint ``printed``; ``connector``, ``version`` and
# ``now`` are the batch's. tests/sync/test_store_import.py checks the two agree.
_ROW_SOURCES = {
    "connector": "connector", "external_id": "a.external_id", "status": "a.status", "start_utc": "a.start",
    "end_utc": "a.end", "timezone": "a.timezone", "type": "a.type", "location_ref": "a.location",
    "patient_ref": "(a.patient.external_id if a.patient else None)",
    "practitioner_ref": "(a.practitioner.external_id if a.practitioner else None)",
    "content_hash": "h", "version": "version", "source_updated_at": "a.source_updated_at",
    "source_answer": "a.answer", "cancel_reason": "a.cancel_reason", "quality_notes": "('\\n'.join(a.notes) or None)",
    "visit_mode": "a.visit_mode", "join_url": "a.join_url", "provider_join_url": "a.provider_join_url",
    "dial_in": "a.dial_in", "source_fingerprint": "printed", "created_at": "now", "updated_at": "now"}
_CONSTANT_SOURCES = frozenset({"connector", "version", "now"})
assert tuple(_ROW_SOURCES) == _ROW_NAMES


@lru_cache(maxsize=64)
def _row_maker(processed: tuple[bool, ...], inline: bool = False,
               unset: frozenset[str] = frozenset()) -> Callable[..., Callable[[Any, str, str | None], tuple[Any, ...]]]:
    """The source of a bound-row builder for one pattern of columns with a bind processor
    (``processed``, in ``_ROW_NAMES`` order), compiled once: a value of such a column is looked
    up in its ``BoundValues`` (``b<i>``) unless it is one of the batch's constants, which come
    bound already. ``inline``: the constants' columns are left out of the row (the statement
    writes them as literals: :func:`_inlined`); ``unset``: columns left out, None in every row
    of the batch (:func:`_unset_columns`)."""
    parameters = [f"b{i}" for i, flag in enumerate(processed) if flag]
    maker: Callable[..., Callable[[Any, str, str | None], tuple[Any, ...]]] = eval(  # noqa: S307
        f"lambda connector, version, now, {', '.join(parameters)}: "
        f"lambda a, h, printed: ({', '.join(_row_terms(processed, inline, unset))},)")
    return maker


def _row_terms(processed: tuple[bool, ...], inline: bool, unset: frozenset[str]) -> list[str]:
    """The expressions of a bound row's values (see _row_maker), in ``_ROW_NAMES`` order."""
    return [f"b{i}[{source}]" if processed[i] and source not in _CONSTANT_SOURCES else source
            for i, (name, source) in enumerate(_ROW_SOURCES.items())
            if not (inline and source in _CONSTANT_SOURCES) and name not in unset]


@lru_cache(maxsize=64)
def _hashing_row_maker(processed: tuple[bool, ...], inline: bool, unset: frozenset[str],
                       view: tuple[str, ...] | None) -> Callable[..., Callable[[Any, str | None], tuple[Any, ...]]]:
    """``_row_maker``'s row with its content hash computed inside, for a batch whose
    appointments all hash with one view (``view``: its fields, ``_VIEWS``): one Python call a
    new appointment instead of three (the hash, its view and the row); or (``view``
    None) each with the view of its own mask (``views``: ``_batch_hashes``' view functions by
    mask), one call fewer than ``hashed`` then the row. The hash is ``_batch_hashes``' byte for
    byte: the same view display, JSON and digest."""
    parameters = "".join(f", b{i}" for i, flag in enumerate(processed) if flag)
    shown = f"views[{_VIEW_MASK}](a)" if view is None else f"{{{_view_display(view)}}}"
    source = (f"def make(held, person, fresh, dumps, views, connector, version, now{parameters}):\n"
              f"    def row(a, printed):\n"
              f"        digest = fresh()\n"
              f"        digest.update(dumps({shown}))\n"
              f"        h = digest.hexdigest()\n"
              f"        return ({', '.join(_row_terms(processed, inline, unset))},)\n"
              f"    return row\n")
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 - built from the dataclass's and the table's own names
    maker: Callable[..., Callable[[Any, str | None], tuple[Any, ...]]] = namespace["make"]
    return maker


def _bound_rows(connection: Connection, connector: str, now: datetime, version: int = 1,
                inline: dict[str, str] | None = None,
                unset: frozenset[str] = frozenset()) -> Callable[[NormalizedAppointment, str, str | None],
                                                                 tuple[Any, ...]]:
    """A builder of ``_appointment_values``' rows as the driver receives them (bulk.insert_rows
    ``bound=True``): one pass per row instead of a tuple, then each processed column gathered,
    looked up and zipped back (bulk.processed_rows). One per statement. ``inline``: the batch's
    constants as the statement's literals (:func:`_inlined`); their columns are left out of the
    rows (``_ROW_NAMES`` less ``inline``'s names, in order); so are ``unset``'s."""
    processors = dict(zip(_ROW_NAMES, bind_processors(connection, [APPOINTMENTS.c[n] for n in _ROW_NAMES]),
                          strict=True))
    maker = _row_maker(tuple(p is not None for p in processors.values()), inline is not None, unset)
    # ``now`` fills created_at and updated_at, columns of one type: bound once.
    return maker(*_batch_constants(connection, connector, now, version),
                 *(BoundValues(p) for p in processors.values() if p is not None))


def _hashed_rows(connection: Connection, connector: str, now: datetime, held: HeldJson, mask: int | None,
                 inline: dict[str, str] | None = None,
                 unset: frozenset[str] = frozenset()) -> Callable[[NormalizedAppointment, str | None], tuple[Any, ...]]:
    """``_bound_rows``' builder that hashes the appointment itself (``_hashing_row_maker``), for a
    batch whose appointments all have view ``mask`` (None: each its own); its people's JSON
    from ``held``."""
    processors = dict(zip(_ROW_NAMES, bind_processors(connection, [APPOINTMENTS.c[n] for n in _ROW_NAMES]),
                          strict=True))
    maker = _hashing_row_maker(tuple(p is not None for p in processors.values()), inline is not None, unset,
                               None if mask is None else _VIEWS[mask][0])
    views = None if mask is not None else {m: make(held.held, held.person) for m, make in _view_builders().items()}
    return maker(held.held, held.person, _EMPTY_DIGEST.copy, orjson.dumps, views,
                 *_batch_constants(connection, connector, now, 1),
                 *(BoundValues(p) for p in processors.values() if p is not None))


def _batch_constants(connection: Connection, connector: str, now: datetime, version: int) -> tuple[Any, Any, Any]:
    """The batch's constants of an appointment row as the driver receives them: the connector,
    the version and ``now`` (created_at and updated_at, columns of one type)."""
    return (bind_value(connection, APPOINTMENTS.c.connector, connector),
            bind_value(connection, APPOINTMENTS.c.version, version),
            bind_value(connection, APPOINTMENTS.c.created_at, now))


# Appointment columns a batch may leave out of its INSERT, with the field each is written from: None
# (no notes: quality_notes) in most first imports' every row; SQLite then stores NULL, as for a None
# bound (bulk.leaves_null, checked below), without binding it.
_UNSET_SOURCES = (("source_updated_at", "source_updated_at"), ("source_answer", "answer"),
                  ("cancel_reason", "cancel_reason"), ("quality_notes", "notes"), ("visit_mode", "visit_mode"),
                  ("join_url", "join_url"), ("provider_join_url", "provider_join_url"), ("dial_in", "dial_in"))
_UNSET_FIELDS = attrgetter(*(field for _, field in _UNSET_SOURCES))
_NOTHING = tuple(() if field == "notes" else None for _, field in _UNSET_SOURCES)  # each field's empty value
_ALL_UNSET = frozenset(column for column, _ in _UNSET_SOURCES)
assert all(leaves_null(APPOINTMENTS, column) for column in _ALL_UNSET)


# The view mask (``_appointment_hash``) of an appointment whose later groups are all unset, as
# every one is when all of ``_UNSET_SOURCES`` are empty (no notes, answer, telehealth or reason).
_PLAIN_MASK = (1 << len(_LATER_GROUPS)) - 1


assert frozenset().union(*_LATER_GROUPS) <= {field for _, field in _UNSET_SOURCES}


def _all_plain(appointments: Sequence[NormalizedAppointment]) -> bool:
    """Is every one of ``appointments`` empty in all of ``_UNSET_SOURCES``? Then each hashes
    with the view ``_PLAIN_MASK`` and each of those columns is None in every row."""
    return list(map(_UNSET_FIELDS, appointments)).count(_NOTHING) == len(appointments)


def _unset_columns(connection: Connection, appointments: Sequence[NormalizedAppointment],
                   plain: bool = False) -> frozenset[str]:
    """On SQLite, the appointment columns (``_UNSET_SOURCES``) that would be None in the row of
    every one of ``appointments``: a batch's INSERT leaves them out (SQLite stores NULL). Why:
    the sqlite3 driver binds None through its adapter registry (bulk.bind_none_directly: ~1,150
    instructions a None even so) and a first import's row has seven or eight of them.
    Asked of the whole batch (a superset of its new appointments), by C-level passes: each
    appointment's fields picked at once, then the batch compared with all empty. Elsewhere
    (COPY on PostgreSQL, where a None costs next to nothing): none. ``plain``: :func:`_all_plain`
    said yes already."""
    if connection.dialect.name != "sqlite" or not appointments:
        return frozenset()
    if plain:  # _all_plain, asked already
        return _ALL_UNSET
    values = list(map(_UNSET_FIELDS, appointments))
    count = len(values)
    if values.count(_NOTHING) == count:  # the usual first import: every one of them
        return _ALL_UNSET
    return frozenset(column for (column, _), nothing, found in zip(_UNSET_SOURCES, _NOTHING, zip(*values, strict=True),
                                                                    strict=True) if found.count(nothing) == count)


# What a constant may be to be written into a statement as a literal: an integer, or a text of
# these characters only (a connector's name, SQLite's date-time text): nothing to escape.
_LITERAL_TEXT = re.compile(r"[A-Za-z0-9_.:+ -]*")


def _inlined(connection: Connection, connector: str, now: datetime, version: int = 1) -> dict[str, str] | None:
    """On SQLite, the batch's constant columns as SQL literals (``_ROW_NAMES``' connector, version,
    created_at and updated_at), for an INSERT that binds only what changes from row to row.
    Why: sqlite3 binds each parameter of each row through a C call that copies the text under
    the connection's mutex (~1,200 instructions a value); these four are the same in every row
    of a batch. The literal holds the bound value as it is (a text in quotes, an
    integer's digits), so SQLite stores the same value with the same type. None (bind them as
    before): another store, or a value that is not plainly a literal (``_LITERAL_TEXT``)."""
    if connection.dialect.name != "sqlite":
        return None
    bound_connector, bound_version, bound_now = _batch_constants(connection, connector, now, version)
    literals: dict[str, str] = {}
    for names, value in ((("connector",), bound_connector), (("version",), bound_version),
                         (("created_at", "updated_at"), bound_now)):
        if type(value) is int:
            literal = str(value)
        elif type(value) is str and _LITERAL_TEXT.fullmatch(value):
            literal = f"'{value}'"
        else:
            return None
        literals.update(dict.fromkeys(names, literal))
    assert {name for name, source in _ROW_SOURCES.items() if source in _CONSTANT_SOURCES} == set(literals)
    return literals


def _appointment_row(connector: str, a: NormalizedAppointment, new_hash: str, now: datetime,
                     version: int, printed: str | None = None) -> dict[str, Any]:
    """``_appointment_values`` by column name."""
    return dict(zip(_ROW_NAMES, _appointment_values(connector, a, new_hash, now, version, printed), strict=True))
