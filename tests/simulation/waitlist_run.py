"""The clinic simulation with a waitlist: the reminder run of run.py with the WAITLIST actors
(tests/simulation/waitlist_actors.py: the stage, patients taking offers, the booking stage, the
desk's waitlist tasks), then both oracles' verdicts: the messages (the waitlist's checked by
waitlist_messages.py) and every offer's row (tests/simulation/waitlist.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.simulation.faults import Fault
from tests.simulation.run import Driver, quiet_logs
from tests.simulation.scenario import Scenario
from tests.simulation.verdict import Verdict
from tests.simulation.waitlist import WaitlistVerdict, judge_waitlist


def simulate_waitlist(scenario: Scenario, store_url: str, folder: Path) -> tuple[Verdict, WaitlistVerdict]:
    quiet_logs()
    driver = Driver(replace(scenario, faults=scenario.faults | {Fault.WAITLIST}), store_url, folder)
    reminders = driver.run()
    assert driver.waitlist is not None
    return reminders, judge_waitlist(driver.s, driver.waitlist.entries, driver.waitlist_rows)
