"""The store: applies a batch of normalized appointments with change detection.

Everything a batch causes — rows, outbox events, quarantine entries and the
connector's new cursor — is written in one transaction. Unchanged input writes
nothing at all. Bulk selects and executemany keep it fast on large imports.
"""

from __future__ import annotations

import hashlib
import re
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from functools import cache, lru_cache
from operator import attrgetter
from typing import Any

import orjson
from sqlalchemy import Boolean, Connection, Engine, bindparam, delete, func, insert, select, text, update
from sqlalchemy.engine import Dialect

from clinicsync.common.hashing import content_hash_bytes
from clinicsync.common.types import UtcDateTime, utcnow
from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.connectors.base import MIN_DELETE_STOP
from clinicsync.mappings.model import (
    NormalizedAppointment,
    NormalizedPatient,
    NormalizedPractitioner,
    positional_builder,
)
from clinicsync.sync.config.settings import StoreSettings
from clinicsync.sync.store import quarantine, retention
from clinicsync.sync.store.bulk import (
    BoundValues,
    Processor,
    bind_processors,
    bind_value,
    insert_rows,
    insert_with_ids,
    leaves_null,
    one_row_insert,
    placeholder,
    select_in,
    select_where,
    update_keyed,
    update_where,
)
from clinicsync.sync.store.changes import ENDED_STATUSES, Change, Stored, as_correction, classify, update_order
from clinicsync.sync.store.db import (
    at_cursor,
    ensure_schema,
    insert_ignoring_duplicates,
    make_engine,
    one_statement,
    upsert_statement,
)
from clinicsync.sync.store.known_prints import KnownPrints, read_known
from clinicsync.sync.store.outbox import writing_events
from clinicsync.sync.store.quarantine import QuarantineEntry
from clinicsync.sync.store.tables import (
    APPOINTMENTS,
    BASELINES,
    EVENTS,
    HOUSEKEEPING,
    LOCATIONS,
    PATIENTS,
    PRACTITIONERS,
    STATES,
    TOMBSTONES,
)
from clinicsync.sync.store.tables import SYNC_RUNS as RUNS
from clinicsync.sync.store.zonerules import Rules, note_zones, previous_rules, remapped_unchanged

ORPHANS_CHORE = "retention: patients no visit names"  # Store.forget_patient_data's daily look
COUNT_KEYS = ("fetched", "created", "updated", "rescheduled", "cancelled", "noshow", "deleted",
              "unchanged", "quarantined")



@dataclass(frozen=True)
class Mapped:
    """A record that mapped, with where it came from. ``delete``: the source says the
    appointment is gone (e.g. HL7 SIU^S17), so it is deleted rather than upserted."""

    position: str
    appointment: NormalizedAppointment
    delete: bool = False
    record_id: str | None = None  # the connector's id of the record, when it has one
    # The raw record's fingerprint (sync/ingest/fingerprint.py), stored with the row it maps to.
    fingerprint: str | None = None
    # When clinicsync first saw the record, when earlier than this batch (the quarantine item a
    # retry imports it from): the go-live rule (Store.apply_batch ``go_live``) reads it.
    first_seen: datetime | None = None


# ``Mapped`` from all six fields in order, at a sixth of a frozen dataclass's cost: the batch
# path builds one per record (sync/ingest/engine.py _map_one; mappings/model.py positional_builder).
build_mapped = positional_builder(Mapped)


@dataclass
class Counts:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    rescheduled: int = 0
    cancelled: int = 0
    noshow: int = 0
    deleted: int = 0
    unchanged: int = 0
    quarantined: int = 0
    # Of ``updated``: visits at the same local time whose zone a settings edit changed (their
    # UTC instants moved, nobody told; sync/store/changes.py zone_corrected). Not in COUNT_KEYS (it
    # is part of ``updated``); in ``as_dict`` when there are any.
    corrected: int = 0
    # Of ``updated``/``rescheduled``: visits a re-read after a query or mapping fix corrected,
    # nobody told (sync/store/changes.py as_correction). In ``as_dict`` when there are any.
    remapped: int = 0
    # Patients whose stored phone number now reads in another country, or not at all: what a
    # changed clinic.default_region does to numbers written without +country (not a count of
    # records; in ``as_dict`` when there are any).
    phones_elsewhere: int = 0

    def add(self, other: Counts) -> None:
        for key in COUNT_KEYS:
            setattr(self, key, getattr(self, key) + getattr(other, key))
        self.corrected += other.corrected
        self.remapped += other.remapped
        self.phones_elsewhere += other.phones_elsewhere

    def as_dict(self) -> dict[str, int]:
        """The counts by name, in COUNT_KEYS (field) order: what ``asdict`` gave, without its
        recursive copy (a push writes its run's counts each time: ~0.1 ms, issue 32); then
        ``corrected`` when there are any."""
        counts = {key: getattr(self, key) for key in COUNT_KEYS}
        if self.corrected:
            counts["corrected"] = self.corrected
        if self.remapped:
            counts["remapped"] = self.remapped
        if self.phones_elsewhere:
            counts["phones_elsewhere"] = self.phones_elsewhere
        return counts


@dataclass
class SnapshotEnd:
    """Ends a full listing: future appointments not in ``seen`` are deleted,
    unless more than ``max_share`` of them would go (a truncated export)."""

    seen: set[str]
    max_share: float
    now: datetime = field(default_factory=utcnow)
    until: datetime | None = None  # compare only appointments starting before (a delete sweep's window)
    sweep: bool = False  # an incremental source's id listing, not a snapshot (the safety stop's wording)
    # Fewer deletions than this never stop, whatever their share, while the listing still holds
    # at least half of the window's visits.
    min_stop: int = MIN_DELETE_STOP


class SnapshotSafetyStop(Exception):
    def __init__(self, absent: int, total: int, max_share: float, sweep: bool = False) -> None:
        self.absent, self.total, self.max_share = absent, total, max_share
        listing, complete = (("the source's id listing (delete sweep)", "the rows were really deleted") if sweep
                             else ("the newest snapshot", "the export is complete"))
        super().__init__(
            f"{'delete sweep' if sweep else 'snapshot'} safety stop: {absent} of {total} future appointments "
            f"({absent / total:.0%}) are missing from {listing}, more than the allowed "
            f"{max_share:.0%}; nothing was deleted. If {complete}, raise "
            "`max_delete_share` (or `min_delete_stop`) for this connector and sync again.")


class _PersonKind:
    """How one kind of person (patient, practitioner) is stored: its fields in declaration
    order, a getter of their values, and its content hash — ``content_hash`` of the field
    dict, as it always was (tests/sync/test_store_hash.py pins it)."""

    def __init__(self, kind: type) -> None:
        self.names = tuple(f.name for f in fields(kind))
        self.values: Callable[[Any], tuple[Any, ...]] = attrgetter(*self.names)
        # The field dict with its keys already in OPT_SORT_KEYS's order (plain ASCII names), as
        # one dict display: the same JSON as content_hash's, without a zip and a sort per person.
        self._sorted: Callable[[Any], dict[str, Any]] = eval(  # noqa: S307 - the dataclass's own field names
            f"lambda p: {{{', '.join(f'{name!r}: p.{name}' for name in sorted(self.names))}}}")
        assert all(name.isascii() and name.isidentifier() for name in self.names)

    def content_hash(self, person: Any) -> str:
        return content_hash_bytes(orjson.dumps(self._sorted(person)))

    def bound_rows(self, connection: Connection, table: Any, connector: str,
                   now: datetime) -> Callable[[Any, str], tuple[Any, ...]]:
        """A builder of a person's row (its fields, connector, content hash, updated_at) as the
        driver receives it (bulk.insert_rows ``bound=True``), in one pass: a poll inserts each
        new patient of a batch. One per statement (it holds the values it has bound)."""
        processors = bind_processors(connection, [table.c[name] for name in (*self.names, *_PERSON_TAIL)])
        connector_bound, now_bound = (value if process is None else process(value) for process, value in
                                      zip((processors[-3], processors[-1]), (connector, now), strict=True))
        maker = _person_row_maker(self.names, tuple(p is not None for p in processors))
        return maker(connector_bound, now_bound, *(BoundValues(p) for p in processors if p is not None))


# The columns of a person's row after its fields, as _upsert_persons writes them.
_PERSON_TAIL = ("connector", "content_hash", "updated_at")


@lru_cache(maxsize=16)
def _person_row_maker(names: tuple[str, ...], processed: tuple[bool, ...]) -> Callable[..., Any]:
    """Compiled once per kind and pattern of processed columns (as ``_row_maker``): a field's
    value through its ``BoundValues`` (``b<i>``) when its column has a bind processor; the
    connector and ``now`` come bound; the hash ``marker`` through its own if it has one."""
    terms = [f"b{i}[p.{name}]" if processed[i] else f"p.{name}" for i, name in enumerate(names)]
    marker = len(names) + 1
    terms += ["connector", f"b{marker}[marker]" if processed[marker] else "marker", "now"]
    parameters = [f"b{i}" for i, flag in enumerate(processed) if flag]
    maker: Callable[..., Any] = eval(  # noqa: S307 - the dataclass's own field names
        f"lambda connector, now, {', '.join(parameters)}: lambda p, marker: ({', '.join(terms)},)")
    return maker


# Statistics are refreshed when a table got this many rows from the store, then at each doubling.
_ANALYZE_FROM = 20_000

_PATIENT = _PersonKind(NormalizedPatient)
_PRACTITIONER = _PersonKind(NormalizedPractitioner)


_STORED_COLUMNS = tuple(f.name for f in fields(Stored))


def _supersedes(new: Mapped, kept: Mapped, current: bool) -> bool:
    """Whether a later row of a batch for the same id replaces ``kept``: not when it is older,
    nor when which came first cannot be told and it would bring back the visit ``kept`` ends
    (a cancellation and its booking in one minute), as ``classify`` judges it against the store;
    in a read of the source's current state (``current``), a later row of the same time does."""
    order = update_order(new.appointment.source_updated_at, kept.appointment.source_updated_at,
                         new.appointment.timezone or kept.appointment.timezone)
    if order == 0 and not current and (kept.delete or kept.appointment.status in ENDED_STATUSES):
        return new.delete or new.appointment.status not in ACTIVE_STATUSES
    return order >= 0


