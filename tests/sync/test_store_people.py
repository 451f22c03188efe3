"""The store's per-run memory of the people it stored (``remember_people``), on SQLite and
on the real PostgreSQL: a patient or practitioner that comes again equal to what this run
stored is not looked up or written again, and the store ends exactly as without it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from clinicsync.common.types import utcnow
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.store.model import Patient, Practitioner
from clinicsync.sync.store.store import BatchOptions, Mapped, Store, _insert_new
from tests.sync.test_store import appt

PATIENTS = Patient.__table__  # type: ignore[attr-defined]


def _batch(store: Store, run_id: str, *appointments: NormalizedAppointment, remember: bool = True,
           within: Any = None) -> Any:
    mapped = [Mapped(f"test:{i}", a) for i, a in enumerate(appointments)]
    return store.apply_batch("src", run_id, mapped, [], None, BatchOptions(within=within, remember_people=remember))


def _people(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Patients and practitioners as stored, without the time they were written."""
    with store.engine.connect() as connection:
        return {table: [tuple(row) for row in connection.execute(text(
            f"SELECT connector, external_id, name, content_hash FROM {table} ORDER BY external_id"))]
            for table in ("patient", "practitioner")}


def _phone(store: Store, patient: str) -> str:
    with store.engine.connect() as connection:
        return str(connection.execute(text("SELECT phone FROM patient WHERE external_id = :id"),
                                      {"id": patient}).scalar_one())


def _with_phone(appointment: NormalizedAppointment, phone: str) -> NormalizedAppointment:
    assert appointment.patient is not None
    return replace(appointment, patient=replace(appointment.patient, phone=phone))


SEQUENCE = [
    [appt("a"), appt("b", doctor="D2")],
    [replace(appt("c"), patient=appt("a").patient), appt("d", doctor="D2")],  # a's patient again, equal
    [_with_phone(appt("e"), "+12125550111"), replace(appt("f"), patient=appt("b").patient)],
    [_with_phone(appt("a"), "+12125550199"), appt("g", doctor="D3")],  # a's patient changed
    [replace(appt("h"), patient=appt("a").patient)],  # and back as it was
]


def test_the_store_ends_as_without_the_memory(tmp_path: Any, store: Store) -> None:
    from clinicsync.sync.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    upgrade(engine)
    plain = Store(engine)
    try:
        for batch in SEQUENCE:
            remembered, _ = _batch(store, "run1", *batch)
            counted, _ = _batch(plain, "run1", *batch, remember=False)
            assert remembered == counted
        assert _people(store) == _people(plain)
        assert _phone(store, "P-a") == "+12125550123"  # the last it came as
    finally:
        plain.close()


