"""`{date: …, time: …, time_unit: hhmmss|hhmm}`: a visit kept as a day written as the whole number
YYYYMMDD and a clock as the whole number HHMMSS (93000 is 09:30:00, its leading zero gone) or
HHMM (930). The pair is a wall-clock time in the mapping's zone (or UTC with ``stored_times:
utc``); a negative clock (-1: an entry with no time of day) is refused naming the field, never
read as midnight; all three engines agree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from clinicsync.mappings.engine import CompiledMapping, load_mapping
from clinicsync.mappings.model import MappingError, NormalizedAppointment

ENGINES: dict[str, Callable[[CompiledMapping], Callable[[dict[str, Any]], NormalizedAppointment]]] = {
    "generated": lambda m: m.apply,
    "interpreted": lambda m: m.apply_interpreted,
    "texts": lambda m: m.applier(texts=True),
}


def _row(engine: str, **values: Any) -> dict[str, Any]:
    """A row as the engine gets it: the texts engine reads every value as text (a CSV's, a texts read's)."""
    row = {"id": "1", "pid": "7", "cal_duration": 20, **values}
    return {k: str(v) for k, v in row.items()} if engine == "texts" else row


def _fields(unit: str) -> dict[str, Any]:
    return {"external_id": {"from": "id"}, "status": {"value": "booked"}, "patient.external_id": {"from": "pid"},
            "start": {"date": "cal_date", "time": "cal_time", "time_unit": unit},
            "duration_minutes": {"from": "cal_duration"}}


def _mapping(tmp_path: Path, unit: str, stored: str = "local") -> CompiledMapping:
    (tmp_path / "cal.yaml").write_text(yaml.safe_dump({"name": "cal", "fields": _fields(unit)}), encoding="utf-8")
    return load_mapping("cal.yaml", "America/New_York", "US", base_dir=tmp_path, stored_times=stored)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("unit", "clock", "stored", "want"), [
    ("hhmmss", 93000, "local", "2026-12-01T14:30:00+00:00"),
    ("hhmmss", "143000", "utc", "2026-12-01T14:30:00+00:00"),
    ("hhmmss", 0, "utc", "2026-12-01T00:00:00+00:00"),  # midnight GMT, a real clock
    ("hhmm", 930, "local", "2026-12-01T14:30:00+00:00"),
    ("hhmm", "0930", "local", "2026-12-01T14:30:00+00:00"),
])
def test_the_day_and_clock_as_digits(tmp_path: Path, engine: str, unit: str, clock: Any, stored: str,
                                     want: str) -> None:
    row = _row(engine, cal_date=20261201, cal_time=clock)
    visit = ENGINES[engine](_mapping(tmp_path, unit, stored))(row)
    assert visit.start.isoformat() == want


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("day", "clock"), [(20261201, -1), (20261201, 250000), (20261201, 96000),
                                            (20261301, 93000), (2026121, 93000), ("abc", 93000)])
def test_no_time_or_no_date_is_refused_naming_the_field(tmp_path: Path, engine: str, day: Any, clock: Any) -> None:
    row = _row(engine, cal_date=day, cal_time=clock)
    with pytest.raises(MappingError) as raised:
        ENGINES[engine](_mapping(tmp_path, "hhmmss"))(row)
    assert raised.value.field == "start"
