"""The place and the kind of a visit written in two columns filled on different rows (a clinic's
appointment names its area and appointment type, a room booking its room and booking type):
the second column is the first's fallback. Scored on samples built here."""

from __future__ import annotations

from clinicsync.sync.discover.columns import ColumnSample
from clinicsync.sync.discover.scoring import score_columns

ROWS = 40


def _column(name: str, value: str, rows: range) -> ColumnSample:
    return ColumnSample(name, "VARCHAR(80)", [value if n in rows else None for n in range(ROWS)])


def _fields(columns: list[ColumnSample]) -> dict[str, object]:
    return {g.field: g.spec for g in score_columns(columns, region="FJ").guesses}


def test_a_booking_of_a_room_reads_its_place_and_kind_from_the_other_columns() -> None:
    fields = _fields([_column("appointment_type_name", "Follow-up", range(34)),
                      _column("booking_type_name", "Procedure", range(34, ROWS)),
                      _column("location_group_name", "Outpatients", range(34)),
                      _column("location_name", "Procedure Room", range(34, ROWS))])
    assert fields["type"] == {"from": ["appointment_type_name", "booking_type_name"]}, fields
    assert fields["location"] == {"from": ["location_group_name", "location_name"]}, fields
    assert "booked_at" not in fields  # 'booking' beside 'type' is the visit's kind, not when it was booked

