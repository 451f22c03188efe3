"""Matching a freed slot to waiting patients (sync/waitlist/match.py): each rule on its own,
the order, and weekly windows read on the patient's own wall clock across DST."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from clinicsync.sync.waitlist.match import Entry, Slot, WindowError, fits_windows, parse_windows, ranked, refusal

NOW = datetime(2030, 3, 1, 12, tzinfo=UTC)
# Tuesday 2030-03-12 14:00 UTC = 10:00 in New York (EDT, the first week after the March change)
START = datetime(2030, 3, 12, 14, tzinfo=UTC)
SLOT = Slot("c1", "D1", "Follow-up", "L1", None, START, START + timedelta(minutes=30), freed_patient_ref="P0")
ENTRY = Entry(1, "c1", "P1", "D1", "Follow-up", "L1", None, 30, None, "America/New_York", 0,
              datetime(2030, 1, 1, tzinfo=UTC))


def why(entry: Entry, slot: Slot = SLOT, match: str = "same_doctor", booked_from: datetime | None = None) -> str | None:
    return refusal(slot, entry, match=match, now=NOW, booked_from=booked_from)


def windows(*items: dict[str, object]) -> str:
    return orjson.dumps(list(items)).decode()


def test_an_entry_that_asks_for_exactly_this_fits() -> None:
    assert why(ENTRY) is None


@pytest.mark.parametrize(("change", "reason"), [
    ({"status": "booked"}, "not waiting"),
    ({"connector": "c2"}, "another source"),
    ({"expires_at": NOW}, "expired"),
    ({"patient_ref": "P0"}, "freed it"),
    ({"visit_type": "New patient"}, "visit type"),
    ({"practitioner_ref": "D2"}, "doctor"),
    ({"location_ref": "L2"}, "location"),
    ({"visit_mode": "video"}, "visit mode"),
    ({"duration_minutes": 45}, "too short"),
    ({"windows": "{not json"}, "windows unreadable"),
    ({"timezone": "Mars/Olympus_Mons", "windows": '[{"days": ["tue"], "from": "08:00", "to": "12:00"}]'},
     "timezone unreadable"),
])
def test_each_rule_refuses_on_its_own(change: dict[str, object], reason: str) -> None:
    assert why(replace(ENTRY, **change)) == reason  # type: ignore[arg-type]


def test_any_doctor_place_mode_and_length_fit_when_the_entry_names_none() -> None:
    loose = replace(ENTRY, practitioner_ref=None, visit_type=None, location_ref=None, visit_mode=None,
                    duration_minutes=None)
    assert why(loose, replace(SLOT, practitioner_ref="D9", visit_type="Anything", location_ref="L9")) is None
    assert why(replace(ENTRY, visit_mode="in_person")) is None  # a slot without a mode is in person
    assert why(replace(ENTRY, visit_mode="video"), replace(SLOT, visit_mode="video")) is None


def test_same_type_lets_another_doctor_of_the_same_visit_type_fit() -> None:
    other = replace(SLOT, practitioner_ref="D2")
    assert why(ENTRY, other, match="same_doctor") == "doctor"
    assert why(ENTRY, other, match="same_type") is None
    assert why(replace(ENTRY, visit_type=None), other, match="same_type") == "doctor"  # no type to compare
    assert why(ENTRY, replace(other, visit_type="New patient"), match="same_type") == "visit type"


def test_never_a_slot_that_would_cost_the_patient_an_earlier_or_overlapping_visit() -> None:
    assert why(ENTRY, booked_from=START - timedelta(days=1)) == "booked earlier"
    assert why(ENTRY, booked_from=START + timedelta(minutes=15)) == "booked earlier"  # overlapping
    assert why(ENTRY, booked_from=START + timedelta(days=20)) is None  # the later visit they wait to bring forward


def test_absolute_periods() -> None:
    inside = windows({"start": "2030-03-10T00:00:00Z", "end": "2030-03-15T00:00:00Z"})
    outside = windows({"start": "2030-03-13T00:00:00Z", "end": "2030-03-15T00:00:00Z"})
    both = windows({"start": "2030-03-13T00:00:00Z", "end": "2030-03-15T00:00:00Z"},
                   {"start": "2030-03-12T14:00:00+00:00", "end": "2030-03-12T14:30:00+00:00"})
    assert why(replace(ENTRY, windows=inside)) is None
    assert why(replace(ENTRY, windows=outside)) == "windows"
    assert why(replace(ENTRY, windows=both)) is None  # one period is enough; the slot fits it exactly
    assert why(replace(ENTRY, windows="[]")) is None
    # Open at one end, as FHIR's requestedPeriod may be (the waitlist mapping writes null).
    assert why(replace(ENTRY, windows=windows({"start": "2030-03-10T00:00:00Z", "end": None}))) is None
    assert why(replace(ENTRY, windows=windows({"end": "2030-03-12T14:00:00Z"}))) == "windows"
    assert why(replace(ENTRY, windows=windows({"start": None, "end": "2030-03-13T00:00:00Z"}))) is None
    whole_days = windows({"days": ["tue"], "from": "00:00", "to": "24:00"})
    assert why(replace(ENTRY, windows=whole_days)) is None


def test_weekly_windows_are_the_patients_local_hours_across_dst() -> None:
    mornings = windows({"days": ["tue", "thu"], "from": "08:00", "to": "12:00"})
    entry = replace(ENTRY, windows=mornings)
    # 10:00 EDT on Tuesday, March 12 (after the change on March 10): inside.
    assert why(entry) is None
    # The same UTC time the Tuesday before the change is 09:00 EST: inside too.
    before = START - timedelta(days=7)
    assert why(entry, replace(SLOT, start=before, end=before + timedelta(minutes=30))) is None
    # 16:00 UTC on March 12 is 12:00 EDT: the slot starts when the window ends.
    late = datetime(2030, 3, 12, 15, 45, tzinfo=UTC)
    assert why(entry, replace(SLOT, start=late, end=late + timedelta(minutes=30))) == "windows"
    # 11:30-12:00 EDT ends exactly at the window's end: fits.
    edge = datetime(2030, 3, 12, 15, 30, tzinfo=UTC)
    assert why(entry, replace(SLOT, start=edge, end=edge + timedelta(minutes=30))) is None
    # A Wednesday: not one of the days.
    assert why(entry, replace(SLOT, start=START + timedelta(days=1), end=START + timedelta(days=1, minutes=30))) \
        == "windows"
    # Read in the entry's zone, not the slot's: for a patient in Madrid, 14:00 UTC is 15:00.
    assert why(replace(entry, timezone="Europe/Madrid")) == "windows"
    assert why(replace(entry, timezone="Europe/Madrid",
                       windows=windows({"days": ["tue"], "from": "15:00", "to": "16:00"}))) is None


def test_weekly_window_on_the_fall_back_night() -> None:
    """01:30 happens twice in New York on 2030-11-03; both slots are inside 01:00-02:00 local."""
    night = parse_windows(windows({"days": ["sun"], "from": "01:00", "to": "02:00"}))
    first = datetime(2030, 11, 3, 5, 30, tzinfo=UTC)  # 01:30 EDT
    second = datetime(2030, 11, 3, 6, 30, tzinfo=UTC)  # 01:30 EST
    for start in (first, second):
        assert fits_windows(night, start, start + timedelta(minutes=20), "America/New_York")
    # 01:30 EDT to 01:20 EST is 50 minutes across the repeated hour and still within 01:00-02:00.
    assert fits_windows(night, first, first + timedelta(minutes=50), "America/New_York")


def test_periods_and_weekly_windows_together_must_both_fit() -> None:
    entry = replace(ENTRY, windows=windows({"start": "2030-03-01T00:00:00Z", "end": "2030-03-31T00:00:00Z"},
                                           {"days": ["mon"], "from": "08:00", "to": "12:00"}))
    assert why(entry) == "windows"  # in the period, but a Tuesday


@pytest.mark.parametrize(("text", "part"), [
    ('{"days": ["mon"]}', "windows: not a list"),
    ('[{"days": ["monday"], "from": "08:00", "to": "09:00"}]', "windows[0].days"),
    ('[{"days": ["mon"], "from": "8", "to": "09:00"}]', "windows.[0].from"),
    ('[{"days": ["mon"], "from": "10:00", "to": "09:00"}]', "windows[0]: 'to'"),
    ('[{"start": "2030-03-01T00:00:00", "end": "2030-03-02T00:00:00Z"}]', "without an offset"),
    ('[{"start": "2030-03-02T00:00:00Z", "end": "2030-03-01T00:00:00Z"}]', "windows[0]: 'end'"),
    ('[{"start": null, "end": null}]', "windows[0]: neither"),
])
def test_unreadable_windows_name_the_part(text: str, part: str) -> None:
    with pytest.raises(WindowError, match=part.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        parse_windows(text)


def test_order_is_priority_then_longest_waiting_then_id() -> None:
    since = datetime(2030, 1, 1, tzinfo=UTC)
    entries = [replace(ENTRY, id=1, patient_ref="A", waiting_since=since),
               replace(ENTRY, id=2, patient_ref="B", waiting_since=since - timedelta(days=3)),
               replace(ENTRY, id=3, patient_ref="C", waiting_since=since, priority=5),
               replace(ENTRY, id=4, patient_ref="D", waiting_since=since - timedelta(days=3)),
               replace(ENTRY, id=5, patient_ref="E", waiting_since=since - timedelta(days=90), location_ref="L2"),
               replace(ENTRY, id=6, patient_ref="F", waiting_since=since - timedelta(days=90))]
    best = ranked(SLOT, entries, match="same_doctor", now=NOW, booked={"F": START - timedelta(days=1)})
    assert [e.id for e in best] == [3, 2, 4, 1]  # 5: another place; 6: already booked earlier
