"""map_batch's loop for a batch with nothing skipped (a first import: batch_map._map_all, issue
32) against mapping each record on its own (batch_map._map_one, the keyed path's step)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from clinicsync.connectors.base import Batch, RawRecord
from clinicsync.mappings.engine import CompiledMapping, load_mapping
from clinicsync.mappings.model import MappingError
from clinicsync.sync.ingest.batch_map import _map_one, map_batch
from clinicsync.sync.ingest.fingerprint import Unchanged
from clinicsync.sync.store.quarantine import QuarantineEntry
from clinicsync.sync.store.store import Mapped

DAY = (date.today() + timedelta(days=10)).isoformat()


def _records() -> list[RawRecord]:
    good = {"appointment_id": "a", "start": f"{DAY} 10:00", "duration_minutes": "30", "patient_id": "P1",
            "patient_phone": "(212) 555-0100"}
    return [RawRecord(good, "f:2"),
            RawRecord({**good, "appointment_id": "b", "start": "not a date"}, "f:3"),  # a MappingError
            RawRecord({**good, "appointment_id": "c", "patient_phone": "12"}, "f:4", record_id="r-c"),  # a note
            RawRecord({**good, "appointment_id": "d", "duration_minutes": ["30"]}, "f:5"),  # not text
            RawRecord({**good, "appointment_id": ""}, "f:6"),  # no id
            RawRecord({**good, "appointment_id": "e"}, "f:7", delete=True),
            RawRecord({**good, "appointment_id": "a", "start": f"{DAY} 11:00"}, "f:8")]  # "a" again


def _one_by_one(mapping: CompiledMapping, records: list[RawRecord],
                prints: list[str | None] | None) -> tuple[list[Mapped], list[QuarantineEntry]]:
    mapped: list[tuple[tuple[int, int, int], Mapped]] = []
    quarantined: list[QuarantineEntry] = []
    for index, record in enumerate(records):
        _map_one(mapping, (index, 1, 0), record, prints[index] if prints else None, mapped, quarantined)
    return [m for _, m in mapped], quarantined


@pytest.mark.parametrize("printed", [False, True])
def test_a_batch_with_nothing_skipped_maps_as_one_record_at_a_time(printed: bool) -> None:
    mapping = load_mapping("csv_default", "America/New_York", "US")
    records = _records()
    prints: list[str | None] | None = [None if i == 3 else f"{i:032x}" for i in range(len(records))] \
        if printed else None
    expected = _one_by_one(mapping, records, prints)
    found = map_batch(mapping, Batch(records), None if prints is None else Unchanged(prints))
    assert found == expected
    mapped, quarantined = found
    assert [m.position for m in mapped] == ["f:2", "f:4", "f:7", "f:8"]
    assert [m.appointment.notes != () for m in mapped] == [False, True, False, False]
    assert [(q.position, q.field) for q in quarantined] == [("f:3", "start"), ("f:5", "duration_minutes"),
                                                           ("f:6", "external_id")]
    assert [m.fingerprint for m in mapped] == ([f"{i:032x}" for i in (0, 2, 5, 6)] if printed else [None] * 4)


def test_a_patched_apply_is_what_a_batch_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch loop calls the generated function directly only while ``apply`` is the class's
    own (CompiledMapping.applier); one patched in (a test's counter, a subclass) is called."""
    mapping = load_mapping("csv_default", "America/New_York", "US")

    def refusing(self: CompiledMapping, record: Any) -> Any:
        raise MappingError("start", "refused by the patch")

    assert mapping.applier() is mapping._generated
    monkeypatch.setattr(CompiledMapping, "apply", refusing)
    assert mapping.applier() is not mapping._generated
    mapped, quarantined = map_batch(mapping, Batch(_records()[:1]))
    assert mapped == [] and [q.reason for q in quarantined] == ["refused by the patch"]


def test_a_batch_of_texts_maps_with_the_texts_code_as_one_record_at_a_time() -> None:
    """A batch that says its records hold only text (Batch.texts: the CSV connector's) is mapped by
    the code generated for such records, with the results of ``apply`` one record at a time; a
    batch that does not say so keeps the general code (its non-text value is quarantined as the
    field's error, not an unexpected TypeError of the texts code's memo)."""
    mapping = load_mapping("csv_default", "America/New_York", "US")
    texts = [r for r in _records() if all(type(v) is str for v in r.data.values())]
    assert len(texts) == 6
    found = map_batch(mapping, Batch(texts, texts=True))
    assert mapping._texts is not None and mapping.applier(texts=True) is mapping._texts is not mapping._generated
    assert found == _one_by_one(mapping, texts, None)
    _mapped, quarantined = map_batch(mapping, Batch(_records()))
    assert ("f:5", "duration_minutes") in [(q.position, q.field) for q in quarantined]


def test_a_patched_apply_is_what_a_batch_of_texts_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    mapping = load_mapping("csv_default", "America/New_York", "US")

    def refusing(self: CompiledMapping, record: Any) -> Any:
        raise MappingError("start", "refused by the patch")

    monkeypatch.setattr(CompiledMapping, "apply", refusing)
    mapped, quarantined = map_batch(mapping, Batch(_records()[:1], texts=True))
    assert mapped == [] and [q.reason for q in quarantined] == ["refused by the patch"]
