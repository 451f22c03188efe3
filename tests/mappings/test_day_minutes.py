"""`{date: …, time: …, time_unit: minutes}`: a visit kept as its day and the whole minutes since
that day's midnight (booking plugins' ``start_time`` 540 for 09:00). The day at that many minutes
is a wall-clock time in the mapping's zone, as a date with a time of day is; a count outside a
day is refused naming the field, never the value; all three engines agree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from clinicsync.mappings.engine import CompiledMapping, MappingLoadError, load_mapping
from clinicsync.mappings.model import MappingError, NormalizedAppointment

ENGINES: dict[str, Callable[[CompiledMapping], Callable[[dict[str, Any]], NormalizedAppointment]]] = {
    "generated": lambda m: m.apply,
    "interpreted": lambda m: m.apply_interpreted,
    "texts": lambda m: m.applier(texts=True),
}
FIELDS = {"external_id": {"from": "id"}, "status": {"value": "booked"}, "patient.external_id": {"from": "pid"},
          "start": {"date": "start_date", "time": "start_time", "time_unit": "minutes"},
          "end": {"date": "end_date", "time": "end_time", "time_unit": "minutes"}}
ROW = {"id": "1", "pid": "7", "start_date": "2026-12-01", "start_time": 570, "end_date": "2026-12-01",
       "end_time": 1440}


def _mapping(tmp_path: Path, fields: dict[str, Any], stored: str = "local") -> CompiledMapping:
    (tmp_path / "plugin.yaml").write_text(yaml.safe_dump({"name": "plugin", "fields": fields}), encoding="utf-8")
    return load_mapping("plugin.yaml", "America/New_York", "US", base_dir=tmp_path, stored_times=stored)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_day_at_that_many_minutes_in_the_clinics_zone(tmp_path: Path, engine: str) -> None:
    visit = ENGINES[engine](_mapping(tmp_path, FIELDS))(ROW)
    assert (visit.start.isoformat(), visit.end.isoformat()) == ("2026-12-01T14:30:00+00:00",
                                                                "2026-12-02T05:00:00+00:00")  # 09:30, midnight


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("bad", [1441, -5, "09:30", "abc"])
def test_a_count_outside_a_day_is_refused_naming_the_field(tmp_path: Path, engine: str, bad: Any) -> None:
    with pytest.raises(MappingError) as raised:
        ENGINES[engine](_mapping(tmp_path, FIELDS))({**ROW, "start_time": bad})
    assert raised.value.field == "start" and str(bad) not in str(raised.value).replace("start", "")


def test_time_unit_without_a_time_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(MappingLoadError, match="time_unit"):
        _mapping(tmp_path, {**FIELDS, "start": {"from": "start_date", "time_unit": "minutes"}})