# Fields added after the first stores were written count only when set, so an appointment
# without them hashes as it did before they existed: upgrading re-updates, announces and
# pushes nothing. Each group was added at once (data-quality notes and the source's own
# answer; the telehealth fields, issue 22; the cancellation reason) and counts whole when
# it is set: a visit stated as in person without links is no news either.
_TELEHEALTH_FIELDS = frozenset({"visit_mode", "join_url", "provider_join_url", "dial_in"})
# Fields that are not content: they never count in change detection (booked_at: the booking
# time, read only by the go-live rule; replaces: which row a row succeeds, read by the ingest's
# supersede step), so a source that starts giving one changes nothing.
_UNHASHED = frozenset({"booked_at", "replaces"})
_ALL_FIELDS = tuple(f.name for f in fields(NormalizedAppointment) if f.name not in _UNHASHED)


# The groups in bit order of ``_appointment_hash``'s mask (bit set: the group is unset).
_LATER_GROUPS: tuple[frozenset[str], ...] = (frozenset({"notes", "answer"}), _TELEHEALTH_FIELDS,
                                             frozenset({"cancel_reason"}))


def _view_getters() -> dict[int, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]]:
    """For each combination of unset later groups (bit i: group i unset), the fields that
    count and a getter of their values in declaration order: built once, not per row."""
    views: dict[int, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}
    for mask in range(1 << len(_LATER_GROUPS)):
        unset = frozenset().union(*(group for i, group in enumerate(_LATER_GROUPS) if mask >> i & 1))
        names = tuple(name for name in _ALL_FIELDS if name not in unset)
        views[mask] = (names, attrgetter(*names))
    return views


_VIEWS = _view_getters()


def _appointment_hash(appointment: NormalizedAppointment) -> str:
    """The content hash that change detection compares: a changed join link, dial-in or
    cancellation reason is a change like any other (an ``updated`` event; calendars and
    messages follow). tests/sync/test_store_hash.py pins it for every combination of groups."""
    a = appointment
    mask = ((not (a.notes or a.answer))
            | (not (a.join_url or a.provider_join_url or a.dial_in or a.visit_mode not in (None, "in_person"))) << 1
            | (not a.cancel_reason) << 2)
    # orjson writes a dataclass's fields in declaration order (OPT_SORT_KEYS leaves them be):
    # the same fields, in the same order, give the same bytes as before.
    names, values = _VIEWS[mask]
    return content_hash_bytes(orjson.dumps(dict(zip(names, values(appointment), strict=True))))


_PEOPLE_FIELDS = frozenset({"patient", "practitioner"})


def _view_builder(names: tuple[str, ...]) -> Callable[..., Callable[[Any], dict[str, Any]]]:
    """For one view's fields: a maker of the function that gives an appointment's view as a
    dict display (one expression, no zip), its patient and practitioner as the JSON the batch
    holds (``held``: a C-level lookup by identity) or else through ``person``. Compiled once
    per view from the dataclass's own field names."""
    maker: Callable[..., Callable[[Any], dict[str, Any]]] = eval(  # noqa: S307
        f"lambda held, person: lambda a: {{{_view_display(names)}}}")
    return maker


def _view_display(names: tuple[str, ...]) -> str:
    """The inside of the dict display of an appointment ``a``'s view (see _view_builder)."""
    return ", ".join(f"{name!r}: (held(id(a.{name})) or person(a.{name}))" if name in _PEOPLE_FIELDS
                     else f"{name!r}: a.{name}" for name in names)


@cache
def _view_builders() -> dict[int, Callable[..., Callable[[Any], dict[str, Any]]]]:
    """Every view's builder, compiled on the first batch that is hashed: eight ``eval`` calls
    (~6 M instructions) that an idle run, which hashes no batch, no longer pays at import."""
    return {mask: _view_builder(names) for mask, (names, _) in _VIEWS.items()}


def _declared_dict(kind: type) -> Callable[[Any], dict[str, Any]]:
    """A person's fields as a dict display in declaration order: orjson writes it as the same
    JSON as the dataclass itself (fields in declaration order, the same values), at about
    half the cost (orjson reads a slotted dataclass's fields one by one through its
    ``__dataclass_fields__``: ~1.5 µs a patient against ~0.65 for the display, issue 32).
    Compiled once per kind from the dataclass's own field names."""
    names = [f.name for f in fields(kind)]
    assert all(name.isascii() and name.isidentifier() for name in names)
    made: Callable[[Any], dict[str, Any]] = eval(  # noqa: S307 - the dataclass's own field names
        f"lambda p: {{{', '.join(f'{name!r}: p.{name}' for name in names)}}}")
    return made


# The people an appointment holds, by exact type (a subclass, if one ever came, goes to orjson whole).
_PERSON_DICTS: dict[type, Callable[[Any], dict[str, Any]]] = {
    kind: _declared_dict(kind) for kind in (NormalizedPatient, NormalizedPractitioner)}


# content_hash_bytes' BLAKE2b (16 bytes, no key) before any data: a copy of it, then update, is the
# same digest as ``blake2b(data, digest_size=16)`` without the constructor's keyword parsing (~2,000
# instructions a hash, issue 32). Never updated itself: each hash takes a copy.
_EMPTY_DIGEST = hashlib.blake2b(digest_size=16)


class HeldJson:
    """Patients' and practitioners' JSON for the content hash, by the person object's identity:
    the mapping hands every appointment of a patient (practitioner) the same object, so each
    one's JSON is written once and spliced into each appointment's view as an
    ``orjson.Fragment`` (orjson writes a dataclass the same way at the top and nested). The
    objects are kept (``kept``), so that no id is reused while its JSON is held. One per batch:
    kept for a whole run it pinned memory (+47 MB peak RSS at 20,000 rows, issue 32)."""

    def __init__(self) -> None:
        fragments: dict[int, orjson.Fragment] = {}
        kept: list[Any] = []
        self.held = fragments.get  # a C-level lookup by identity
        self._kept = kept
        dumps, fragment = orjson.dumps, orjson.Fragment
        as_dict = _PERSON_DICTS.get

        def person(value: Any) -> orjson.Fragment | None:
            if value is None:
                return None
            kept.append(value)
            declared = as_dict(type(value))
            made = fragments[id(value)] = fragment(dumps(value if declared is None else declared(value)))
            return made

        self.person = person


class StoredIds:
    """The external ids a sole writer's run inserted into a connector that had no appointment
    when the run began, as a one-hash bit filter (1 MB, whatever the run's size): an id it
    never set is not stored, so a first import looks up only the ids that may be its own
    (one it inserted earlier, or a false positive: ~1 % of ids at 100,000 rows), not each
    batch's ~500 ids that find nothing (~4,000 instructions an id, issue 32). Never forgets
    (only ever more lookups); what a rolled-back batch set is a false positive too."""

    __slots__ = ("bits",)
    _MASK = (1 << 23) - 1  # bit positions: 2^23 bits

    def __init__(self) -> None:
        self.bits = bytearray((self._MASK + 1) >> 3)

    def add(self, external_ids: Iterable[str]) -> None:
        bits, mask = self.bits, self._MASK
        for external_id in external_ids:
            at = hash(external_id) & mask
            bits[at >> 3] |= 1 << (at & 7)

    def maybe(self, external_ids: Iterable[str]) -> list[str]:
        """Those of ``external_ids`` that may be stored (the others are not)."""
        bits, mask = self.bits, self._MASK
        return [external_id for external_id in external_ids
                if bits[(at := hash(external_id) & mask) >> 3] >> (at & 7) & 1]


# ``_appointment_hash``'s view mask of an appointment ``a``, as an expression for generated code.
_VIEW_MASK = ("((not (a.notes or a.answer)) | (not (a.join_url or a.provider_join_url or a.dial_in"
              " or a.visit_mode not in (None, 'in_person'))) << 1 | (not a.cancel_reason) << 2)")


def _batch_hashes(held: HeldJson | None = None) -> Callable[[NormalizedAppointment], str]:
    """``_appointment_hash`` for the appointments of one batch, byte for byte, at about three
    quarters of its cost: each person's JSON written once (``held``: :class:`HeldJson`, the
    batch's own when None), and the view a dict display rather than ``dict(zip(...))``."""
    held = held if held is not None else HeldJson()
    dumps, fresh = orjson.dumps, _EMPTY_DIGEST.copy
    views = {mask: make(held.held, held.person) for mask, make in _view_builders().items()}

    def hashed(a: NormalizedAppointment) -> str:
        mask = ((not (a.notes or a.answer))  # as _VIEW_MASK, written out
                | (not (a.join_url or a.provider_join_url or a.dial_in or a.visit_mode not in (None, "in_person"))) << 1
                | (not a.cancel_reason) << 2)
        digest = fresh()  # content_hash_bytes, inlined: the same digest from a copy of its empty state
        digest.update(dumps(views[mask](a)))
        return digest.hexdigest()

    return hashed


def notes_text(notes: Sequence[str]) -> str | None:
    """Data-quality notes as stored: one per line, or NULL when there are none."""
    return "\n".join(notes) or None


# ``Store.apply_batch(go_live=STORED_GO_LIVE, probe=True)``: the go-live moment as the store holds it.
STORED_GO_LIVE = "stored"


@dataclass(frozen=True)
class Presence:
    """What a connector has that a push must heed (its go-live moment, tombstones, quarantine
    items), read in one statement (``_PRESENCE``) inside the push's transaction instead of
    three probes and a connection of their own (issue 32: ~20 % of a push's CPU)."""

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
    through ``exec_driver_sql``: ~30-60 us less per statement than a SQLAlchemy construct (issue 32)."""
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
# with items of other records pays nothing for them (issue 32: a push into a source of 100k
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
# unique key (issue 32: three to four round trips fewer per push). content_hash and
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
    round trip fewer per webhook (issue 32). Called alone, it is that statement, as before."""

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


