"""Driver values made usable by mappings and cursors (pure, table of cases)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from clinicsync.connectors.sql_cursor import (
    decode_cursor_value,
    encode_cursor_value,
    overlap_start,
    rereads_by_time,
)
from clinicsync.connectors.sql_rows import row_data
from clinicsync.connectors.sql_session import plain_value

PLAIN_CASES = [
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
    (True, False, True),
]


@pytest.mark.parametrize(("value", "mysql", "expected"), PLAIN_CASES)
def test_plain_values(value: Any, mysql: bool, expected: Any) -> None:
    plain = plain_value(value, mysql)
    assert plain == expected
    orjson.dumps(plain)  # every value can be hashed into the cursor and quarantined


@pytest.mark.parametrize(("value", "mysql", "expected"), PLAIN_CASES)
def test_a_row_is_made_plain_value_by_value(value: Any, mysql: bool, expected: Any) -> None:
    """``row_data`` skips the values' loop for a row of plain values alone (the usual row): a
    row with one other value among plain ones still has that one made plain."""
    stamp = datetime(2026, 3, 2, 10, 0)
    row = ("A-17", 30, 1.5, None, stamp, value)
    assert row_data(["id", "minutes", "share", "note", "updated_at", "v"], row, mysql) == {
        "id": "A-17", "minutes": 30, "share": 1.5, "note": None, "updated_at": stamp, "v": expected}


@pytest.mark.parametrize("value", [datetime(2026, 3, 2, 10, 0), datetime.fromisoformat("2026-03-02T10:00:00+01:00"),
                                   date(2026, 3, 2), 42, 1.5, "A-17"])
def test_cursor_values_round_trip_exactly(value: Any) -> None:
    tag, encoded = encode_cursor_value(value)
    restored = decode_cursor_value(tag, orjson.loads(orjson.dumps(encoded)))
    assert restored == value and type(restored) is type(value)


MADRID = ZoneInfo("Europe/Madrid")
MINUTE = timedelta(seconds=60)


@pytest.mark.parametrize(("value", "overlap", "start"), [
    # aware: minus the overlap, whatever the clock
    (datetime.fromisoformat("2026-10-25T02:50:00+02:00"), MINUTE, datetime.fromisoformat("2026-10-25T02:49:00+02:00")),
    # naive wall clock: minus the overlap ...
    (datetime(2026, 7, 1, 11, 0), MINUTE, datetime(2026, 7, 1, 10, 59)),
    # ... and, inside the hour repeated when clocks go back (02:00-03:00 on 2026-10-25),
    # that hour: rows changed after the change are stamped 02:00... again
    (datetime(2026, 10, 25, 2, 50), MINUTE, datetime(2026, 10, 25, 1, 49)),
    (datetime(2026, 10, 25, 2, 0, 30), MINUTE, datetime(2026, 10, 25, 0, 59, 30)),
    # before the repeated hour nothing can fall below it; past it, no more
    (datetime(2026, 10, 25, 1, 59), MINUTE, datetime(2026, 10, 25, 1, 58)),
    (datetime(2026, 10, 25, 3, 30), MINUTE, datetime(2026, 10, 25, 3, 29)),
    # when clocks go forward nothing is repeated (02:30 on 2026-03-29 does not exist)
    (datetime(2026, 3, 29, 1, 59), MINUTE, datetime(2026, 3, 29, 1, 58)),
    (datetime(2026, 3, 29, 2, 30), MINUTE, datetime(2026, 3, 29, 2, 29)),
    (date(2026, 3, 2), MINUTE, date(2026, 3, 1)),
    (42, MINUTE, 42),  # an id cannot be re-read by time
    ("A-17", MINUTE, "A-17"),
    # SQLite's text date-times, written back in their own shape
    ("2026-03-02 10:00:00.000000", MINUTE, "2026-03-02 09:59:00.000000"),
    ("2026-03-02T10:00:00", MINUTE, "2026-03-02T09:59:00"),
    ("2026-10-25 02:50:00", MINUTE, "2026-10-25 01:49:00"),
    # no overlap: the value itself, the clock change included
    (datetime(2026, 10, 25, 2, 50), timedelta(0), datetime(2026, 10, 25, 2, 50)),
    (date(2026, 3, 2), timedelta(0), date(2026, 3, 2)),
    (datetime(1, 1, 1, 0, 0, 30), MINUTE, datetime.min),  # near year 1: from the start
])
def test_the_overlap_starts_before_the_cursor_by_its_type(value: Any, overlap: timedelta, start: Any) -> None:
    assert overlap_start(value, overlap, MADRID) == start
    assert rereads_by_time(value) is (not isinstance(value, int) and value != "A-17")
