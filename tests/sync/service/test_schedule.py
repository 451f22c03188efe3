"""When periodic jobs are due: intervals, cron in clinic time, and bad settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from clinicsync.common.schedule import Schedule

NOW = datetime(2031, 1, 10, 15, 0, 7, tzinfo=UTC)


def test_an_interval_runs_at_once_then_every_interval() -> None:
    every = Schedule(interval="5m")
    assert every.next_due(None, NOW) == NOW
    assert every.next_due(NOW, NOW + timedelta(seconds=3)) == NOW + timedelta(minutes=5)


def test_an_overrun_is_followed_by_one_run_not_a_burst() -> None:
    every = Schedule(interval="30s")
    late = NOW + timedelta(minutes=10)
    assert every.next_due(NOW, late) == late


@pytest.mark.parametrize(("now", "expected"), [
    (NOW, datetime(2031, 1, 11, 12, 0, tzinfo=UTC)),  # 07:00 EST
    (datetime(2031, 3, 8, 15, 0, tzinfo=UTC), datetime(2031, 3, 9, 11, 0, tzinfo=UTC)),  # 07:00 EDT after DST
])
def test_cron_runs_in_clinic_time(now: datetime, expected: datetime) -> None:
    assert Schedule(cron="0 7 * * *").next_due(None, now, "America/New_York") == expected


def test_cron_never_runs_twice_for_one_time() -> None:
    """Woken a hair early, the job ran for 07:00; the next time is tomorrow's 07:00."""
    due = datetime(2031, 1, 11, 12, 0, tzinfo=UTC)
    early = due - timedelta(milliseconds=1)
    assert Schedule(cron="0 7 * * *").next_due(due, early, "America/New_York") == due + timedelta(days=1)


@pytest.mark.parametrize(("fields", "problem"), [
    ({}, "exactly one"),
    ({"interval": "5m", "cron": "* * * * *"}, "exactly one"),
    ({"interval": "5 minutes"}, "bad duration"),
    ({"interval": "0s"}, "longer than zero"),
    ({"cron": "every day"}, "not a valid cron"),
])
def test_bad_schedules_are_refused(fields: dict[str, str], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Schedule(**fields)


def test_a_bad_connector_schedule_names_the_key(write_settings, cli, drop_dir) -> None:  # type: ignore[no-untyped-def]
    config = write_settings(f"""
        - name: emr
          kind: csv
          mapping: csv_default
          drop_dir: {drop_dir}
          schedule: {{cron: "61 * * * *"}}
    """)
    _, _, err = cli(config)("config", "validate", expect=2)
    assert "connectors[0].schedule" in err.replace("\n", "") and "cron" in err


def test_the_slot_after_a_poll_counts_from_its_due_time_and_skips_missed_slots() -> None:
    every = Schedule(interval="1m")
    assert every.slot_after(NOW, NOW + timedelta(seconds=7)) == NOW + timedelta(minutes=1)  # no drift
    assert every.slot_after(NOW, NOW + timedelta(minutes=3, seconds=1)) == NOW + timedelta(minutes=4)
    assert every.slot_after(NOW, NOW - timedelta(seconds=1)) == NOW + timedelta(minutes=1)  # a clock behind
    due = datetime(2031, 1, 11, 12, 0, tzinfo=UTC)
    assert Schedule(cron="0 7 * * *").slot_after(due, due + timedelta(hours=2), "America/New_York") \
        == due + timedelta(days=1)


def test_a_phase_fixes_an_interval_s_slots_and_a_poll_off_it_reaches_them_within_one_interval() -> None:
    five, phase = Schedule(interval="5m"), timedelta(seconds=17)  # slots at :00:17, :05:17, :10:17 …
    late = datetime(2031, 1, 10, 15, 0, 40, tzinfo=UTC)  # polled at start, 23 s past a slot
    assert five.slot_after(late, late + timedelta(seconds=3), phase=phase) == late + timedelta(minutes=4, seconds=37)
    # 1 m 17 s before a slot: that one is too near (under half an interval), the next too far (6 m
    # 17 s): halfway to it first, then the phase's slot, each step between 2.5 and 5 minutes
    early = datetime(2031, 1, 10, 15, 4, 0, tzinfo=UTC)
    halfway = five.slot_after(early, early + timedelta(seconds=3), phase=phase)
    ended = early + timedelta(seconds=3)
    assert halfway == ended + (datetime(2031, 1, 10, 15, 10, 17, tzinfo=UTC) - ended) / 2
    on_phase = five.slot_after(halfway, halfway + timedelta(seconds=3), phase=phase)
    assert on_phase == datetime(2031, 1, 10, 15, 10, 17, tzinfo=UTC)
    assert five.slot_after(on_phase, on_phase + timedelta(seconds=9), phase=phase) == on_phase + timedelta(minutes=5)
    # an overrun skips to the phase's next slot after its end, as without a phase
    assert five.slot_after(on_phase, on_phase + timedelta(minutes=7), phase=phase) == on_phase + timedelta(minutes=10)
    # a poll due at the start that waited 55 s in the start's burst: its next slot is half an
    # interval after it ended, not after its due time (bench/many_sources.py: 100 s gaps)
    due = datetime(2031, 1, 10, 15, 20, 15, tzinfo=UTC)
    ended = due + timedelta(seconds=55)
    assert five.slot_after(due, ended, phase=timedelta(seconds=17 + 150)) >= ended + timedelta(minutes=2, seconds=30)


def test_a_phased_slot_is_always_between_half_and_one_interval_after_the_poll() -> None:
    """However late a poll started and whatever its phase: the next is half to one interval
    after its end (one more step when the phase's slot is further), never nearer."""
    five = Schedule(interval="5m")
    start = datetime(2031, 1, 10, 15, 0, tzinfo=UTC)
    for seconds in range(0, 600, 7):
        for phase in (0, 59, 151, 299):
            due, ended = start, start + timedelta(seconds=seconds)
            following = five.slot_after(due, ended, phase=timedelta(seconds=phase))
            assert timedelta(minutes=2, seconds=30) <= following - ended <= timedelta(minutes=5)
