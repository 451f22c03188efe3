"""The waitlist mapping's rules (windows, FHIR priority, statuses) and the entry store's
(expiry, a booked entry stays booked, the listing's safety stop)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from clinicsync.mappings.model import MappingError, NormalizedPatient
from clinicsync.mappings.record_kind import mapping_record
from clinicsync.mappings.transforms import TransformError
from clinicsync.mappings.waitlist import NormalizedWaitlistEntry, load_waitlist_mapping, parse_weekly
from clinicsync.sync.store.model.waitlist import WAITLIST_ENTRIES
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.entries import TooManyAbsent, apply_entries, expire_due, remove_absent

NOW = datetime(2031, 3, 3, 12, 0, tzinfo=UTC)


def test_weekly_windows() -> None:
    assert parse_weekly("Mon-Wed 9:00-12:30") == [{"days": ["mon", "tue", "wed"], "from": "09:00", "to": "12:30"}]
    assert parse_weekly("sat,sun") == [{"days": ["sat", "sun"], "from": "00:00", "to": "24:00"}]
    assert parse_weekly("fri-mon 08:00-10:00")[0]["days"] == ["mon", "fri", "sat", "sun"]
    assert parse_weekly("13:00-17:00")[0]["days"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert parse_weekly("any") == []
    for bad in ("mon 12:00-09:00", "funday 09:00-10:00", "mon 9-10", "mon 25:00-26:00"):
        with pytest.raises(TransformError):
            parse_weekly(bad)


@pytest.mark.parametrize(("fhir", "stored"), [(1, 9), (5, 5), (9, 1), (0, 0), (12, 1)])
def test_fhir_priority_runs_the_ical_way(fhir: int, stored: int) -> None:
    mapping = load_waitlist_mapping("fhir_r4_waitlist", "UTC", "US")
    record = {"id": "x", "status": "waitlist", "_patient": {"id": "p"}, "priority": fhir}
    assert mapping.apply(record).priority == stored


def test_mapping_record_kind_and_errors() -> None:
    assert mapping_record("csv_waitlist") == "waitlist"
    assert mapping_record("fhir_r4") == "appointment"
    with pytest.raises(ValueError, match="no waitlist mapping"):
        load_waitlist_mapping("fhir_r4", "UTC", "US")
    mapping = load_waitlist_mapping("csv_waitlist", "America/New_York", "US")
    with pytest.raises(MappingError) as caught:
        mapping.apply({"id": "1", "patient_id": "p", "status": "maybe-later"})
    assert caught.value.field == "status" and "maybe-later" not in caught.value.reason
    with pytest.raises(MappingError) as caught:
        mapping.apply({"id": "1", "patient_id": "p", "available_from": "2031-03-09", "available_until": "2031-03-01"})
    assert caught.value.field == "available_until"
    with pytest.raises(MappingError) as caught:  # 02:30 does not exist in New York that night
        mapping.apply({"id": "1", "patient_id": "p", "expires": "2031-03-09T02:30"})
    assert caught.value.field == "expires"
    entry = mapping.apply({"id": "1", "patient_id": "p", "phone": "not a phone", "duration_minutes": "45 min"})
    assert entry.patient.phone is None and entry.duration_minutes == 45  # a bad phone is dropped, not fatal


def entry(key: str, **kw: object) -> NormalizedWaitlistEntry:
    return NormalizedWaitlistEntry(external_id=key, patient=NormalizedPatient(f"p-{key}"), timezone="UTC",
                                   **kw)  # type: ignore[arg-type]


def statuses(store: Store) -> dict[str, str]:
    with store.engine.connect() as connection:
        return {r.external_id: r.status for r in connection.execute(select(WAITLIST_ENTRIES))}


def test_expiry_booked_and_safety_stop(store: Store) -> None:
    with store.engine.begin() as connection:
        apply_entries(connection, "src", [entry(k) for k in "abcdefgh"]
                      + [entry("soon", expires_at=NOW + timedelta(hours=1))], NOW)
        connection.execute(update(WAITLIST_ENTRIES).where(WAITLIST_ENTRIES.c.external_id == "a")
                           .values(status="booked"))
    with store.engine.begin() as connection:
        assert expire_due(connection, NOW + timedelta(hours=2)) == 1
        # The source says a was removed: a booked entry stays booked (the booking is ours)
        apply_entries(connection, "src", [entry("a", status="removed")], NOW)
    assert statuses(store)["soon"] == "expired" and statuses(store)["a"] == "booked"
    # a listing lacking 6 of 7 waiting: nothing removed
    with store.engine.begin() as connection, pytest.raises(TooManyAbsent, match="nothing was removed"):
        remove_absent(connection, "src", {"b"}, NOW, 0.5)
    assert list(statuses(store).values()).count("waiting") == 7
    with store.engine.begin() as connection:
        assert remove_absent(connection, "src", set("bcdefg"), NOW, 0.5) == 1
    assert statuses(store)["h"] == "removed"
