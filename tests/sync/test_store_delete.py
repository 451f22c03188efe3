"""Store.apply_batch: a record the source deletes (Mapped.delete), deletions out of order,
and the ``within`` hook that shares the batch's transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, func, insert, select

from clinicsync.mappings.model import NormalizedAppointment, NormalizedPatient
from clinicsync.sync.store.model import Appointment, Event, SyncRun
from clinicsync.sync.store.store import BatchOptions, Mapped, SnapshotEnd, Store

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
A = Appointment.__table__.c  # type: ignore[attr-defined]
E = Event.__table__.c  # type: ignore[attr-defined]


def appointment(updated: datetime, **changes: object) -> NormalizedAppointment:
    base = NormalizedAppointment(
        external_id="A1", status="booked", start=T0 + timedelta(days=3), end=T0 + timedelta(days=3, minutes=30),
        timezone="America/New_York", patient=NormalizedPatient("P1", name="Jane"), source_updated_at=updated)
    return replace(base, **changes)  # type: ignore[arg-type]


def apply(store: Store, item: NormalizedAppointment, delete: bool = False) -> dict[str, int]:
    counts, error = store.apply_batch("siu", "run", [Mapped("test", item, delete=delete)], [], None)
    assert error is None
    return {k: v for k, v in counts.as_dict().items() if v}


def events(store: Store) -> list[tuple[str, int]]:
    with store.engine.connect() as connection:
        return [(r.kind, r.version) for r in connection.execute(select(E.kind, E.version).order_by(E.id))]


def row(store: Store) -> dict[str, object]:
    with store.engine.connect() as connection:
        found = connection.execute(select(A.status, A.version, A.deleted_at, A.source_updated_at)).one()
    return found._asdict()


def test_a_deleted_record_emits_deleted_once(store: Store) -> None:
    apply(store, appointment(T0))
    assert apply(store, appointment(T0 + timedelta(hours=1)), delete=True) == {"fetched": 1, "deleted": 1}
    stored = row(store)
    assert stored["deleted_at"] is not None and stored["version"] == 2
    assert stored["source_updated_at"] == T0 + timedelta(hours=1)
    assert apply(store, appointment(T0 + timedelta(hours=2)), delete=True) == {"fetched": 1, "unchanged": 1}
    assert events(store) == [("created", 1), ("deleted", 2)]


def test_a_deletion_older_than_what_is_stored_is_ignored(store: Store) -> None:
    apply(store, appointment(T0 + timedelta(hours=2)))
    assert apply(store, appointment(T0 + timedelta(hours=1)), delete=True) == {"fetched": 1, "unchanged": 1}
    assert row(store)["deleted_at"] is None
    assert events(store) == [("created", 1)]


def test_a_late_older_update_cannot_bring_a_deleted_appointment_back(store: Store) -> None:
    apply(store, appointment(T0))
    apply(store, appointment(T0 + timedelta(hours=3)), delete=True)
    late = appointment(T0 + timedelta(hours=1), start=T0 + timedelta(days=4), end=T0 + timedelta(days=4, hours=1))
    assert apply(store, late) == {"fetched": 1, "unchanged": 1}
    assert row(store)["deleted_at"] is not None
    newer = appointment(T0 + timedelta(hours=4))  # booked again, after the deletion
    assert apply(store, newer) == {"fetched": 1, "updated": 1}
    assert events(store) == [("created", 1), ("deleted", 2), ("updated", 3)]


def test_deleting_an_unknown_appointment_keeps_a_tombstone_against_its_late_booking(store: Store) -> None:
    assert apply(store, appointment(T0 + timedelta(hours=2)), delete=True) == {"fetched": 1, "unchanged": 1}
    assert events(store) == []
    assert apply(store, appointment(T0)) == {"fetched": 1, "unchanged": 1}  # the booking, arriving late
    assert row(store)["deleted_at"] is not None
    assert events(store) == []


def test_within_runs_in_the_batchs_transaction(store: Store) -> None:
    def record(connection: Connection) -> None:
        connection.execute(insert(SyncRun.__table__).values(  # type: ignore[attr-defined]
            run_id="marker", connector="siu", status="ok", counts="{}", started_at=T0))

    store.apply_batch("siu", "run", [Mapped("test", appointment(T0))], [], None, BatchOptions(within=record))

    def refuse(connection: Connection) -> None:
        record(connection)
        raise LookupError("seen before")

    with pytest.raises(LookupError):
        store.apply_batch("siu", "run", [Mapped("test", appointment(T0 + timedelta(hours=1), status="cancelled"))],
                          [], None, BatchOptions(within=refuse))
    runs = SyncRun.__table__.c  # type: ignore[attr-defined]
    with store.engine.connect() as connection:
        markers = connection.execute(select(func.count()).where(runs.run_id == "marker")).scalar_one()
    assert markers == 1  # the second marker rolled back with its batch
    assert row(store)["status"] == "booked"
    assert events(store) == [("created", 1)]


def test_snapshot_deletion_still_emits_deleted_and_keeps_the_update_time(store: Store) -> None:
    other = appointment(T0, external_id="A2")
    store.apply_batch("siu", "run", [Mapped("t", appointment(T0)), Mapped("t", other)], [], None)
    counts, error = store.apply_batch("siu", "run", [Mapped("t", appointment(T0))], [], None,
                                      BatchOptions(snapshot_end=SnapshotEnd({"A1"}, max_share=0.5, now=T0)))
    assert error is None and counts.deleted == 1
    with store.engine.connect() as connection:
        gone = connection.execute(select(A.deleted_at, A.version, A.source_updated_at)
                                  .where(A.external_id == "A2")).one()
    assert gone.deleted_at is not None and gone.version == 2 and gone.source_updated_at == T0
    assert events(store) == [("created", 1), ("created", 1), ("deleted", 2)]


def test_within_a_batch_the_newest_version_wins_not_the_last(store: Store) -> None:
    newer = appointment(T0 + timedelta(hours=2), start=T0 + timedelta(days=5), end=T0 + timedelta(days=5, hours=1))
    older = appointment(T0 + timedelta(hours=1), status="cancelled")
    counts, _ = store.apply_batch("siu", "run", [Mapped("1", newer), Mapped("2", older)], [], None)
    assert (counts.created, counts.unchanged) == (1, 1)
    with store.engine.connect() as connection:
        stored = connection.execute(select(A.status, A.start_utc)).one()
    assert (stored.status, stored.start_utc) == ("booked", T0 + timedelta(days=5))
