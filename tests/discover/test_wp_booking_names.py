"""Column names of WordPress booking plugins that read as something else: Amelia's
``bookingStart``/``bookingEnd`` are the visit's start and end (not when it was booked), and a
service's ``minCapacity`` is a count of people (not a default length in minutes)."""

from __future__ import annotations

from clinicsync.sync.discover.columns import ColumnSample
from clinicsync.sync.discover.lengths import with_default_length
from clinicsync.sync.discover.proposal import Guess
from clinicsync.sync.discover.scoring import score_columns

STARTS = ["2026-12-01 15:00:00", "2026-12-02 16:30:00", "2026-12-03 14:15:00"]
ENDS = ["2026-12-01 15:30:00", "2026-12-02 17:00:00", "2026-12-03 14:45:00"]


def test_booking_start_and_end_are_the_visits_moments() -> None:
    scored = score_columns([ColumnSample("id", "INT", ["1", "2", "3"]),
                            ColumnSample("bookingStart", "DATETIME", STARTS),
                            ColumnSample("bookingEnd", "DATETIME", ENDS),
                            ColumnSample("created", "DATETIME", ["2026-11-20 09:00:00"] * 3)])
    placed = {g.field: g.source for g in scored.guesses}
    assert (placed.get("start"), placed.get("end"), placed.get("booked_at")) == ("bookingStart", "bookingEnd",
                                                                                 "created")


def test_a_booking_stamp_without_start_or_end_stays_when_booked() -> None:
    scored = score_columns([ColumnSample("id", "INT", ["1", "2", "3"]),
                            ColumnSample("start_datetime", "DATETIME", STARTS),
                            ColumnSample("booking_datetime", "DATETIME", ["2026-11-20 09:00:00"] * 3)])
    placed = {g.field: g.source for g in scored.guesses}
    assert (placed.get("start"), placed.get("booked_at")) == ("start_datetime", "booking_datetime")


def test_a_services_minimum_capacity_is_no_default_length() -> None:
    tables = {"service_minCapacity": "wp_amelia_services", "service_duration": "wp_amelia_services"}
    start = Guess("start", "bookingStart", 0.9, "", {"from": "bookingStart"})
    guesses, unplaced = with_default_length([start], ["service_minCapacity", "service_duration"], tables,
                                            "wp_amelia_appointments")
    assert [g.source for g in guesses if g.field == "duration_minutes"] == ["service_duration"]
    assert unplaced == ["service_minCapacity"]
