"""A visit's length kept as a time pattern (one character per time slot, 'X' and '/'), no end nor
length column: discover reads the slot's minutes from the schedule, visits booked back to back
in one chair, and the length as the pattern's characters times them; with no visits back to
back it guesses nothing and says the slot's minutes are not in the database. Before, every
visit was taken as 30 minutes. A schema built here, in SQLite, with 10-minute slots (not the
5 minutes of any one product), discover and `check` run on it."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from clinicsync.sync.discover.slotpattern import is_pattern, slot_minutes
from clinicsync.sync.discover.sql import discover_sql
from tests.discover.files_support import check_proposal

ZONE = "America/Chicago"
DDL = """
CREATE TABLE chair (ChairNum INTEGER PRIMARY KEY, label TEXT);
CREATE TABLE patient (patient_id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, mobile TEXT);
CREATE TABLE visit (visit_id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patient(patient_id),
  ChairNum INTEGER REFERENCES chair(ChairNum), status TEXT, starts DATETIME, TimePattern TEXT);
"""
PATTERNS = ["/XX/", "/XXXX/", "//XXXXXX//", "/XXX//", "/XXXXXXXX/"]


def _build(path: Path, back_to_back: bool) -> dict[int, int]:
    """Eighty visits in four chairs over ten days; each chair's day a row of visits, each
    starting when the one before ends (10-minute slots), or with an hour between any two. The
    length of each visit in minutes, by id."""
    lengths = {}
    with sqlite3.connect(path) as db:
        db.executescript(DDL)
        db.executemany("INSERT INTO chair VALUES (?, ?)", [(c, f"Chair {c}") for c in range(1, 5)])
        db.executemany("INSERT INTO patient VALUES (?, ?, ?, ?)",
                       [(p, f"Given{p}", f"Family{p}", f"(312)555-{1000 + p}") for p in range(1, 31)])
        rows = []
        base = (datetime.now() + timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)
        for n in range(80):
            pattern = PATTERNS[n % len(PATTERNS)]
            if n % 2 == 0:
                start = base + timedelta(days=n // 8, minutes=5 * ((n // 2) % 4))
            else:
                start = rows[-1][4] + timedelta(minutes=10 * len(rows[-1][5]) + (0 if back_to_back else 60))
            rows.append((n + 1, 1 + n % 30, 1 + (n // 2) % 4, "scheduled", start, pattern))
            lengths[n + 1] = 10 * len(pattern)
        db.executemany("INSERT INTO visit VALUES (?, ?, ?, ?, ?, ?)",
                       [(*r[:4], r[4].isoformat(" "), r[5]) for r in rows])
    return lengths


def test_a_pattern_is_few_characters_in_runs_of_varying_length() -> None:
    assert is_pattern(PATTERNS * 3)
    assert not is_pattern(["XX"] * 12)  # one length: a code, not a length
    assert not is_pattern(["ab", "abc", "abcd"] * 4)  # no runs: words
    assert not is_pattern(["11", "111", "1111"] * 4)  # digits: a number
    assert not is_pattern(["booked", "cancelled", "done"] * 4)


def test_the_slot_is_what_back_to_back_visits_agree_on() -> None:
    day = datetime(2026, 3, 2, 8)
    rows = [(day + timedelta(minutes=m), p, 1) for m, p in ((0, "XXX"), (30, "XX"), (50, "XXXX"), (90, "X"))]
    assert slot_minutes(rows) == (None, 0)  # three pairs of one day: too few to say
    assert slot_minutes([(r[0] + timedelta(days=d), r[1], r[2]) for d in range(3) for r in rows]) == (10, 9)


@pytest.mark.parametrize("back_to_back", [True, False])
def test_the_length_from_the_pattern_and_the_slot_the_schedule_says(tmp_path: Path, back_to_back: bool) -> None:
    path = tmp_path / "clinic.db"
    _build(path, back_to_back)
    proposal = discover_sql(f"sqlite:///{path}", name="clinic", timezone=ZONE, region="US")
    assert proposal.mapping is not None
    fields = proposal.mapping["fields"]
    if not back_to_back:  # nothing guessed: the default, and the note that says what is missing
        assert fields["duration_minutes"] == {"value": 30}, fields
        note = next(n for n in proposal.notes if n.startswith("'TimePattern' holds time patterns"))
        assert "not in the database" in note and "LENGTH(a.\"TimePattern\") * <minutes of a slot>" in note, note
        return
    assert fields["duration_minutes"] == {"from": "length_minutes"}, fields
    assert 'LENGTH(a."TimePattern") * 10 AS length_minutes' in proposal.connector["query"]
    result = check_proposal(proposal, tmp_path, ZONE, "US")
    assert result.mapped == 80 and not result.quarantined, result.quarantined