def _left_out(latest: dict[str, Mapped], replays: Collection[str] | None, counts: Counts) -> dict[str, Mapped]:
    """``latest`` without the records at ``replays`` (positions a ``within`` found applied), counted unchanged."""
    if not replays:
        return latest
    fresh = {key: item for key, item in latest.items() if item.position not in replays}
    counts.unchanged += len(latest) - len(fresh)
    return fresh


def _one_read(latest: dict[str, Mapped], record_ids: Sequence[str]) -> NormalizedAppointment | None:
    """The one appointment a push's probe reads with its rows (:func:`presence_and_known`), if it has one."""
    if len(latest) != 1 or len(record_ids) > 2:
        return None
    [item] = latest.values()
    return None if item.delete else item.appointment


_NO_PEOPLE: dict[str, Any] = {}  # a kind the run remembers none of (never filled)


# People a run remembers (see Store.apply_batch): past this many it starts over, so a source
# with a million distinct patients costs lookups again rather than unbounded memory.
PEOPLE_MEMORY_LIMIT = 32_768
RUNS_PRUNED_PER_CALL = 5_000  # run rows deleted per connector per prune_runs call


# A run's two writes, built once (every poll makes them, idle or not): a statement built per call
# costs SQLAlchemy its construction and cache key each time; these compile once.
_RUN_STARTED = insert(RUNS).values(run_id=bindparam("run_id"), connector=bindparam("connector"), status="running",
                                   counts="{}", started_at=bindparam("now"))
_RUN_FINISHED = update(RUNS).where(RUNS.c.id == bindparam("row_id")).values(
    status=bindparam("status"), counts=bindparam("counts"), error=bindparam("error"), finished_at=bindparam("now"))


