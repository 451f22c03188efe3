"""Unix seconds are no phone numbers: a German clinic's whole-number column whose name says
nothing, holding this decade's Unix seconds (``17xxxxxxxx``, which Germany's phone rules read as
a mobile without its 0), was placed as the patient's phone by its values. A column of bare
ten-digit numbers, all moments from 2000 to three years ahead and within two years of each
other, declared a whole number, is stamps; a phone column typed with a leading 0, '+49' or
separators, German mobiles kept as whole numbers (spread over the carriers' prefixes) and a US
clinic's numbers (one area code, all read past 2033) are still phones."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from clinicsync.sync.discover.columns import ColumnSample
from clinicsync.sync.discover.scoring import score_columns

ROWS = 40


def _placed(region: str, column: ColumnSample) -> dict[str, str]:
    rng = random.Random(11)
    starts = [f"2026-12-{1 + n % 28:02d} {9 + rng.randrange(8)}:00" for n in range(ROWS)]
    names = [f"Anna{n} Schmidt" for n in range(ROWS)]
    scored = score_columns([ColumnSample("start_at", "DATETIME", starts),
                            ColumnSample("patient_name", "VARCHAR(80)", names), column], region=region)
    return {g.field: g.source for g in scored.guesses}


def test_a_whole_number_column_of_unix_seconds_is_no_phone() -> None:
    rng = random.Random(5)
    now = int(datetime.now(UTC).timestamp())
    stamps = [str(now - rng.randrange(0, 90 * 86_400)) for _ in range(ROWS)]  # the newest rows' moments

    placed = _placed("DE", ColumnSample("tick", "INTEGER", stamps))

    assert placed.get("patient.phone") != "tick", placed
    assert placed.get("patient.external_id") != "tick", placed  # nor the phone standing in for the patient


def _mobile(rng: random.Random) -> str:
    return f"{rng.choice(('151', '160', '162', '170', '171', '176', '177', '178'))}{rng.randrange(10**7):07d}"


@pytest.mark.parametrize(("region", "declared", "typed"), [
    ("DE", "VARCHAR(30)", lambda m, n: ("0" + m, f"+49 {m[:3]} {m[3:]}", f"0{m[:3]}-{m[3:]}")[n % 3]),
    ("DE", "BIGINT", lambda m, n: m),  # kept as a whole number: its 0 lost, its prefixes many
    ("US", "BIGINT", lambda m, n: f"201{432 + n % 5}{1000 + n:04d}"),  # one area code: 2033 as seconds
    ("US", "VARCHAR(30)", lambda m, n: f"(201) {432 + n % 5}-{1000 + n:04d}"),
])
def test_a_phone_column_stays_a_phone(region: str, declared: str, typed: Callable[[str, int], str]) -> None:
    rng = random.Random(7)
    values = [typed(_mobile(rng), n) for n in range(ROWS)]

    placed = _placed(region, ColumnSample("reach", declared, values))

    assert placed.get("patient.phone") == "reach", (placed, values[:3])
