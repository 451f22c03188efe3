"""Driver values made usable by mappings and cursors (pure, table of cases)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest

from clinicsync.connectors.sql import decode_cursor_value, encode_cursor_value
from clinicsync.connectors.sql_session import plain_value


@pytest.mark.parametrize(("value", "mysql", "expected"), [
    (timedelta(hours=9, minutes=30), True, time(9, 30)),  # PyMySQL's TIME
    (timedelta(hours=26), True, "1 day, 2:00:00"),  # a TIME beyond a day is not a time of day
    (timedelta(minutes=30), False, "0:30:00"),  # a PostgreSQL interval stays a duration
    (Decimal("900"), False, 900),
    (Decimal("12.50"), False, "12.50"),
    (b"\x01\xff", True, "01ff"),
    (memoryview(b"\x00\x10"), False, "0010"),
    (uuid.UUID(int=1), False, "00000000-0000-0000-0000-000000000001"),
    ([Decimal("1"), b"\x02"], False, [1, "02"]),
    ({"n": Decimal("2.5")}, False, {"n": "2.5"}),
    (date(2031, 7, 15), True, date(2031, 7, 15)),
    (None, True, None),
])
def test_plain_values(value: Any, mysql: bool, expected: Any) -> None:
    plain = plain_value(value, mysql)
    assert plain == expected
    orjson.dumps(plain)  # every value can be hashed into the cursor and quarantined


@pytest.mark.parametrize("value", [datetime(2026, 3, 2, 10, 0), datetime.fromisoformat("2026-03-02T10:00:00+01:00"),
                                   date(2026, 3, 2), 42, 1.5, "A-17"])
def test_cursor_values_round_trip_exactly(value: Any) -> None:
    tag, encoded = encode_cursor_value(value)
    restored = decode_cursor_value(tag, orjson.loads(orjson.dumps(encoded)))
    assert restored == value and type(restored) is type(value)
