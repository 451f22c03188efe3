"""The delete sweep on the connector contract, independent of SQL (sync/ingest/sweep.py), on SQLite
and PostgreSQL: a connector that lists its ids on a schedule; unlisted future appointments
of its window are deleted (the snapshot's ``deleted`` change), past ones and those beyond
``until`` are kept, the safety stop applies, and the schedule is kept in the store."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from clinicsync.common.schedule import Schedule
from clinicsync.common.types import utcnow
from clinicsync.connectors.base import (
    Batch,
    CheckResult,
    Connector,
    ConnectorSettings,
    Cursor,
    IdListing,
    Lookup,
    RawRecord,
)
from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.model import NormalizedAppointment, NormalizedPatient
from clinicsync.sync.ingest.sweep import SWEEPS, last_sweep, sweep_if_due
from clinicsync.sync.store.model import Event
from clinicsync.sync.store.store import Mapped, Store

E = Event.__table__.c  # type: ignore[attr-defined]
MAPPING = load_mapping("csv_default", "UTC", "US")  # external_id from the `appointment_id` column


class Listing(Connector):
    """A polled source that can list its ids (as a FHIR `_elements=id` search could)."""

    kind = "listing"
    settings_model = ConnectorSettings

    def __init__(self, ids: list[str], schedule: Schedule | None = Schedule(interval="1h")) -> None:
        super().__init__(ConnectorSettings(name="src", kind="listing", mapping="csv_default"))
        self.ids, self.schedule, self.listed = ids, schedule, 0

    def fetch(self, cursor: Cursor | None) -> Iterator[Batch]:
        yield from ()

    def check(self) -> CheckResult:
        return CheckResult(True, "ok")

    def sweep_schedule(self) -> Schedule | None:
        return self.schedule

    def list_ids(self) -> IdListing:
        self.listed += 1
        records: list[Mapping[str, Any]] = [{c: i for c in self.id_columns} for i in self.ids]
        return IdListing(records, utcnow() + timedelta(days=30), max_delete_share=0.5)


def stored(store: Store, *days: int) -> None:
    now = utcnow().replace(microsecond=0)
    store.apply_batch("src", "run", [Mapped("p", NormalizedAppointment(
        external_id=f"A{day}", status="booked", start=now + timedelta(days=day),
        end=now + timedelta(days=day, minutes=30), timezone="UTC", patient=NormalizedPatient("P1")))
        for day in days], [], None)


def deleted(store: Store) -> list[int]:
    with store.engine.connect() as connection:
        return [r.appointment_id for r in connection.execute(select(E.appointment_id).where(E.kind == "deleted"))]


def test_unlisted_future_appointments_of_the_window_are_deleted_once(store: Store) -> None:
    stored(store, -2, 1, 2, 3, 4, 40)  # one past, four in the window, one beyond `until`
    connector = Listing(["A1", "A2", "A4"])
    result = sweep_if_due(store, connector, MAPPING, "UTC")
    assert result is not None and (result.listed, result.deleted, result.error) == (3, 1, None)
    assert connector.id_columns == ("appointment_id",)  # the listing reads the id column(s) alone
    assert len(deleted(store)) == 1  # A3; the past A-2 and A40 beyond the window are kept
    swept_at = last_sweep(store, "src")
    assert swept_at is not None and swept_at.tzinfo is not None
    assert sweep_if_due(store, connector, MAPPING, "UTC") is None  # not due again within the hour
    assert connector.listed == 1


def test_the_safety_stop_deletes_nothing_and_keeps_the_sweep_due(store: Store) -> None:
    stored(store, 1, 2, 3, 4)
    connector = Listing(["A1"])  # three of four would go: more than max_delete_share 0.5
    result = sweep_if_due(store, connector, MAPPING, "UTC")
    assert result is not None and result.deleted == 0
    assert result.error is not None and result.error.startswith("delete sweep safety stop: 3 of 4")
    assert deleted(store) == [] and last_sweep(store, "src") is None
    connector.ids = ["A1", "A2", "A3"]  # fixed: the next poll sweeps at once
    result = sweep_if_due(store, connector, MAPPING, "UTC")
    assert result is not None and (result.deleted, result.error) == (1, None)


def test_a_connector_without_a_schedule_is_never_listed(store: Store) -> None:
    stored(store, 1)
    connector = Listing([], schedule=None)
    assert sweep_if_due(store, connector, MAPPING, "UTC") is None
    assert connector.listed == 0 and deleted(store) == []


def test_a_cron_schedule_is_due_after_its_next_time(store: Store) -> None:
    stored(store, 1)
    connector = Listing(["A1"], schedule=Schedule(cron="0 * * * *"))
    assert sweep_if_due(store, connector, MAPPING, "UTC") is not None  # never swept: due
    assert sweep_if_due(store, connector, MAPPING, "UTC") is None  # the next full hour is ahead
    assert connector.listed == 1
    assert datetime.now(UTC) - (last_sweep(store, "src") or datetime.min.replace(tzinfo=UTC)) < timedelta(minutes=1)


class LookingUp(Listing):
    """A listing source that can also look records up by id (as FHIR's `_id` search does):
    ``held`` are the ids it still holds, whatever its listing said."""

    def __init__(self, ids: list[str], held: list[str], can: bool = True) -> None:
        super().__init__(ids)
        self.held, self.can, self.asked = held, can, list[list[str]]()

    def records_by_id(self, external_ids: Sequence[str]) -> Lookup | None:
        self.asked.append(list(external_ids))
        if not self.can:
            return None
        found = [rid for rid in external_ids if rid in self.held]
        return Lookup([RawRecord({"appointment_id": rid}, f"row {rid}") for rid in found],
                      [{"appointment_id": rid} for rid in found])


def test_what_the_listing_lacks_is_looked_up_and_only_the_gone_are_deleted(store: Store) -> None:
    """The listing lacks A2, A3 and A4 (three of four: past the safety stop of 0.5); the source
    still holds A2 and A3 (moved out of the window, or missed by the listing's paging): they are
    applied through the poll's path, kept, and only A4 counts for the stop and is deleted."""
    stored(store, 1, 2, 3, 4)
    connector = LookingUp(["A1"], held=["A2", "A3"])
    applied: list[Batch] = []
    result = sweep_if_due(store, connector, MAPPING, "UTC", apply=applied.append)
    assert result is not None and (result.deleted, result.error, result.looked_up, result.kept) == (1, None, 3, 2)
    assert connector.asked == [["A2", "A3", "A4"]]
    [batch] = applied
    assert [r.data["appointment_id"] for r in batch.records] == ["A2", "A3"] and batch.cursor is None
    assert not batch.snapshot and not batch.snapshot_end
    assert len(deleted(store)) == 1


def test_nothing_to_delete_looks_nothing_up(store: Store) -> None:
    stored(store, 1, 2, 40)  # A40 lies past the listing's end: never compared, never looked up
    connector = LookingUp(["A1", "A2"], held=["A40"])
    applied: list[Batch] = []
    result = sweep_if_due(store, connector, MAPPING, "UTC", apply=applied.append)
    assert result is not None and (result.deleted, result.looked_up) == (0, 0)
    assert connector.asked == [] and applied == []
    assert not result.listing_incomplete


def test_an_empty_listing_of_a_held_window_deletes_nothing_and_says_the_listing_is_incomplete(store: Store) -> None:
    """A listing that comes back empty while the source still holds every stored visit (a
    `search:` that narrows the listing, a server that drops `_elements` pages): each is looked
    up and kept, none deleted, and the result says the listing wants looking at; a listing that
    lacks one moved visit of four does not."""
    stored(store, 1, 2, 3, 4)
    result = sweep_if_due(store, LookingUp([], held=["A1", "A2", "A3", "A4"]), MAPPING, "UTC",
                          apply=list[Batch]().append)
    assert result is not None and (result.deleted, result.kept, result.error) == (0, 4, None)
    assert result.listing_incomplete and deleted(store) == []
    with store.engine.begin() as connection:  # due again
        connection.execute(SWEEPS.delete())
    result = sweep_if_due(store, LookingUp(["A1", "A2", "A3"], held=["A4"]), MAPPING, "UTC",
                          apply=list[Batch]().append)
    assert result is not None and (result.kept, result.listing_incomplete) == (1, False)


def test_a_source_that_cannot_look_up_is_swept_as_before(store: Store) -> None:
    stored(store, 1, 2, 3, 4)
    for connector, apply in ((LookingUp(["A1", "A2", "A3"], held=["A4"], can=False), list[Batch]().append),
                             (LookingUp(["A1", "A2", "A3"], held=["A4"]), None)):  # no way to apply: no look-up
        stored(store, 4)
        result = sweep_if_due(store, connector, MAPPING, "UTC", apply=apply)
        assert result is not None and (result.deleted, result.kept) == (1, 0)
        assert connector.asked == ([["A4"]] if apply is not None else [])
        with store.engine.begin() as connection:  # due again
            connection.execute(SWEEPS.delete())