def test_the_memory_is_bounded_and_the_store_still_ends_as_without_it(
        tmp_path: Any, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past PEOPLE_MEMORY_LIMIT people the memory starts over: what it forgot is looked up
    again, so memory stays bounded for a source of a million patients, and nothing differs."""
    from clinicsync.sync.store import batch as store_batch
    from clinicsync.sync.store.db import make_engine, upgrade

    monkeypatch.setattr(store_batch, "PEOPLE_MEMORY_LIMIT", 3)
    engine = make_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    upgrade(engine)
    plain = Store(engine)
    sizes = []
    try:
        for batch in SEQUENCE:
            remembered, _ = _batch(store, "run1", *batch)
            counted, _ = _batch(plain, "run1", *batch, remember=False)
            assert remembered == counted
            sizes.append(sum(map(len, store._people.values())))  # by kind, then by id
        assert _people(store) == _people(plain)
        assert max(sizes) <= 3 + 4  # the limit, plus at most one batch's people (two appointments)
        assert any(later < earlier for earlier, later in pairwise(sizes))  # it started over
    finally:
        plain.close()


def test_people_stored_this_run_are_not_passed_on_again(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    passed: list[set[str]] = []
    real = Store._upsert_persons

    def spy(connection: Any, table: Any, kind: Any, connector: str, people: dict[str, Any], now: Any,
            shared: bool = True, existing: dict[str, str] | None = None, fold: Any = None,
            revive: Any = None, counts: Any = None) -> None:
        passed.append(set(people))
        real(connection, table, kind, connector, people, now, shared, existing, fold, revive, counts)

    monkeypatch.setattr(Store, "_upsert_persons", staticmethod(spy))
    _batch(store, "run1", appt("a"), appt("b"))
    _batch(store, "run1", replace(appt("c"), patient=appt("a").patient), _with_phone(appt("b"), "+12125550111"))
    # patients, practitioners of each batch: a's patient and D1 are not passed on again; b's changed
    assert passed == [{"P-a", "P-b"}, {"D1"}, {"P-b"}, set()]
    _batch(store, "run2", appt("a"))  # another run remembers nothing
    assert passed[-2:] == [{"P-a"}, {"D1"}]


def test_a_rolled_back_batch_is_not_remembered(store: Store) -> None:
    _batch(store, "run1", appt("a"))

    def refuse(_connection: Any) -> None:
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        _batch(store, "run1", _with_phone(appt("a"), "+12125550199"), within=refuse)
    assert _phone(store, "P-a") == "+12125550123"
    _batch(store, "run1", _with_phone(appt("b"), "+12125550199"))  # P-b; then P-a changed, for real
    _batch(store, "run1", replace(appt("c"), patient=_with_phone(appt("a"), "+12125550199").patient))
    assert _phone(store, "P-a") == "+12125550199"


def test_another_run_looks_again(store: Store) -> None:
    """Between runs another worker may write: a new run trusts only the store."""
    _batch(store, "run1", appt("a"))
    with store.engine.begin() as connection:
        connection.execute(update(PATIENTS).where(PATIENTS.c.external_id == "P-a")
                           .values(phone="+12125550100", content_hash="elsewhere"))
    _batch(store, "run1", replace(appt("b"), patient=appt("a").patient))  # same run: remembered
    assert _phone(store, "P-a") == "+12125550100"
    _batch(store, "run2", replace(appt("c"), patient=appt("a").patient))
    assert _phone(store, "P-a") == "+12125550123"


def test_a_poll_under_its_lock_remembers_people_and_a_bare_sync_connector_does_not(
        tmp_path: Any, write_settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the caller knows it is the connector's sole writer: a poll (under the poll lock)
    says so; sync_connector called on its own (tests, tools) keeps the safe default."""
    from clinicsync.sync.config.settings import load_settings
    from clinicsync.sync.ingest.engine import sync_connector, sync_once
    from clinicsync.sync.ingest.reports import new_run_id
    from tests.connectors.csv_support import rows, write_drop

    seen: list[bool] = []
    original = Store.apply_batch

    def watched(self: Store, *args: Any, **kwargs: Any) -> Any:
        seen.append(args[5].remember_people)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Store, "apply_batch", watched)
    drop = tmp_path / "drop"
    drop.mkdir()
    connector = f"- {{name: drop, kind: csv, mapping: csv_default, settle_seconds: 0, drop_dir: {drop}}}\n"
    settings = load_settings(write_settings(connector))
    store = Store.open(settings.store)
    try:
        write_drop(drop, "1.csv", rows(3))
        sync_once(settings, store)
        assert seen and all(seen)
        seen.clear()
        write_drop(drop, "2.csv", rows(4))
        sync_connector(settings, store, settings.connectors[0], new_run_id())
        assert seen and not any(seen)
    finally:
        store.close()



def test_a_person_another_writer_inserted_meanwhile_is_upserted_not_a_collision(store: Store) -> None:
    """Two replicas: each looks the new doctor up, finds none, and inserts. The second insert
    meets the first's row; it is written over (its content wins where it differs) instead of
    failing the push with a unique violation (issue 29). A sole writer keeps the bulk insert."""
    table = Practitioner.__table__  # type: ignore[attr-defined]
    names = ("external_id", "name", "email", "connector", "content_hash", "updated_at")
    now = utcnow()
    with store.engine.begin() as connection:
        _insert_new(connection, table, names, [("D-1", "Dr A", None, "src", "h1", now)],
                    shared=True, changed="content_hash")
    with store.engine.begin() as connection:  # the other writer's lookup ran before that commit
        _insert_new(connection, table, names, [("D-1", "Dr A", "a@clinic.example", "src", "h2", now)], shared=True,
                    changed="content_hash")
    with store.engine.begin() as connection:  # an equal copy (same hash) writes nothing
        _insert_new(connection, table, names, [("D-1", "Dr B", None, "src", "h2", now)], shared=True,
                    changed="content_hash")
    with store.engine.connect() as connection:
        rows = connection.execute(select(table.c.name, table.c.email).where(table.c.connector == "src")).all()
    assert [tuple(row) for row in rows] == [("Dr A", "a@clinic.example")]
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        _insert_new(connection, table, names, [("D-1", "Dr A", None, "src", "h3", now)], shared=False)


