"""`type: unix_seconds`: visit times kept as whole seconds since 1970 (PHP's ``strtotime``; NOSH's
``schedule.start``). Each is the instant itself, so neither the mapping's zone nor the source's
``stored_times`` moves it; the visit keeps its zone for messages. A number outside 2000-2100
(milliseconds, a counter) is refused with a reason that names the field, never the value; all
three engines agree."""

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
FIELDS = {"external_id": {"from": "id"}, "status": {"value": "booked"}, "patient.external_id": {"from": "pid"},
          "practitioner.external_id": {"from": "doc"}, "start": {"from": "start", "type": "unix_seconds"},
          "end": {"from": "end", "type": "unix_seconds"}}
ROW = {"id": "1", "pid": "7", "doc": "2", "start": "1796133600", "end": "1796135400"}  # 2026-12-01 14:00 UTC


def _mapping(tmp_path: Path, zone: str, stored: str) -> CompiledMapping:
    (tmp_path / "nosh.yaml").write_text(yaml.safe_dump({"name": "nosh", "fields": FIELDS}), encoding="utf-8")
    return load_mapping("nosh.yaml", zone, "US", base_dir=tmp_path, stored_times=stored)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("stored", ["local", "utc"])
def test_a_unix_time_is_its_instant_whatever_the_zone_or_convention(tmp_path: Path, engine: str,
                                                                     stored: str) -> None:
    for zone in ("America/Chicago", "Asia/Kolkata"):
        visit = ENGINES[engine](_mapping(tmp_path, zone, stored))(ROW)
        assert (visit.start.isoformat(), visit.end.isoformat(), visit.timezone) == (
            "2026-12-01T14:00:00+00:00", "2026-12-01T14:30:00+00:00", zone)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("bad", ["1796133600000", "86400", "2026-12-01 14:00", "17961336.5"])
def test_milliseconds_counters_and_text_are_refused_naming_the_field(tmp_path: Path, engine: str,
                                                                      bad: str) -> None:
    with pytest.raises(MappingError) as raised:
        ENGINES[engine](_mapping(tmp_path, "America/Chicago", "local"))({**ROW, "start": bad})
    assert raised.value.field == "start" and bad not in str(raised.value)
