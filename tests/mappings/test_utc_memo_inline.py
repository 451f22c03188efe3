"""The generated code looks the start/end-to-UTC memo up itself (codegen._to_utc) instead of
calling the engine's ``_utc``: the result, or the field and reason of a refusal, must be the
interpreted engine's, the first time a value is seen and again from the memo, whichever of
start and end meets it first."""

from __future__ import annotations

from typing import Any

import pytest

from clinicsync.mappings.engine import _COMPILED, CompiledMapping, load_mapping
from clinicsync.mappings.model import MappingError

TIMES = [
    "2026-03-08 02:30",
    "2026-11-01 01:30",
    "2026-11-01 00:59",
    "2026-03-08 03:00",
    "2027-01-04 08:00",
    "2027-01-04T08:00-05:00",
    "2027-01-04T13:00Z",
    "2199-12-31T23:30Z",
    "2200-01-01T00:30+01:00",
    "2199-12-31 23:30",
    "1899-12-30 00:00",
    "0001-01-01T00:00",
    "9999-12-31T23:59-12:00",
    "2026-03-29 02:30",
    "2026-10-25 02:30",
]
ZONES = ["", "America/New_York", "Europe/London", "Australia/Lord_Howe"]


def _records() -> list[dict[str, str]]:
    rows = []
    for number, start in enumerate(TIMES):
        for zone_name in ZONES:
            for end in ["", *TIMES[:6]]:
                rows.append(
                    {
                        "appointment_id": f"A{number}",
                        "start": start,
                        "end": end,
                        "duration_minutes": "" if end else "30",
                        "timezone": zone_name,
                    }
                )
    return rows


def _outcome(apply: Any, record: dict[str, str]) -> Any:
    try:
        return apply(record)
    except MappingError as exc:
        return ("refused", exc.field, exc.reason)


def _fresh() -> CompiledMapping:
    _COMPILED.clear()
    return load_mapping("csv_default", "America/Chicago", "US")


@pytest.mark.parametrize("order", [1, -1])
def test_generated_utc_as_interpreted(order: int) -> None:
    records = _records()[::order]
    generated, interpreted = _fresh(), _fresh()
    expected = [_outcome(interpreted.apply_interpreted, r) for r in records]
    assert any(e[0] == "refused" and e[1] == "start" for e in expected if isinstance(e, tuple))
    assert any(e[0] == "refused" and e[1] == "end" for e in expected if isinstance(e, tuple))
    for _ in range(2):  # cold, then every value from the memo
        assert [_outcome(generated.apply, r) for r in records] == expected
