"""A visit's end kept under its start's own name with a "2" or an end word (Dolibarr's
``datep``/``datep2``, ``date1``/``date2``, ``dtstart``/``dtend``): placed as the end only when
its sampled values are ends (after the start, the same day, a plausible length); else left
out, with the reason, and the visits take the clinic's default length."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from clinicsync.sync.discover.columns import ColumnSample
from clinicsync.sync.discover.scoring import score_columns

FIRST = datetime(2030, 3, 4, 8, 0)


def columns(start: str, end: str, lengths: list[timedelta | None]) -> list[ColumnSample]:
    starts = [FIRST + timedelta(days=i, minutes=15 * (i % 20)) for i in range(len(lengths))]
    return [ColumnSample("id", "INTEGER", [str(i + 1) for i in range(len(lengths))]),
            ColumnSample(start, "DATETIME", [s.isoformat(sep=" ") for s in starts]),
            ColumnSample(end, "DATETIME", [None if d is None else (s + d).isoformat(sep=" ")
                                           for s, d in zip(starts, lengths, strict=True)]),
            ColumnSample("label", "VARCHAR(255)", ["Consultation"] * len(lengths))]


@pytest.mark.parametrize(("start", "end"), [("datep", "datep2"), ("date1", "date2"), ("dtstart", "dtend"),
                                            ("rdvdeb", "rdvfin")])
def test_end_named_after_the_start_is_placed_when_its_values_are_ends(start: str, end: str) -> None:
    lengths: list[timedelta | None] = [timedelta(minutes=(20, 30, 45)[i % 3]) for i in range(40)]
    lengths[5] = None  # an event with no end: that visit takes the default length
    fields = {g.field: g for g in score_columns(columns(start, end, lengths), region="FR").guesses}
    assert fields["start"].spec == {"from": start}
    assert fields["end"].spec == {"from": end}
    assert "39 of 39 sampled rows end the same day 20 to 45 minutes after the start" in fields["end"].why


def test_end_named_so_whose_values_are_no_ends_is_left_out_with_the_reason() -> None:
    lengths: list[timedelta | None] = [timedelta(days=14 + i % 3) for i in range(40)]  # a follow-up date
    scored = score_columns(columns("datep", "datep2", lengths), region="FR")
    fields = {g.field: g for g in scored.guesses}
    assert "end" not in fields
    assert fields["duration_minutes"].spec == {"value": 30}
    assert any(n.startswith("end: left out, not guessed: 'datep2' is named as the end of 'datep' but only 0 of 40 "
                            "sampled rows read as an end") for n in scored.notes), scored.notes


def test_a_second_date_not_named_after_the_start_is_no_end() -> None:
    lengths: list[timedelta | None] = [timedelta(minutes=30)] * 40
    fields = {g.field: g for g in score_columns(columns("datep", "dateq", lengths), region="FR").guesses}
    assert "end" not in fields
