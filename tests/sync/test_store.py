"""Upsert with change detection, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, text

from clinicsync.mappings.model import NormalizedAppointment, NormalizedPatient, NormalizedPractitioner
from clinicsync.sync.store.model import Appointment, ConnectorState, Event, Patient, Quarantine
from clinicsync.sync.store.store import BatchOptions, Mapped, QuarantineEntry, SnapshotEnd, Store

SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
TABLES = ["appointment", "patient", "practitioner", "location", "event", "quarantine", "connectorstate"]


def appt(external_id: str, start: datetime = SOON, status: str = "booked", doctor: str = "D1",
         phone: str = "+12125550123", **changes: Any) -> NormalizedAppointment:
    return NormalizedAppointment(
        external_id=external_id, status=status, start=start, end=start + timedelta(minutes=30),
        timezone="America/New_York", type="Follow-up", location="Main",
        patient=NormalizedPatient(external_id=f"P-{external_id}", name="Ana López", phone=phone),
        practitioner=NormalizedPractitioner(external_id=doctor, email=f"{doctor.lower()}@clinic.example"),
        **changes)


def apply(store: Store, *appointments: NormalizedAppointment, cursor: dict[str, Any] | None = None,
          snapshot: SnapshotEnd | None = None, quarantined: tuple[QuarantineEntry, ...] = ()) -> Any:
    mapped = [Mapped(f"test:{i}", a) for i, a in enumerate(appointments)]
    return store.apply_batch("src", "run1", mapped, list(quarantined), cursor, BatchOptions(snapshot_end=snapshot))


def dump(store: Store) -> dict[str, list[Any]]:
    with store.engine.connect() as connection:
        return {t: [tuple(r) for r in connection.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2"))] for t in TABLES}


def events(store: Store) -> list[tuple[str, str, int, dict[str, Any]]]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(Appointment.external_id, Event.kind, Event.version, Event.payload)  # type: ignore[call-overload]
            .join(Appointment, Appointment.id == Event.appointment_id).order_by(Event.id)).all()
    return [(r[0], r[1], r[2], orjson.loads(r[3])) for r in rows]


def kinds(store: Store) -> list[tuple[str, str]]:
    return [(external_id, kind) for external_id, kind, _, _ in events(store)]


def test_new_appointments_are_created_with_events_and_cursor(store: Store) -> None:
    counts, error = apply(store, appt("a"), appt("b"), appt("c"), cursor={"at": 1})
    assert error is None
    assert (counts.created, counts.fetched, counts.unchanged) == (3, 3, 0)
    assert kinds(store) == [("a", "created"), ("b", "created"), ("c", "created")]
    assert store.load_cursor("src") == {"at": 1}


def test_unchanged_input_writes_nothing_at_all(store: Store) -> None:
    batch = [appt("a"), appt("b", doctor="D2")]
    apply(store, *batch, cursor={"at": 1})
    before = dump(store)
    counts, _ = apply(store, *batch, cursor={"at": 1})
    assert (counts.created, counts.updated, counts.unchanged) == (0, 0, 2)
    assert dump(store) == before  # not one row, not one timestamp


@pytest.mark.parametrize(("change", "kind"), [
    ({"start": SOON + timedelta(hours=1)}, "rescheduled"),
    ({"doctor": "D9"}, "rescheduled"),
    ({"status": "cancelled"}, "cancelled"),
    ({"status": "entered-in-error"}, "cancelled"),
    ({"status": "noshow"}, "noshow"),
    ({"status": "arrived"}, "updated"),
    ({"phone": "+12125550199"}, "updated"),
])
def test_each_change_is_classified(store: Store, change: dict[str, Any], kind: str) -> None:
    apply(store, appt("a"))
    counts, _ = apply(store, appt("a", **change))
    assert getattr(counts, kind) == 1
    assert [(k, v) for _, k, v, _ in events(store)] == [("created", 1), (kind, 2)]


def test_a_reschedule_records_where_it_was(store: Store) -> None:
    apply(store, appt("a"))
    apply(store, appt("a", start=SOON + timedelta(days=1)))
    _, kind, _, payload = events(store)[-1]
    assert kind == "rescheduled"
    assert payload["moved"] == ["start", "end"]
    assert payload["previous"]["start"] == SOON.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_cancelled_appointment_booked_again_is_reactivated(store: Store) -> None:
    apply(store, appt("a"))
    apply(store, appt("a", status="cancelled"))
    apply(store, appt("a"))
    assert events(store)[-1][1] == "updated" and events(store)[-1][3]["reactivated"] is True


def test_an_older_update_never_overwrites_newer_data(store: Store) -> None:
    newer = datetime(2026, 5, 2, tzinfo=UTC)
    apply(store, appt("a", status="cancelled", source_updated_at=newer))
    counts, _ = apply(store, appt("a", source_updated_at=newer - timedelta(minutes=5)))
    assert counts.unchanged == 1
    with store.engine.connect() as connection:
        assert connection.execute(select(Appointment.status)).scalar_one() == "cancelled"


def test_the_last_row_of_a_batch_wins(store: Store) -> None:
    counts, _ = apply(store, appt("a"), appt("a", status="cancelled"))
    assert (counts.created, counts.fetched, counts.unchanged) == (1, 2, 1)
    with store.engine.connect() as connection:
        assert connection.execute(select(Appointment.status)).scalar_one() == "cancelled"


def test_patients_and_practitioners_are_shared_and_updated_in_place(store: Store) -> None:
    first = appt("a")
    second = replace(appt("b"), patient=first.patient)
    apply(store, first, second)
    apply(store, replace(first, patient=replace(first.patient, phone="+12125550111")))  # type: ignore[arg-type]
    with store.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Patient)).scalar_one() == 1
        assert connection.execute(select(Patient.phone)).scalar_one() == "+12125550111"


def test_snapshot_deletes_future_appointments_that_disappeared(store: Store) -> None:
    apply(store, *(appt(str(i)) for i in range(10)), appt("past", start=SOON - timedelta(days=30)))
    counts, error = apply(store, *(appt(str(i)) for i in range(9)),
                          snapshot=SnapshotEnd({str(i) for i in range(9)}, 0.2))
    assert error is None and counts.deleted == 1
    assert ("9", "deleted") in kinds(store)
    assert ("past", "deleted") not in kinds(store)  # the past is history, not a deletion
    counts, _ = apply(store, appt("9"))
    assert counts.updated == 1 and events(store)[-1][3]["reactivated"] is True


def test_snapshot_safety_stop_deletes_nothing_but_keeps_the_batch(store: Store) -> None:
    apply(store, *(appt(str(i)) for i in range(10)))
    counts, error = apply(store, appt("0", status="cancelled"), cursor={"file": "half"},
                          snapshot=SnapshotEnd({str(i) for i in range(5)}, 0.2))
    assert error is not None and "5 of 9 future appointments" in error and "nothing was deleted" in error
    assert counts.deleted == 0 and counts.cancelled == 1
    assert "deleted" not in [k for _, k in kinds(store)]
    assert store.load_cursor("src") == {"file": "half"}


def test_quarantine_is_stored_with_the_batch(store: Store) -> None:
    counts, _ = apply(store, appt("a"), quarantined=(QuarantineEntry("f.csv:3", "not a date-time", "start", "B"),))
    assert (counts.quarantined, counts.fetched) == (1, 2)
    with store.engine.connect() as connection:
        row = connection.execute(select(Quarantine.position, Quarantine.field, Quarantine.record_id)).one()
    assert tuple(row) == ("f.csv:3", "start", "B")


def test_quarantine_labels_longer_than_their_columns_are_clipped_not_fatal(store: Store) -> None:
    entry = QuarantineEntry("Appointment/1/_history/" + "9" * 600, "external id too long", "external_id" + "x" * 80,
                            "A" * 300)
    counts, error = apply(store, appt("a"), quarantined=(entry,))
    assert error is None and (counts.created, counts.quarantined) == (1, 1)
    with store.engine.connect() as connection:
        position, field, record_id, reason = connection.execute(
            select(Quarantine.position, Quarantine.field, Quarantine.record_id, Quarantine.reason)).one()
    assert (len(position), len(field), len(record_id)) == (512, 64, 255)
    assert position.startswith("Appointment/1/_history/999") and position.endswith("…")
    assert reason == "external id too long"


def test_a_failing_batch_commits_nothing_not_even_its_cursor(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    apply(store, appt("a"), cursor={"n": 1})
    before = dump(store)

    def explode(*_args: Any) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Store, "_delete_absent", explode)
    with pytest.raises(RuntimeError):
        apply(store, appt("a", status="cancelled"), appt("b"), cursor={"n": 2}, snapshot=SnapshotEnd({"a", "b"}, 1))
    assert dump(store) == before
    with store.engine.connect() as connection:
        assert connection.execute(select(ConnectorState.cursor)).scalar_one() == '{"n":1}'


def test_times_are_stored_in_utc_and_read_back_aware(store: Store) -> None:
    start = datetime(2026, 7, 1, 13, 0, tzinfo=UTC)
    apply(store, appt("a", start=start))
    with store.engine.connect() as connection:
        stored = connection.execute(select(Appointment.start_utc)).scalar_one()
    assert stored == start and stored.tzinfo is not None