class Store:
    def __init__(self, engine: Engine, *, future_tolerance: timedelta = timedelta(minutes=5),
                 tombstone_keep: timedelta = timedelta(days=30), run_keep: timedelta = timedelta(days=90),
                 patient_keep: timedelta = timedelta(days=365)) -> None:
        """``future_tolerance``: how far ahead of this clock a source's ``updated_at`` may be
        (sync/ingest/push.py refuses or clamps beyond it); ``tombstone_keep``: how long an explicit
        delete refuses copies that are not newer (``_tombstoned``); ``run_keep``: how long the
        run history is kept (:meth:`prune_runs`); ``patient_keep``: how long after a visit its
        patient data is kept (:meth:`forget_patient_data`)."""
        self.engine = engine
        self.future_tolerance, self.tombstone_keep = future_tolerance, tombstone_keep
        self.run_keep, self.patient_keep = run_keep, patient_keep
        self._people_scope: tuple[str, str] | None = None  # (run id, connector) of _people
        self._people: dict[str, dict[str, Any]] = {}  # kind ("patient", "practitioner") -> id -> person
        # Kinds ("patient", "practitioner") of which the connector had no row when _people's run
        # began, while _people has not started over: every stored one of them is in _people.
        self._people_all: set[str] = set()
        # The ids _people's run inserted, when the connector had no appointment as it began.
        self._stored_ids: StoredIds | None = None
        self._inserted: dict[str, int] = {}  # rows inserted by this store, per table (see _grown)
        self._zones_noted: set[str] = set()  # zones whose tz rules the store has recorded (sync/store/zonerules.py)
        self._previous: dict[str, Rules] | None = None  # the rules before each zone's last correction, once read
        self._analyzed_at: dict[str, int] = {}
        self._orphans_cutoff: datetime | None = None  # the window whose orphaned patients were looked for

    def forget_zone_rules(self) -> None:
        """A correction was made (sync/store/zonerules.py): read the rules before it again when asked.
        Another process's correction is seen by this store after its restart; until then a record
        it re-maps is an ``updated`` change without a move (no notice), not a rehash."""
        self._previous = None

    def _previous_rules(self, connection: Connection) -> dict[str, Rules]:
        if self._previous is None:
            self._previous = previous_rules(connection)
        return self._previous

    @classmethod
    def open(cls, settings: StoreSettings) -> Store:
        engine = make_engine(settings.url, settings.pool_size, settings.echo, settings.max_overflow,
                             settings.pool_timeout)
        ensure_schema(engine)
        return cls.on(engine, settings)

    @classmethod
    def on(cls, engine: Engine, settings: StoreSettings) -> Store:
        """A store on ``engine`` with the application rules of ``settings`` (a dry run's engine)."""
        return cls(engine, future_tolerance=timedelta(seconds=settings.future_tolerance_seconds),
                   tombstone_keep=timedelta(days=settings.tombstone_days),
                   run_keep=timedelta(days=settings.run_history_days),
                   patient_keep=timedelta(days=settings.patient_data_days))

    def close(self) -> None:
        self.engine.dispose()

    # -- cursors and runs -------------------------------------------------------------------
    def load_cursor(self, connector: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            value = connection.execute(
                select(STATES.c.cursor).where(STATES.c.connector == connector)).scalar_one_or_none()
        return orjson.loads(value) if value is not None else None

    @staticmethod
    def _save_cursor(connection: Connection, connector: str, cursor: dict[str, Any]) -> None:
        """Driver-level statements (bulk.py): a batch writes its cursor each time, and three
        SQLAlchemy Core statements cost more than the rest of a small batch's bookkeeping."""
        encoded = orjson.dumps(cursor, option=orjson.OPT_SORT_KEYS).decode()
        stored = select_where(connection, STATES, ("cursor",), {"connector": connector})
        if stored and stored[0][0] == encoded:
            return  # unchanged input writes nothing, not even a timestamp
        when = bind_value(connection, STATES.c.updated_at, utcnow())
        if not stored:
            insert_rows(connection, STATES, ("connector", "cursor", "updated_at"), [(connector, encoded, when)],
                        bound=True)
        else:
            update_where(connection, STATES, ("cursor", "updated_at"), (encoded, when), {"connector": connector})

    def start_run(self, run_id: str, connector: str) -> int:
        with one_statement(self.engine) as connection:
            return self._insert_run(connection, run_id, connector)

    def restart_run(self, run_id: str, connector: str) -> tuple[int, int]:
        """``abandon_runs`` then ``start_run``, in one transaction (a poll's first round of the
        store, issue 60): the new run's row id and how many runs were abandoned. Call it only
        while holding the connector's poll lock, as ``abandon_runs``."""
        with self.engine.begin() as connection:
            abandoned = self._abandon(connection, connector)
            return self._insert_run(connection, run_id, connector), abandoned

    @staticmethod
    def _insert_run(connection: Connection, run_id: str, connector: str) -> int:
        result = connection.execute(_RUN_STARTED, {"run_id": run_id, "connector": connector, "now": utcnow()})
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def finish_run(self, row_id: int, counts: Counts, error: str | None) -> None:
        with one_statement(self.engine) as connection:
            connection.execute(_RUN_FINISHED, {"row_id": row_id, "status": "failed" if error else "ok",
                                               "counts": orjson.dumps(counts.as_dict()).decode(), "error": error,
                                               "now": utcnow()})

    def prune_runs(self, connectors: Sequence[str], now: datetime | None = None) -> int:
        """Delete the run history older than ``run_keep``: each connector's finished runs
        (polls and pushes) started before the cutoff, except its newest run and its newest
        successful run, which the status page, the stall checks and the metrics read (last
        run, last success, failures since).
        Why: a poll a minute and a run per push add ~500,000 rows a year a source, and
        nothing read them after a few weeks. At most RUNS_PRUNED_PER_CALL rows a connector a
        call, through ``(connector, started_at)``: a store upgraded after years catches up
        over a few passes without holding the write lock long, and a pass with nothing to
        delete costs two index probes a connector."""
        cutoff = (now or utcnow()) - self.run_keep
        removed = 0
        for connector in connectors:
            with self.engine.begin() as connection:
                # Its last run as connector_health reads it (the latest start: a probe of
                # ix_syncrun_connector_started; max(id) walked all its runs, 31-45 ms at 130k on
                # SQLite) and its last success (max id among its ok runs: a probe too).
                newest = [connection.execute(select(RUNS.c.id).where(RUNS.c.connector == connector)
                                             .order_by(RUNS.c.started_at.desc(), RUNS.c.id.desc()).limit(1)).scalar(),
                          connection.execute(select(func.max(RUNS.c.id)).where(
                              RUNS.c.connector == connector, RUNS.c.status == "ok")).scalar()]
                old = select(RUNS.c.id).where(RUNS.c.connector == connector, RUNS.c.started_at < cutoff,
                                              RUNS.c.status != "running",
                                              RUNS.c.id.not_in([i for i in newest if i is not None]))
                ids = list(connection.execute(old.order_by(RUNS.c.started_at).limit(RUNS_PRUNED_PER_CALL)).scalars())
                if ids:
                    connection.execute(delete(RUNS).where(RUNS.c.id.in_(ids)))
                    removed += len(ids)
        return removed

    def forget_patient_data(self, now: datetime | None = None, limit: int | None = None,
                            consumers: Collection[str] | None = None) -> retention.Forgotten:
        """Forget the patient data of visits that ended more than ``patient_keep`` ago, a bounded
        number a call (sync/store/retention.py): called at each sync pass, as :meth:`prune_runs`.
        ``consumers``: the outbox consumers switched on (sync/store/tables.py ``live_consumers``)."""
        now = now or utcnow()
        cutoff = retention.window_start(now, self.patient_keep)
        orphans = cutoff != self._orphans_cutoff and cutoff != self._chore_done_for(ORPHANS_CHORE)
        done = retention.forget(self.engine, self.patient_keep, now, limit, orphans=orphans, consumers=consumers)
        if done.patients < (retention.FORGOTTEN_PER_CALL if limit is None else limit):
            # Patients no visit names: looked for once per window (a day), by whichever process
            # comes first: in a process, cron's `sync --once` would redo it at every run.
            self._orphans_cutoff = cutoff
            if orphans:
                self._chore_done(ORPHANS_CHORE, cutoff)
        return done

    def _chore_done_for(self, task: str) -> datetime | None:
        """The window (or day) ``task`` last ran for (model/housekeeping.py), None before."""
        with self.engine.connect() as connection:
            value: datetime | None = connection.execute(
                select(HOUSEKEEPING.c.done_for).where(HOUSEKEEPING.c.task == task)).scalar_one_or_none()
            return value

    def _chore_done(self, task: str, done_for: datetime) -> None:
        with self.engine.begin() as connection:
            connection.execute(upsert_statement(connection, HOUSEKEEPING, ("task",), ("done_for",)),
                               {"task": task, "done_for": done_for})

    def abandon_runs(self, connector: str) -> int:
        """Close the runs a dead worker left `running`. Call it only while holding the
        connector's poll lock: then no live worker can own them."""
        with self.engine.begin() as connection:
            return self._abandon(connection, connector)

    @staticmethod
    def _abandon(connection: Connection, connector: str) -> int:
        result = connection.execute(
            update(RUNS).where(RUNS.c.connector == connector, RUNS.c.status == "running")
            .values(status="failed", finished_at=utcnow(),
                    error="abandoned: the worker stopped before finishing (crash or kill); "
                          "the next run resumed from the last stored batch"))
        return int(result.rowcount)

    # -- go-live baseline (DESIGN invariant 7) ---------------------------------------------
    def baseline_done(self, connector: str) -> bool:
        """Has the connector finished its first successful sync (its baseline)?"""
        with self.engine.connect() as connection:
            return connection.execute(select(BASELINES.c.connector)
                                      .where(BASELINES.c.connector == connector)).first() is not None

    def go_live(self, connector: str) -> datetime | None:
        """The connector's go-live moment: when its first successful sync finished (the
        baseline was recorded); None before. A record that enters the store later is
        announced only if clinicsync first saw it after this moment (docs/operations.md):
        what the baseline run itself quarantined was seen before it."""
        with self.engine.connect() as connection:
            recorded: datetime | None = connection.execute(
                select(BASELINES.c.recorded_at).where(BASELINES.c.connector == connector)).scalar()
        return recorded

    def finish_baseline(self, connector: str, run_id: str) -> None:
        """Record that the connector is live: what it finds from now on is announced."""
        with self.engine.begin() as connection:
            connection.execute(insert_ignoring_duplicates(connection, BASELINES).values(
                connector=connector, run_id=run_id, recorded_at=utcnow()))

    # -- the batch ------------------------------------------------------------------------
    def fingerprints(self, connector: str, external_ids: Sequence[str]) -> dict[str, str]:
        """The stored raw-record fingerprints of these live appointments (deleted rows have
        none that counts: a record that comes back must be applied)."""
        if not external_ids:
            return {}
        with self.engine.connect() as connection:
            return dict(select_in(connection, APPOINTMENTS, ("external_id", "source_fingerprint"), connector,
                                  external_ids, condition="deleted_at IS NULL AND source_fingerprint IS NOT NULL"))

    def known_fingerprints(self, connector: str, limit: int, wanted: Iterable[str] = ()) -> KnownPrints | None:
        """The raw-record fingerprints of the connector's live appointments with their external
        ids, read once for a whole run into a compact index (sync/store/known_prints.py; used by
        sync/ingest/fingerprint.py LineRecognizer); None when the connector has more than ``limit``
        rows (then each batch looks its ids up instead). ``wanted``: ids whose rows the index
        notes (the open quarantine items' record ids)."""
        with self.engine.connect() as connection:
            return read_known(connection, APPOINTMENTS, connector, limit, wanted)

    def open_quarantine(self, connector: str) -> tuple[dict[str, tuple[int, str | None]], set[str]]:
        """The connector's open quarantine items, read once for a run (quarantine.open_items)."""
        with self.engine.connect() as connection:
            return quarantine.open_items(connection, connector)

    def apply_batch(self, connector: str, run_id: str, mapped: Sequence[Mapped],
                    quarantined: Sequence[QuarantineEntry], cursor: dict[str, Any] | None,
                    snapshot_end: SnapshotEnd | None = None,
                    within: Callable[[Connection], Collection[str] | None] | None = None,
                    baseline: bool = False, unchanged: int = 0,
                    unchanged_ids: Collection[str] = (), remember_people: bool = False,
                    go_live: datetime | str | None = None,
                    sightings: Sequence[quarantine.Sighting] = (),
                    finish: Callable[[Connection, Counts, str | None], None] | None = None,
                    probe: bool = False, folded: FoldedRead | None = None, current: bool = False,
                    unstored: Callable[[Connection], None] | None = None, correcting: bool = False,
                    ) -> tuple[Counts, str | None]:
        """Store one batch and its cursor atomically; returns counts and a safety-stop error.

        ``within`` runs first inside the same transaction (e.g. recording a message id
        that must never be applied twice); whatever it raises rolls the batch back. It may
        return positions of records already applied (replays), which are left out.
        ``baseline``: the batch belongs to the connector's first sync; its events carry
        ``"baseline": true`` so that nothing is announced for what existed before go-live.
        ``unchanged``: records the engine knew unchanged by their fingerprint and left out;
        they count as fetched and unchanged, and ``unchanged_ids`` (the ids they are known
        by) close open quarantine items as an imported record does.
        ``remember_people``: the caller is the only writer of this connector's rows for the
        whole run ``run_id`` (a poll under its poll lock, or a dry run): the patients and
        practitioners this run stored are remembered, and one that comes again equal to
        what the run stored is not looked up, hashed or written again. Not for push
        receivers, whose replicas may write the same connector at once.
        ``go_live``: the connector's go-live moment (:meth:`go_live`; None: announce all). A
        record new to the store that clinicsync first saw before it (a quarantine item opened
        at the baseline and imported after a mapping fix, by retry or by a later read) is
        recorded like the baseline's (``"baseline": true``, ``"before_go_live": true``):
        its reminders are planned, it is not announced.
        ``sightings``: known-bad records the engine recognized by their fingerprint and left
        out; they count as fetched and quarantined, and bump their open items.
        ``finish`` runs last inside the same transaction with the batch's counts and safety-stop
        error (a push records its run there: one transaction per push, sync/ingest/push.py).
        ``probe``: a push of one record: the connector's :class:`Presence` is read in one
        statement first in the transaction, and what it has not (tombstones, quarantine
        items) is not looked up; ``go_live=STORED_GO_LIVE`` then takes its go-live moment from
        it (a baseline another process records is seen by the next push).
        ``folded``: a second ``within``, run after it; on PostgreSQL, when the push's one read
        is made (``probe``, one appointment), read in that statement instead (:class:`FoldedRead`).
        ``current``: the records are the source's state read now (a poll: ``Connector.reads_current_state``),
        not messages sent earlier, so one whose time equals the stored one's is applied (``classify``).
        ``unstored``: runs, before anything is written, when the connector holds no appointment yet
        (:class:`Presence` ``visits``, read with the probes: a connector that has rows pays nothing);
        whatever it raises rolls the batch back (a push's first-run refusal, sync/ingest/push.py).
        ``correcting``: the batch is a re-read after the connector's query, mapping or cursor column
        changed: what only the fix changed is recorded as a correction (changes.py ``as_correction``)."""
        counts = Counts(fetched=len(mapped) + len(quarantined) + unchanged + len(sightings),
                        quarantined=len(quarantined) + len(sightings), unchanged=unchanged)
        error: str | None = None
        # Each id's last record (or its newest by source_updated_at): with no id twice in the
        # batch (the usual), every record, built by one comprehension (issue 32).
        latest: dict[str, Mapped] = {item.appointment.external_id: item for item in mapped}
        if len(latest) < len(mapped):
            latest = {}
            for item in mapped:
                kept = latest.get(item.appointment.external_id)
                if kept is None or _supersedes(item, kept, current):
                    latest[item.appointment.external_id] = item
        counts.unchanged += len(mapped) - len(latest)  # superseded by a later (or newer) row of the batch
        with self.engine.begin() as connection:
            if within is not None:
                latest = _left_out(latest, within(connection), counts)
            # The ids first_seen and resolve_imported would ask about (a superset of the former).
            record_ids = sorted(_record_ids(mapped) | set(unchanged_ids)) if probe else []
            if folded is not None and not (probe and connection.dialect.name == "postgresql"
                                           and _one_read(latest, record_ids) is not None):
                latest, folded = _left_out(latest, folded(connection), counts), None
            now = utcnow()
            known: Known | None = None
            if probe and (one := _one_read(latest, record_ids)) is not None:
                present, known, values = presence_and_folded(connection, connector, one, record_ids, folded)
                if folded is not None and (replays := folded.decide(connection, values)):
                    # Left out: what the read alone then did (nothing pushed: the connector's presence).
                    latest = _left_out(latest, replays, counts)
                    present, known = presence(connection, connector), None
            else:  # a batch, or a push of no or several appointments: one statement for the probes
                present = presence(connection, connector)
            if unstored is not None and not present.visits:
                unstored(connection)
            live = present.go_live if probe and go_live == STORED_GO_LIVE else go_live
            assert not isinstance(live, str), "go_live=STORED_GO_LIVE needs probe=True"
            deleting = any(m.delete for m in latest.values())
            appointments = [m.appointment for m in latest.values() if not m.delete] if deleting else \
                [m.appointment for m in latest.values()]
            # Read only when the connector has a tombstone (Presence): else none is refused.
            refused = self._tombstoned(connection, connector, appointments, now, known=True) \
                if present.tombstones else set()
            if refused:
                counts.unchanged += len(refused)
                latest = {key: item for key, item in latest.items() if key not in refused}
                appointments = [m.appointment for m in latest.values() if not m.delete]
            marks = {"baseline": True} if baseline else {}
            memory = self._memory(connection, run_id, connector) if remember_people else None
            # PostgreSQL, one push that writes nothing after its appointment but its run: its writes in one statement.
            fold = _Fold() if (known is not None and connection.dialect.name == "postgresql"
                               and connection.dialect.paramstyle in ("format", "pyformat") and not deleting
                               and not quarantined and not sightings and snapshot_end is None and cursor is None
                               and not present.open_items) else None
            stored_people = self._upsert_people(connection, connector, appointments, now, memory, known, fold,
                                                counts)
            early = _first_seen(latest.values(), live) if live is not None and not baseline else None
            self._upsert_appointments(connection, connector, appointments, counts, now, marks,
                                      {key: m.fingerprint for key, m in latest.items()},
                                      (live, early) if early is not None and live is not None else None,
                                      items=present.items,
                                      known=None if known is None else known.appointments, fold=fold,
                                      stored_ids=None if memory is None else self._stored_ids, current=current,
                                      correcting=correcting)
            # A zone new to the store: its tz rules, recorded with the times computed by them. Not in a
            # push's one statement (the fold): the run's check records the configured zones instead.
            zones = {a.timezone for a in appointments} if fold is None else ()
            noted = note_zones(connection, zones, self._zones_noted, now) if zones and zones - self._zones_noted else ()
            if deleting:
                gone = [m.appointment for m in latest.values() if m.delete]
                if memory is not None and self._stored_ids is not None:  # one not stored goes in as a tombstone row
                    self._stored_ids.add([a.external_id for a in gone])
                self._delete_records(connection, connector, gone, counts, now, marks)
            if (mapped or unchanged_ids) and present.open_items:
                quarantine.resolve_imported(connection, connector, _record_ids(mapped) | set(unchanged_ids), now,
                                            probed=True)
            quarantine.record(connection, connector, run_id, quarantined, now)
            quarantine.sighted(connection, run_id, sightings, now)
            if snapshot_end is not None:
                quarantine.resolve_absent(connection, connector, snapshot_end.seen, run_id, now)
                try:
                    counts.deleted += self._delete_absent(connection, connector, snapshot_end, marks)
                except SnapshotSafetyStop as stop:
                    error = str(stop)
            if cursor is not None:
                self._save_cursor(connection, connector, cursor)
            run_row = getattr(finish, "statement", None) if fold is not None and fold.parts else None
            if fold is not None:  # nothing was written since its first part: the fold's conditions above
                fold.flush(connection, None if run_row is None else run_row(connection, counts, error))
            if finish is not None and run_row is None:
                finish(connection, counts, error)
        self._zones_noted.update(noted)
        if memory is not None:  # committed: from now on they are what the store holds
            if sum(map(len, memory.values())) + sum(map(len, stored_people.values())) > PEOPLE_MEMORY_LIMIT:
                memory.clear()  # bounded: a source with more distinct people only looks up again
                self._people_all.clear()  # what it forgot is stored: no longer all there is
            for kind, people in stored_people.items():
                memory.setdefault(kind, {}).update(people)
        return counts, error

    def compared_ids(self, connector: str, now: datetime, until: datetime | None) -> set[str]:
        """The external ids a listing's end compares (``_delete_absent``): the connector's
        active appointments starting after ``now`` (and before ``until``)."""
        with self.engine.connect() as connection:
            return set(connection.execute(self._compared(connector, now, until, APPOINTMENTS.c.external_id)).scalars())

    @staticmethod
    def _compared(connector: str, now: datetime, until: datetime | None, *columns: Any) -> Any:
        t = APPOINTMENTS.c
        query = select(*columns).where(t.connector == connector, t.deleted_at.is_(None), t.start_utc > now,
                                        t.status.in_(ACTIVE_STATUSES))
        return query if until is None else query.where(t.start_utc < until)

    def delete_vanished(self, connector: str, end: SnapshotEnd, baseline: bool = False) -> tuple[int, str | None]:
        """A delete sweep's end (``end.sweep``): the connector's active future appointments
        before ``end.until`` whose ids the source no longer lists are deleted, behind the
        snapshot's safety stop; returns how many, and the safety stop's message."""
        with self.engine.begin() as connection:
            try:
                return self._delete_absent(connection, connector, end, {"baseline": True} if baseline else {}), None
            except SnapshotSafetyStop as stop:
                return 0, str(stop)

    def _grown(self, connection: Connection, table: Any, inserted: int) -> None:
        """On PostgreSQL, refresh a table's planner statistics each time the rows this store
        inserted into it doubled (from _ANALYZE_FROM on). A first import outruns autovacuum:
        with the statistics of a near-empty table the planner answered each batch's lookup
        by scanning all of the connector's rows (100,000 appointments: 7 s of the server's
        time waiting, the lookups growing with the table). A role that does not own the
        table gets a warning from PostgreSQL, not an error: the batch goes on."""
        if not inserted or connection.dialect.name != "postgresql":
            return
        total = self._inserted[table.name] = self._inserted.get(table.name, 0) + inserted
        if total >= self._analyzed_at.get(table.name, _ANALYZE_FROM // 2) * 2:
            connection.exec_driver_sql(f"ANALYZE {connection.dialect.identifier_preparer.quote(table.name)}")
            self._analyzed_at[table.name] = total

    def _memory(self, connection: Connection, run_id: str, connector: str) -> dict[str, dict[str, Any]]:
        """What this run stored of the connector's people, kind -> external id -> person;
        forgotten when another run or connector comes. A new one also notes which kinds the
        connector has no row of yet (``_people_all``), read in the run's first batch before it
        writes: a first import then looks none of its new people up (issue 32); and, when it has
        no appointment, starts the run's :class:`StoredIds`, so that it looks up only the
        appointment ids it may have inserted itself."""
        if self._people_scope != (run_id, connector):
            self._people_scope, self._people = (run_id, connector), {}
            self._people_all = {kind for kind, table in (("patient", PATIENTS), ("practitioner", PRACTITIONERS))
                                if not select_where(connection, table, ("external_id",), {"connector": connector},
                                                    limit=1)}
            # The same for appointments: the run then knows every id it may find (StoredIds).
            self._stored_ids = None if select_where(connection, APPOINTMENTS, ("external_id",),
                                                    {"connector": connector}, limit=1) else StoredIds()
        return self._people

    def _upsert_people(self, connection: Connection, connector: str, appointments: Sequence[NormalizedAppointment],
                       now: datetime, memory: dict[str, dict[str, Any]] | None = None,
                       known: Known | None = None, fold: _Fold | None = None,
                       counts: Counts | None = None) -> dict[str, dict[str, Any]]:
        """Returns the people now stored, by kind and external id, for ``memory``: those it
        holds equal are left out. ``known``: what the store holds of them, already read.
        ``fold``: a new person's or location's upsert goes into it (:class:`_Fold`)."""
        # The last of each id wins; rows are built once per id, not once per appointment. One
        # pass for the three (a quarter less than a comprehension each; half the instructions
        # of map/filter/zip passes with attrgetter, whose generic attribute look-ups cost more
        # than the eval loop's specialized slot reads: issue 32, callgrind).
        patients: dict[str, Any] = {}
        practitioners: dict[str, Any] = {}
        locations: dict[str, str] = {}
        for a in appointments:
            if patient := a.patient:
                patients[patient.external_id] = patient
            if practitioner := a.practitioner:
                practitioners[practitioner.external_id] = practitioner
            if location := a.location:
                locations[location] = location
        stored: dict[str, dict[str, Any]] = {}
        kinds: tuple[tuple[str, dict[str, Any], Any, _PersonKind, dict[str, str] | None], ...] = (
            ("patient", patients, PATIENTS, _PATIENT, None if known is None else known.patients),
            ("practitioner", practitioners, PRACTITIONERS, _PRACTITIONER,
             None if known is None else known.practitioners))
        revive = self._current_patients(appointments, now)
        for kind, people, table, person_kind, existing in kinds:
            if memory is not None:
                # A person the run has not stored (most of a first import's) is kept without
                # comparing: ``None != person`` goes through the dataclass's Python ``__eq__``.
                remembered = memory.get(kind, _NO_PEOPLE)
                people = stored[kind] = {
                    key: person for key, person in people.items()
                    if (held := remembered.get(key)) is None or (held is not person and held != person)}
                if existing is None and kind in self._people_all:
                    existing = _held_hashes(connection, table, connector, people, remembered)
            self._grown(connection, table, self._upsert_persons(connection, table, person_kind, connector,
                                                                people, now, shared=memory is None,
                                                                existing=existing, fold=fold,
                                                                revive=revive if kind == "patient" else None,
                                                                counts=counts if kind == "patient" else None))
        self._upsert_locations(connection, connector, locations, shared=memory is None,
                               existing=None if known is None else known.locations, fold=fold)
        return stored

    def _current_patients(self, appointments: Sequence[NormalizedAppointment],
                          now: datetime) -> Callable[[str], bool]:
        """Whether a patient is on one of ``appointments`` that ended within ``patient_keep`` or
        lies ahead: only then does a forgotten patient get their details back (a re-read of an
        old visit the fingerprint did not recognize, e.g. after an upgrade, brings back nothing).
        The set is built on the first question: most batches forget no one."""
        current: set[str] | None = None

        def revive(key: str) -> bool:
            nonlocal current
            if current is None:
                cutoff = retention.window_start(now, self.patient_keep)
                current = {a.patient.external_id for a in appointments if a.patient and a.end >= cutoff}
            return key in current

        return revive

    def upsert_patients(self, connection: Connection, connector: str, patients: dict[str, NormalizedPatient],
                        now: datetime, *, only_new: bool = False) -> None:
        """Patients a source names outside an appointment (a waitlist entry), in the caller's
        transaction. ``only_new``: a record that names the patient by id alone adds one not
        yet known and never blanks the contact details an appointment brought."""
        if only_new and patients:
            known = {key for key, in select_in(connection, PATIENTS, ("external_id",), connector, list(patients))}
            patients = {key: person for key, person in patients.items() if key not in known}
        self._grown(connection, PATIENTS, self._upsert_persons(connection, PATIENTS, _PATIENT, connector, patients,
                                                               now, shared=True))

    @staticmethod
    def save_cursor(connection: Connection, connector: str, cursor: dict[str, Any]) -> None:
        """The connector's cursor, in the caller's transaction (a waitlist source's batch)."""
        Store._save_cursor(connection, connector, cursor)

    @staticmethod
    def _upsert_persons(connection: Connection, table: Any, kind: _PersonKind, connector: str,
                        people: dict[str, Any], now: datetime, shared: bool = True,
                        existing: dict[str, str] | None = None, fold: _Fold | None = None,
                        revive: Callable[[str], bool] | None = None, counts: Counts | None = None) -> int:
        """Returns how many it inserted. ``shared``: another writer (a replica receiving a push
        for the same source) may insert the same person between the lookup and the insert,
        so new people go in with an upsert (the later copy's content wins when it differs)
        instead of failing the whole push; a sole writer (a poll under its lock) uses the
        bulk path (COPY on PostgreSQL). ``existing``: their stored content hashes, already read.
        ``revive``: whether a forgotten person (sync/store/retention.py) gets their details back; one
        that does not is left as it is and taken out of ``people`` (it was not stored)."""
        if not people:
            return 0
        phones: dict[str, str | None] | None = None  # their stored numbers, when read here for ``counts``
        if existing is None and counts is not None:
            rows = select_in(connection, table, ("external_id", "content_hash", "phone"), connector, list(people))
            existing, phones = {r[0]: r[1] for r in rows}, {r[0]: r[2] for r in rows}
        elif existing is None:
            existing = dict(select_in(connection, table, ("external_id", "content_hash"), connector, list(people)))
        inserts: list[tuple[Any, ...]] = []
        updates: list[dict[str, Any]] = []
        # A sole writer's rows go in by bulk.insert_rows, built bound; an upsert takes them raw.
        row: Callable[[Any, str], tuple[Any, ...]] = (
            (lambda person, marker: (*kind.values(person), connector, marker, now)) if shared
            else kind.bound_rows(connection, table, connector, now))
        left: list[str] = []
        for key, person in people.items():
            marker = kind.content_hash(person)
            stored = existing.get(key)
            if stored is None:
                inserts.append(row(person, marker))
            elif stored != marker:
                if stored == retention.FORGOTTEN and revive is not None and not revive(key):
                    left.append(key)
                    continue
                updates.append({**dict(zip(kind.names, kind.values(person), strict=True)), "content_hash": marker,
                                "updated_at": now, "_connector": connector, "_key": key})
        for key in left:
            del people[key]
        names = (*kind.names, *_PERSON_TAIL)
        if shared:
            _insert_new(connection, table, names, inserts, shared, changed="content_hash", fold=fold)
        else:
            insert_rows(connection, table, names, inserts, bound=True)
        if counts is not None and phones and updates:
            counts.phones_elsewhere += _phones_elsewhere(phones, updates)
        Store._update_keyed(connection, table, updates)
        return len(inserts)

    @classmethod
    def _upsert_locations(cls, connection: Connection, connector: str, names: dict[str, str],
                          shared: bool = True, existing: dict[str, str | None] | None = None,
                          fold: _Fold | None = None) -> None:
        """A location is known by its name, which is also its id (``shared``: as for people;
        ``existing``: the stored names, already read)."""
        if not names:
            return
        if existing is None:
            existing = dict(select_in(connection, LOCATIONS, ("external_id", "name"), connector, list(names)))
        _insert_new(connection, LOCATIONS, ("external_id", "name", "connector"),
                    [(key, name, connector) for key, name in names.items() if key not in existing], shared,
                    fold=fold)
        cls._update_keyed(connection, LOCATIONS, [
            {"external_id": key, "name": name, "_connector": connector, "_key": key}
            for key, name in names.items() if key in existing and existing[key] != name])

    @staticmethod
    def _update_keyed(connection: Connection, table: Any, updates: list[dict[str, Any]]) -> None:
        """Each update's columns (all but the keys and ``_``-names) on the row of its
        ``_connector`` and ``_key``, at the driver (bulk.update_keyed: a dirty source updates
        people in most batches)."""
        if updates:
            columns = [c for c in updates[0] if not c.startswith("_") and c not in ("connector", "external_id")]
            update_keyed(connection, table, columns, ("connector", "external_id"),
                         [(*(u[c] for c in columns), u["_connector"], u["_key"]) for u in updates])

    def _upsert_appointments(self, connection: Connection, connector: str,
                             appointments: Sequence[NormalizedAppointment], counts: Counts,
                             now: datetime, marks: dict[str, Any],
                             prints: dict[str, str | None] | None = None,
                             live: _Live | None = None, items: bool = True,
                             known: dict[str, tuple[Any, ...]] | None = None, fold: _Fold | None = None,
                             stored_ids: StoredIds | None = None, current: bool = False,
                             correcting: bool = False) -> None:
        """``prints``: each appointment's raw-record fingerprint, written with its content;
        an unchanged row gets the new one when it differs (e.g. a column the mapping does not
        read changed), so that the next run can skip that record before mapping it.
        ``live``: the go-live moment and, by external id, what the batch knows of when each
        record was first seen; an inserted record first seen before go-live is not announced.
        ``items``: the connector may have quarantine items (False: none saw these records).
        ``known``: the first lookup's rows, already read (:class:`Known`). ``fold``: one new
        appointment and its ``created`` event go into it (:class:`_Fold`). ``stored_ids``:
        every id the connector has stored is in it (:class:`StoredIds`; None: look each up); the
        ids inserted here are added."""
        if not appointments:
            return
        prints = prints or {}
        # First only what tells whether anything changed; the full stored row only for those that did.
        if known is None:
            asked = [a.external_id for a in appointments]
            known = {row[0]: row for row in select_in(
                connection, APPOINTMENTS, ("external_id", "content_hash", "deleted_at", "id", "source_fingerprint"),
                connector, asked if stored_ids is None else stored_ids.maybe(asked))}
        inserts: list[tuple[Any, ...]] = []
        updates: list[dict[str, Any]] = []
        reprinted: list[dict[str, Any]] = []
        changes: list[tuple[int, Change, int]] = []
        unanswered: list[int] = []  # moved or booked again: the patient's answer was for before
        candidates: list[tuple[NormalizedAppointment, str]] = []
        # A batch: hashes with its people's JSON written once, rows built bound in one pass. A
        # push (one appointment) shares nothing: the plain functions and bulk's one-row INSERT.
        batch = len(appointments) > 1
        plain = batch and _all_plain(appointments)
        held = HeldJson() if batch else None
        inline = _inlined(connection, connector, now) if batch else None
        unset = _unset_columns(connection, appointments, plain) if batch else frozenset()
        if not known and held is not None:
            # Every appointment new (a first import's batch): its row and hash in one call each,
            # as the loop below builds them, with one view when all are plain (issue 32).
            make = _hashed_rows(connection, connector, now, held, _PLAIN_MASK if plain else None, inline=inline,
                                unset=unset)
            printed_of = prints.get
            inserts = [make(a, printed_of(a.external_id)) for a in appointments]
        else:
            hashed = _batch_hashes(held) if batch else _appointment_hash
            build_row = _bound_rows(connection, connector, now, inline=inline, unset=unset) if batch else (
                lambda a, h, printed: _appointment_values(connector, a, h, now, 1, printed))
            for appointment in appointments:
                new_hash = hashed(appointment)
                seen = known.get(appointment.external_id)
                printed = prints.get(appointment.external_id)
                if seen is None:
                    inserts.append(build_row(appointment, new_hash, printed))
                elif seen[1] == new_hash and seen[2] is None:
                    counts.unchanged += 1
                    if printed is not None and printed != seen[4]:
                        reprinted.append({"_id": seen[3], "source_fingerprint": printed})
                else:
                    candidates.append((appointment, new_hash))
        stored = self._stored(connection, connector, [a.external_id for a, _ in candidates]) if candidates else {}
        for appointment, new_hash in candidates:
            old = stored[appointment.external_id]
            if old.deleted_at is None and old.start_utc == appointment.start and old.end_utc == appointment.end:
                previous = self._previous_rules(connection)
                if previous and remapped_unchanged(appointment, previous, old.content_hash, _appointment_hash):
                    # The record as stored, its times corrected for a tz rule change (sync/store/zonerules.py):
                    # the hash mapping gives it now, and no version, no event.
                    counts.unchanged += 1
                    reprinted.append({"_id": old.id, "content_hash": new_hash,
                                      "source_fingerprint": prints.get(appointment.external_id)})
                    continue
            change = classify(old, appointment, new_hash, current)
            if change is None:
                counts.unchanged += 1
                continue
            if correcting:
                change = as_correction(old, appointment, change)
                counts.remapped += bool(change.payload.get("correction"))
            version = old.version + 1
            values = _appointment_row(connector, appointment, new_hash, now, version,
                                      printed=prints.get(appointment.external_id))
            for key in ("created_at", "connector", "external_id"):
                values.pop(key)
            # A forgotten visit the source changed holds its patient data again: forgotten anew.
            updates.append({**values, "deleted_at": None, "forgotten_at": None, "_id": old.id})
            changes.append((old.id, change, version))
            if _answer_outlived(change):
                unanswered.append(old.id)
            if "zone_setting" in change.payload:  # the same local time, its zone edited: no move
                counts.updated += 1
                counts.corrected += 1
            else:
                counts_key = change.kind
                setattr(counts, counts_key, getattr(counts, counts_key) + 1)
        if fold is not None and len(updates) == 1 and not inserts and not reprinted \
                and _unprocessed(connection, _EVENT_NAMES[:-1]):
            _fold_update(connection, fold, updates[0], bool(unanswered), changes[0], marks, now)
            return
        if updates:
            columns = [c for c in updates[0] if not c.startswith("_")]
            connection.execute(
                update(APPOINTMENTS).where(APPOINTMENTS.c.id == bindparam("_id"))
                .values({c: bindparam(c) for c in columns}),
                updates)
        if unanswered:
            connection.execute(update(APPOINTMENTS).where(APPOINTMENTS.c.id.in_(unanswered))
                               .values(participation=None, participation_at=None))
        if reprinted:  # not content: no version, no event, no updated_at
            rehashed = [r for r in reprinted if "content_hash" in r]
            if len(rehashed) < len(reprinted):
                connection.execute(update(APPOINTMENTS).where(APPOINTMENTS.c.id == bindparam("_id"))
                                   .values(source_fingerprint=bindparam("source_fingerprint")),
                                   [r for r in reprinted if "content_hash" not in r])
            if rehashed:
                connection.execute(update(APPOINTMENTS).where(APPOINTMENTS.c.id == bindparam("_id"))
                                   .values(content_hash=bindparam("content_hash"),
                                           source_fingerprint=func.coalesce(bindparam("source_fingerprint"),
                                                                            APPOINTMENTS.c.source_fingerprint)),
                                   rehashed)
        new_ids: list[int] = []
        recorded: set[int] = set()
        if inserts:
            names = [n for n in _ROW_NAMES if n not in unset and not (inline and n in inline)]
            at = names.index("external_id")  # its place in a row (the connector inlined or not)
            quiet = _before_go_live(connection, connector, [row[at] for row in inserts], live, items) if live else set()
            if fold is not None and len(inserts) == 1 and not changes and not batch \
                    and _unprocessed(connection, _EVENT_NAMES[:-1]):
                counts.created += 1
                self._grown(connection, APPOINTMENTS, 1)
                # The payload and stamp the path below gives one created event (``recorded``, ``bound``).
                payload = {**marks, **_BEFORE_GO_LIVE} if inserts[0][at] in quiet else marks
                fold.created(connection, one_row_insert(connection, APPOINTMENTS, names, inserts[0]),
                             (orjson.dumps(payload).decode(), _event_time(connection.dialect)(now)))
                return
            if stored_ids is not None:  # set before the insert: a failed batch leaves false positives only
                stored_ids.add([row[at] for row in inserts])
            new_ids = insert_with_ids(connection, APPOINTMENTS, names, inserts, connector, bound=batch, literals=inline)
            counts.created += len(inserts)
            self._grown(connection, APPOINTMENTS, len(inserts))
            if quiet:
                recorded = {new_id for new_id, row in zip(new_ids, inserts, strict=True) if row[at] in quiet}
        if changes or new_ids:
            bare = orjson.dumps(marks).decode()  # the payload of every change that carries none (created)
            early = orjson.dumps({**marks, **_BEFORE_GO_LIVE}).decode()
            # Built bound: ``now`` is the only value with a bind processor (_EVENT_NAMES' others are
            # integers and text), so it goes through it once, not each row through processed_rows.
            bound = _unprocessed(connection, _EVENT_NAMES[:-1])
            stamp = _event_time(connection.dialect)(now) if bound else now
            # The updates' events first, then the created ones in id order (ids order the outbox).
            copied = bound and not recorded and _created_by_select(connection, new_ids)
            if not copied:
                created = Change("created")
                changes.extend((new_id, created, 1) for new_id in new_ids)
            events = [
                (appointment_id, change.kind, version,
                 orjson.dumps({**change.payload, **marks}).decode() if change.payload
                 else early if appointment_id in recorded and change.kind == "created" else bare, stamp)
                for appointment_id, change, version in changes]
            writing_events(connection)  # before the first id is drawn (sync/store/outbox.py)
            if bound and len(events) == 1:  # a push's one event: its INSERT built once, at the driver
                at_cursor(connection, _one_event_insert(connection), events[0]).close()
            else:
                insert_rows(connection, EVENTS, _EVENT_NAMES, events, bound=bound)
            if copied:
                _insert_created_events(connection, new_ids[0], new_ids[-1], bare, stamp)

    @staticmethod
    def _stored(connection: Connection, connector: str, external_ids: Sequence[str]) -> dict[str, Stored]:
        return {row[0]: Stored(*row[1:]) for row in select_in(
            connection, APPOINTMENTS, ("external_id", *_STORED_COLUMNS), connector, external_ids)}

    def _delete_records(self, connection: Connection, connector: str,
                        appointments: Sequence[NormalizedAppointment], counts: Counts, now: datetime,
                        marks: dict[str, Any]) -> None:
        """Delete what the source says is gone, unless the deletion is older than what is
        stored. An unknown appointment is kept as a deleted row, so that its booking
        arriving late (older) cannot bring it back."""
        if not appointments:
            return
        stored = self._stored(connection, connector, [a.external_id for a in appointments])
        tombstones: list[dict[str, Any]] = []
        targets: list[dict[str, Any]] = []
        remembered: dict[str, datetime] = {}  # each delete that holds, and its time (store.tombstone_days)
        for appointment in appointments:
            old = stored.get(appointment.external_id)
            if old is not None and update_order(appointment.source_updated_at, old.source_updated_at,
                                                appointment.timezone or old.timezone) < 0:
                counts.unchanged += 1  # the deletion is older than what is stored
                continue
            remembered[appointment.external_id] = appointment.source_updated_at or now
            if old is None:
                row = _appointment_row(connector, appointment, _appointment_hash(appointment), now, version=1)
                tombstones.append({**row, "deleted_at": now})
            elif old.deleted_at is not None:
                counts.unchanged += 1  # already gone
            else:
                targets.append({"_id": old.id, "version": old.version + 1,
                                "source_updated_at": appointment.source_updated_at or old.source_updated_at})
        counts.unchanged += len(tombstones)
        if tombstones:
            connection.execute(insert(APPOINTMENTS), tombstones)
        counts.deleted += self._mark_deleted(connection, targets, now, marks)
        self.remember_deletes(connection, connector, remembered, now)

    def remember_deletes(self, connection: Connection, connector: str, deleted: dict[str, datetime],
                         now: datetime) -> None:
        """Tombstones for explicit deletes, external id -> the delete's time (the source's, else
        ``now``): for ``tombstone_keep`` a copy not newer than that is refused (``_tombstoned``).
        Expired ones are pruned here, so the table holds only the window's deletes."""
        connection.execute(delete(TOMBSTONES).where(TOMBSTONES.c.recorded_at < now - self.tombstone_keep))
        if deleted:
            statement = upsert_statement(connection, TOMBSTONES, ("connector", "external_id"),
                                         ("deleted_at", "recorded_at"))
            connection.execute(statement, [{"connector": connector, "external_id": key, "deleted_at": when,
                                            "recorded_at": now} for key, when in deleted.items()])

    def _tombstoned(self, connection: Connection, connector: str,
                    appointments: Sequence[NormalizedAppointment], now: datetime,
                    known: bool | None = None) -> set[str]:
        """The ids of ``appointments`` a live tombstone refuses: undated, or dated no later than
        the delete (a late retry of an earlier PUT, a save delivered after its delete). A copy
        dated after the delete is the source re-creating it: it applies, and the tombstone goes.
        ``known``: whether the connector has any tombstone, when the caller read it (Presence)."""
        if not appointments or known is False or (known is None and connection.execute(
                select(TOMBSTONES.c.external_id).where(TOMBSTONES.c.connector == connector).limit(1)).first() is None):
            return set()  # the common case, one indexed probe: a source that never deleted anything
        found = dict(select_in(connection, TOMBSTONES, ("external_id", "deleted_at"), connector,
                               [a.external_id for a in appointments]))
        if not found:
            return set()
        window = now - self.tombstone_keep
        recorded = dict(select_in(connection, TOMBSTONES, ("external_id", "recorded_at"), connector, list(found)))
        refused, revived = set(), []
        for appointment in appointments:
            when = found.get(appointment.external_id)
            if when is None or recorded[appointment.external_id] < window:
                continue
            if appointment.source_updated_at is None or appointment.source_updated_at <= when:
                refused.add(appointment.external_id)
            else:
                revived.append(appointment.external_id)
        if revived:
            connection.execute(delete(TOMBSTONES).where(TOMBSTONES.c.connector == connector,
                                                        TOMBSTONES.c.external_id.in_(revived)))
        return refused

    def record_delete(self, connector: str, external_id: str, when: datetime | None = None) -> None:
        """A delete of an appointment not stored (yet): only its tombstone, so that its
        booking arriving late cannot create it (FHIR DELETE before the PUT's retry)."""
        with self.engine.begin() as connection:
            now = utcnow()
            self.remember_deletes(connection, connector, {external_id: when or now}, now)

    @staticmethod
    def _mark_deleted(connection: Connection, targets: list[dict[str, Any]], now: datetime,
                      marks: dict[str, Any]) -> int:
        """Soft-delete rows ({_id, version, source_updated_at}) and emit their ``deleted`` events."""
        if not targets:
            return 0
        connection.execute(
            update(APPOINTMENTS).where(APPOINTMENTS.c.id == bindparam("_id"))
            .values(deleted_at=bindparam("deleted_at"), version=bindparam("version"),
                    source_updated_at=bindparam("source_updated_at"), updated_at=bindparam("deleted_at"),
                    source_fingerprint=None),
            [{**target, "deleted_at": now} for target in targets])
        writing_events(connection)
        connection.execute(insert(EVENTS), [
            {"appointment_id": target["_id"], "kind": "deleted", "version": target["version"],
             "payload": orjson.dumps(marks).decode(), "created_at": now} for target in targets])
        return len(targets)

    def _delete_absent(self, connection: Connection, connector: str, end: SnapshotEnd,
                       marks: dict[str, Any]) -> int:
        t = APPOINTMENTS.c
        future = connection.execute(self._compared(connector, end.now, end.until, t.id, t.external_id, t.version,
                                                   t.source_updated_at)).all()
        absent = [row for row in future if row.external_id not in end.seen]
        if not absent:
            return 0
        # Below the floor, a listing that still holds most of the window is believed (one of a
        # small practice's three visits deleted); one that lacks most of it (an empty read, a
        # delta file read as the whole list) stops, however few visits it would delete.
        if len(absent) / len(future) > end.max_share and (len(absent) >= end.min_stop
                                                           or 2 * len(absent) > len(future)):
            raise SnapshotSafetyStop(len(absent), len(future), end.max_share, end.sweep)
        return self._mark_deleted(connection, [
            {"_id": row.id, "version": row.version + 1, "source_updated_at": row.source_updated_at}
            for row in absent], utcnow(), marks)


# The marks of a record new to the store that clinicsync knew before go-live: the planner
# treats it as the baseline's (reminders, no announcement); the second key says why.
_BEFORE_GO_LIVE = {"baseline": True, "before_go_live": True}
# The go-live moment and, by external id, (first seen as the batch knows it, record id).
_Live = tuple[datetime, dict[str, tuple[datetime | None, str | None]]]


def _answer_outlived(change: Change) -> bool:
    """Whether this change makes the patient's answer (``participation``) stale: the visit moved
    to another start, or the source booked it again after a cancellation. The answer was for the
    time the patient was told; a "no" kept on a visit the desk rebooked would show it as
    "Cancelled by patient" in the doctor's calendar, offer its new time to the waitlist and make
    the patient's next reply miss it (record.py matches visits awaiting an answer). A visit given
    to another patient drops the answer too: it was the first patient's. A change of doctor, type
    or place at the same start keeps the answer."""
    payload = change.payload or {}
    if payload.get("zone_setting") or (payload.get("correction") and not payload.get("patient_changed")):
        return False  # the same local time the patient answered for, read in the zone now configured
    return "start" in payload.get("moved", ()) or bool(payload.get("reactivated") or payload.get("patient_changed"))


def _phones_elsewhere(stored: dict[str, str | None], updates: list[dict[str, Any]]) -> int:
    """How many patients about to be updated had a phone number (``stored``, by id) that now
    reads in another country, or not at all (a changed ``clinic.default_region`` reads every
    number written without +country anew: messages would go abroad, to whoever has that number
    there). Only patients the store looked up itself: one a run stored earlier (its memory) was
    read with the same settings, and a push (its rows read in its one statement) is not counted."""
    return sum(1 for u in updates if (before := stored.get(u["_key"])) and before != u.get("phone")
               and _country(before) != _country(u.get("phone")))


def _country(phone: str | None) -> int | None:
    """An E.164 number's country calling code (None: no number, or not one)."""
    if not phone:
        return None
    import phonenumbers  # here: a run that updates no patient's number need not load its ~60 modules (issue 60)

    try:
        return phonenumbers.parse(phone).country_code
    except phonenumbers.NumberParseException:
        return None


def _held_hashes(connection: Connection, table: Any, connector: str, people: dict[str, Any],
                 memory: dict[str, Any]) -> dict[str, str]:
    """The stored content hashes of ``people`` when the store holds no person of this kind
    for the connector but those the run remembers (Store._people_all, a sole writer): only
    those are looked up; the others are known absent (a first import's ~600 keys a batch
    that find nothing, issue 32)."""
    remembered = [key for key in people if key in memory]
    return dict(select_in(connection, table, ("external_id", "content_hash"), connector, remembered))


def _first_seen(mapped: Collection[Mapped], go_live: datetime) -> dict[str, tuple[datetime | None, str | None]]:
    """By external id: the earliest the batch itself knows the record from (the source's own
    booking time, a retried quarantine item's first sighting) and the connector's record id,
    under which a quarantine item may also know it."""
    return {m.appointment.external_id: (_earliest(m.first_seen, _booked_unchanged(m.appointment, go_live)),
                                        m.record_id)
            for m in mapped if not m.delete}


def _booked_unchanged(appointment: NormalizedAppointment, go_live: datetime) -> datetime | None:
    """The source's booking time, when it may say the booking is older than go-live: only for a
    row the source has not changed since (its ``source_updated_at`` at or before go-live: a late
    replica, an export that lagged). A booking time is often the row's creation: a pre-made free
    slot, created weeks before and booked after go-live (so changed after it), would count as
    booked before go-live and get no confirmation (issue 57 obs 6). Such a row, and one without a
    change stamp, is judged by when clinicsync first saw it: first sight after go-live wins."""
    updated = appointment.source_updated_at
    return appointment.booked_at if updated is not None and updated <= go_live else None


def _earliest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def _before_go_live(connection: Connection, connector: str, external_ids: Sequence[str],
                    live: _Live, items: bool = True) -> set[str]:
    """The inserted records first seen before go-live: by the batch's own knowledge or by a
    quarantine item that saw them (a row quarantined at the baseline, imported after a fix;
    ``items`` False: the connector has no item at all, nothing to read)."""
    go_live, known = live
    record_ids = {external_id: known.get(external_id, (None, None))[1] or external_id for external_id in external_ids}
    seen = quarantine.first_seen(connection, connector, {*external_ids, *record_ids.values()}) if items else {}
    quiet = set()
    for external_id in external_ids:
        first = known.get(external_id, (None, None))[0]
        times = [t for t in (first, seen.get(external_id), seen.get(record_ids[external_id])) if t is not None]
        if times and min(times) <= go_live:  # known at the go-live moment is known before it
            quiet.add(external_id)
    return quiet


class _Fold:
    """A PostgreSQL push's writes (a new person's or location's upsert; a new appointment and its
    ``created`` event, or a changed one's UPDATE and its event; the push's run row) sent as one
    statement of data-modifying CTEs (``flush``) instead of a round trip each (issue 32: a REST
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


def _insert_new(connection: Connection, table: Any, names: Sequence[str], rows: Sequence[Sequence[Any]],
                shared: bool, changed: str | None = None, fold: _Fold | None = None) -> None:
    """Insert rows the lookup did not find. ``shared``: with an upsert on the table's key
    (sync/store/db.py ``upsert_statement``), so a row another writer committed meanwhile is
    overwritten (where ``changed`` differs) rather than a unique violation that would fail
    the push (two replicas, two new bookings naming one new doctor: issue 29). ``fold``: a
    push's one row's upsert is sent with the push's other inserts (:class:`_Fold`)."""
    if not rows:
        return
    if not shared:
        insert_rows(connection, table, names, rows)
        return
    keys = [column.name for column in table.primary_key.columns]
    if len(rows) == 1 and (one := _upsert_one(connection, table, tuple(keys), tuple(names), changed)) is not None:
        sql, order = one  # a push's one new person, at the driver (issue 32: ~0.1 ms of a push)
        if fold is not None:
            fold.add(*_positional(sql, order(rows[0])))
        else:
            at_cursor(connection, sql, order(rows[0])).close()
        return
    statement = upsert_statement(connection, table, keys, [n for n in names if n not in keys], changed)
    connection.execute(statement, [dict(zip(names, row, strict=True)) for row in rows])


# Per dialect (weakly: an engine disposed takes its entry along), table, columns and ``changed``:
# the upsert's SQL as SQLAlchemy compiles it, and a function that turns a row into its parameters.
_UPSERT_ONE: weakref.WeakKeyDictionary[Dialect, dict[tuple[str, tuple[str, ...], str | None],
                                                     tuple[str, Callable[[Sequence[Any]], Any]] | None]] = \
    weakref.WeakKeyDictionary()


def _upsert_one(connection: Connection, table: Any, keys: tuple[str, ...], names: tuple[str, ...],
                changed: str | None) -> tuple[str, Callable[[Sequence[Any]], Any]] | None:
    """The statement ``upsert_statement`` gives, compiled once for one row of ``names``, with
    each value through its column's bind processor as ``connection.execute`` passes it (None,
    e.g. a default the statement would add: then the Core path). Its parameters are in the
    driver's style: a tuple in the statement's order, or a dict by column name."""
    dialect = connection.dialect
    cache = _UPSERT_ONE.setdefault(dialect, {})
    key = (table.name, names, changed)
    if key not in cache:
        statement = upsert_statement(connection, table, keys, [n for n in names if n not in keys], changed)
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        processors = bind_processors(connection, [table.c[name] for name in names])
        positions = compiled.positiontup
        binds = list(positions) if positions is not None else list(compiled.binds)
        if sorted(binds) != sorted(names) or dialect.paramstyle not in ("qmark", "format", "pyformat"):
            cache[key] = None
        else:
            cache[key] = (str(compiled), _parameters(names, processors, positions))
    return cache[key]


def _parameters(names: tuple[str, ...], processors: Sequence[Processor],
                positions: Sequence[str] | None) -> Callable[[Sequence[Any]], Any]:
    """A row in ``names`` order to the driver's parameters: each value through its column's
    processor (None too, as SQLAlchemy does), as a tuple in ``positions`` order, else a dict."""
    index = {name: i for i, name in enumerate(names)}

    def bound(row: Sequence[Any]) -> list[Any]:
        return [value if process is None else process(value)
                for value, process in zip(row, processors, strict=True)]

    if positions is None:
        return lambda row: dict(zip(names, bound(row), strict=True))
    order = [index[name] for name in positions]

    def in_order(row: Sequence[Any]) -> tuple[Any, ...]:
        values = bound(row)
        return tuple([values[i] for i in order])

    return in_order


def _record_ids(mapped: Sequence[Mapped]) -> set[str]:
    """The ids an open quarantine item may know a record by: its appointment id and the
    connector's own record id."""
    ids = {m.appointment.external_id for m in mapped}
    ids.update(m.record_id for m in mapped if m.record_id)
    return ids


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
    new appointment instead of three (the hash, its view and the row, issue 32); or (``view``
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
    instructions a None even so) and a first import's row has seven or eight of them (issue 32).
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
    of a batch (issue 32). The literal holds the bound value as it is (a text in quotes, an
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
    a tuple built in Python and bound per row (~1 us an appointment, issue 32)."""
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


def _appointment_row(connector: str, a: NormalizedAppointment, new_hash: str, now: datetime,
                     version: int, printed: str | None = None) -> dict[str, Any]:
    """``_appointment_values`` by column name."""
    return dict(zip(_ROW_NAMES, _appointment_values(connector, a, new_hash, now, version, printed), strict=True))