def test_a_first_run_looks_up_only_the_people_it_remembers(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sole writer whose connector had no patient (practitioner) when its run began knows every
    stored one is in its memory: a new one is not looked up (a first import's ~600 a batch),
    a remembered one that changed is; a later run, whose connector has people, looks all up."""
    from clinicsync.sync.store import people as store_people
    from clinicsync.sync.store import store as store_module

    asked: list[tuple[str, list[str]]] = []
    real = store_module.select_in

    def spy(connection: Any, table: Any, names: Any, connector: str, keys: Any, *args: Any, **kwargs: Any) -> Any:
        if table.name in ("patient", "practitioner") and keys:  # none: no statement
            asked.append((table.name, sorted(keys)))
        return real(connection, table, names, connector, keys, *args, **kwargs)

    monkeypatch.setattr(store_people, "select_in", spy)
    _batch(store, "run1", appt("a"), appt("b"))
    _batch(store, "run1", _with_phone(appt("c"), "+12125550111"), replace(appt("d"), patient=appt("b").patient))
    _batch(store, "run1", _with_phone(appt("a"), "+12125550199"))  # a's patient changed: asked, then updated
    assert asked == [("patient", ["P-a"])]
    assert _phone(store, "P-a") == "+12125550199"
    asked.clear()
    _batch(store, "run2", _with_phone(appt("a"), "+12125550100"), appt("e"))
    assert asked == [("patient", ["P-a", "P-e"]), ("practitioner", ["D1"])]
    assert _phone(store, "P-a") == "+12125550100"


def test_a_first_run_looks_up_only_the_appointments_it_may_have_stored(
        tmp_path: Any, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sole writer's run on a connector with no appointment (a first import) looks up only
    the ids it inserted or tombstoned itself (store.StoredIds; none of a batch of new ids): an
    id that comes again in a later batch is still found and updated, a delete of an unknown id
    (a tombstone row) is found again, and the store ends as without the memory. A later run,
    or a connector that had appointments, looks every id up."""
    from clinicsync.sync.store import appointments as store_appointments
    from clinicsync.sync.store import store as store_module
    from clinicsync.sync.store.db import make_engine, upgrade

    asked: list[list[str]] = []
    real = store_module.select_in

    def watched(connection: Any, table: Any, names: Any, connector: str, keys: Any, *args: Any, **kw: Any) -> Any:
        if table is store_module.APPOINTMENTS and len(names) == 5 and connection.engine is store.engine:
            asked.append(list(keys))
        return real(connection, table, names, connector, keys, *args, **kw)

    monkeypatch.setattr(store_appointments, "select_in", watched)
    gone, back = utcnow() - timedelta(hours=2), utcnow() - timedelta(hours=1)  # booked again after its delete
    batches = [(appt("A-1"), appt("A-2"), appt("A-3")), (appt("A-4"), appt("A-2", status="cancelled")),
               (appt("A-9", source_updated_at=gone),), (appt("A-9", source_updated_at=back), appt("A-5"))]
    engine = make_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    upgrade(engine)
    plain = Store(engine)
    try:
        for number, batch in enumerate(batches):
            mapped = [Mapped(f"t:{i}", a, delete=number == 2) for i, a in enumerate(batch)]
            remembered = store.apply_batch("src", "run1", mapped, [], None, BatchOptions(remember_people=True))
            counted = plain.apply_batch("src", "run1", mapped, [], None)
            assert remembered == counted
        assert asked == [[], ["A-2"], ["A-9"]]  # the third batch deletes: _delete_records reads its own
        with store.engine.connect() as one, plain.engine.connect() as other:
            query = text("SELECT external_id, status, version, content_hash, deleted_at IS NULL FROM appointment "
                         "ORDER BY external_id")
            rows = [tuple(r) for r in one.execute(query)]
            assert rows == [tuple(r) for r in other.execute(query)]
            assert ("A-9", "booked", 2) in [r[:3] for r in rows]  # its tombstone row, booked again
        asked.clear()
        _batch(store, "run2", appt("A-6"), appt("A-7"))  # a later run: the connector has appointments
        assert asked == [["A-6", "A-7"]]
    finally:
        plain.close()
