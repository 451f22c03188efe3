"""A connector's `stored_times:` switched after go-live (issue 57): the same source rows, read
as UTC instead of as local time (or back), re-time every visit. That is a correction, as a
corrected zone is (sync/store/changes.py ``zone_corrected``): nobody is told their visit moved, and
the re-read update stamp, now hours earlier, is not taken for an older update. A real move at
the source (its update stamp moves on) is still told. Through the real mapping engine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from clinicsync.mappings.engine import CompiledMapping
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.mappings.preset_schema import MappingPreset
from clinicsync.sync.store.changes import Change, Stored, classify

CHICAGO = "America/Chicago"
PRESET = MappingPreset.model_validate({"name": "stamps", "fields": {
    "external_id": {"from": "id"}, "start": {"from": "start"}, "duration_minutes": {"from": "minutes"},
    "source_updated_at": {"from": "updated"}}})
ROW = {"id": "1", "start": datetime(2026, 12, 14, 14, 30), "minutes": 30, "updated": datetime(2026, 11, 20, 16, 0)}


def mapped(stored_times: str, record: dict[str, Any]) -> NormalizedAppointment:
    return CompiledMapping(PRESET, CHICAGO, "US", stored_times=stored_times).apply(record)


def stored(visit: NormalizedAppointment) -> Stored:
    return Stored(id=1, status=visit.status, start_utc=visit.start, end_utc=visit.end, practitioner_ref=None,
                  content_hash="old", version=1, source_updated_at=visit.source_updated_at, deleted_at=None,
                  timezone=visit.timezone)


def change(before: str, after: str, new_row: dict[str, Any] | None = None) -> Change | None:
    return classify(stored(mapped(before, ROW)), mapped(after, new_row or ROW), "new", current=True)


@pytest.mark.parametrize(("before", "after"), [("local", "utc"), ("utc", "local")])
def test_a_switched_convention_is_a_correction_nobody_is_told(before: str, after: str) -> None:
    found = change(before, after)
    assert found is not None and found.kind == "rescheduled"
    assert found.payload["baseline"] is True  # recorded, not announced (sync/store/zonerules.py's mark)


def test_the_update_stamp_re_read_earlier_is_not_an_older_update() -> None:
    """local -> utc in Chicago reads every stamp six hours earlier: without the correction
    rule the whole re-read was dropped as out of order and every visit stayed six hours late."""
    old, new = mapped("local", ROW), mapped("utc", ROW)
    assert new.source_updated_at is not None and old.source_updated_at is not None
    assert new.source_updated_at < old.source_updated_at
    assert change("local", "utc") is not None


def test_a_real_move_under_the_new_convention_is_told() -> None:
    moved = {**ROW, "start": datetime(2026, 12, 14, 20, 30), "updated": datetime(2026, 11, 25, 9, 0)}
    found = change("utc", "utc", moved)
    assert found is not None and found.kind == "rescheduled" and "baseline" not in found.payload


def test_a_move_by_the_zone_offset_with_a_new_stamp_is_told() -> None:
    """8:30 -> 14:30 in Chicago is six hours, the zone's offset: the start alone would look
    like a re-read; the update stamp moved on, so it is a move."""
    moved = {**ROW, "start": datetime(2026, 12, 14, 20, 30), "updated": datetime(2026, 11, 21, 9, 0)}
    found = change("utc", "utc", moved)
    assert found is not None and "baseline" not in found.payload


def test_without_an_update_stamp_a_switch_is_told_as_a_move() -> None:
    """Nothing then tells a re-read from a move by the zone's offset: told (the safe side)."""
    bare = MappingPreset.model_validate({"name": "bare", "fields": {
        "external_id": {"from": "id"}, "start": {"from": "start"}, "duration_minutes": {"from": "minutes"}}})
    old = CompiledMapping(bare, CHICAGO, "US").apply(ROW)
    new = CompiledMapping(bare, CHICAGO, "US", stored_times="utc").apply(ROW)
    found = classify(stored(old), new, "new", current=True)
    assert found is not None and found.kind == "rescheduled" and "baseline" not in found.payload
