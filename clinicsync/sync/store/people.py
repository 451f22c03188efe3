"""Patients, practitioners and locations as a batch or a push writes them.

A sole writer (a poll under its lock) bulk-inserts and remembers what its run stored; a shared
writer (a push, whose replicas may write the same connector at once) upserts, one row at the
driver when it is one (``_upsert_one``)."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

from clinicsync.common.hashing import content_hash_bytes
from clinicsync.mappings.model import NormalizedAppointment, NormalizedPatient, NormalizedPractitioner
from clinicsync.sync.store import retention
from clinicsync.sync.store.base import StoreBase, StoredIds
from clinicsync.sync.store.bulk import (
    BoundValues,
    Processor,
    bind_processors,
    insert_rows,
    select_in,
    select_where,
    update_keyed,
)
from clinicsync.sync.store.db import at_cursor, upsert_statement
from clinicsync.sync.store.fold import _Fold, _positional
from clinicsync.sync.store.presence import Known
from clinicsync.sync.store.records import Counts
from clinicsync.sync.store.row_hash import person_display
from clinicsync.sync.store.tables import APPOINTMENTS, LOCATIONS, PATIENTS, PRACTITIONERS


class _PersonKind:
    """How one kind of person (patient, practitioner) is stored: its fields in declaration
    order, a getter of their values, and its content hash — ``content_hash`` of the field
    dict, as it always was (tests/sync/test_store_hash.py pins it)."""

    def __init__(self, kind: type) -> None:
        self.names = tuple(f.name for f in fields(kind))
        self.values: Callable[[Any], tuple[Any, ...]] = attrgetter(*self.names)
        # The field dict with its keys already in OPT_SORT_KEYS's order (plain ASCII names), as
        # one dict display: the same JSON as content_hash's, without a zip and a sort per person.
        # A field added later (row_hash._LATER_PERSON_FIELDS) is in it only when set: a person
        # without it hashes as before it existed.
        self._sorted: Callable[[Any], dict[str, Any]] = eval(  # noqa: S307 - the dataclass's own field names
            f"lambda p: {{{person_display(sorted(self.names))}}}")

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


_PATIENT = _PersonKind(NormalizedPatient)
_PRACTITIONER = _PersonKind(NormalizedPractitioner)


_NO_PEOPLE: dict[str, Any] = {}  # a kind the run remembers none of (never filled)


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
    import phonenumbers  # here: a run that updates no patient's number need not load its ~60 modules

    try:
        return phonenumbers.parse(phone).country_code
    except phonenumbers.NumberParseException:
        return None


def _held_hashes(connection: Connection, table: Any, connector: str, people: dict[str, Any],
                 memory: dict[str, Any]) -> dict[str, str]:
    """The stored content hashes of ``people`` when the store holds no person of this kind
    for the connector but those the run remembers (Store._people_all, a sole writer): only
    those are looked up; the others are known absent (a first import's ~600 keys a batch
    that find nothing)."""
    remembered = [key for key in people if key in memory]
    return dict(select_in(connection, table, ("external_id", "content_hash"), connector, remembered))


def _insert_new(connection: Connection, table: Any, names: Sequence[str], rows: Sequence[Sequence[Any]],
                shared: bool, changed: str | None = None, fold: _Fold | None = None) -> None:
    """Insert rows the lookup did not find. ``shared``: with an upsert on the table's key
    (sync/store/db.py ``upsert_statement``), so a row another writer committed meanwhile is
    overwritten (where ``changed`` differs) rather than a unique violation that would fail
    the push (two replicas, two new bookings naming one new doctor). ``fold``: a
    push's one row's upsert is sent with the push's other inserts (:class:`_Fold`)."""
    if not rows:
        return
    if not shared:
        insert_rows(connection, table, names, rows)
        return
    keys = [column.name for column in table.primary_key.columns]
    if len(rows) == 1 and (one := _upsert_one(connection, table, tuple(keys), tuple(names), changed)) is not None:
        sql, order = one  # a push's one new person, at the driver (saves ~0.1 ms of a push)
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


class PeopleWriter(StoreBase):
    """Writes a batch's people and locations; remembers a sole writer's run's people."""

    def _memory(self, connection: Connection, run_id: str, connector: str) -> dict[str, dict[str, Any]]:
        """What this run stored of the connector's people, kind -> external id -> person;
        forgotten when another run or connector comes. A new one also notes which kinds the
        connector has no row of yet (``_people_all``), read in the run's first batch before it
        writes: a first import then looks none of its new people up; and, when it has
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
        # than the eval loop's specialized slot reads, measured with callgrind).
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
        PeopleWriter._update_keyed(connection, table, updates)
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
