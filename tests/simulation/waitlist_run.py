"""The clinic simulation with a waitlist (issue 33): the reminder run of run.py, plus at every
tick the waitlist stage (``run_waitlist``; tests/simulation/waitlist.py says what it is
expected to do), simulated patients accepting offers, and the booking stage; then the
waitlist oracle's verdict on every offer."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_OFFERS
from clinicsync.sync.waitlist.book import run_booking
from clinicsync.sync.waitlist.stage import run_waitlist
from tests.simulation import clinic
from tests.simulation.clinic import Worker
from tests.simulation.run import Driver, quiet_logs
from tests.simulation.scenario import Scenario
from tests.simulation.verdict import Verdict
from tests.simulation.waitlist import (
    SETTINGS_YAML,
    WaitlistVerdict,
    accept,
    entries_for,
    judge_waitlist,
    read_rows,
    seed_entries,
)

ACCEPT_CHANCE = 0.7  # a patient who holds an offer takes it at the next tick, or lets it run


class WaitlistDriver(Driver):
    def __init__(self, scenario: Scenario, store_url: str, folder: Path) -> None:
        super().__init__(scenario, store_url, folder)
        self.calendar = None  # waitlist bookings are appointments the calendar oracle's scenario does not hold
        self.entries = entries_for(scenario)
        self.seeded = False
        self.rng = random.Random(f"waitlist-accept-{scenario.seed}")

    def write_settings(self, offsets: list[str]) -> None:
        self.folders.settings.write_text(clinic.settings_text(self.folders, self.store_url, offsets) + SETTINGS_YAML)

    def after_tick(self, worker: Worker, now: datetime) -> None:
        if not self.seeded:
            seed_entries(worker.store, self.entries, now)
            self.seeded = True
        run_waitlist(worker.settings, worker.store, now)
        with worker.store.engine.connect() as connection:
            held = connection.execute(
                select(WAITLIST_OFFERS.c.id, WAITLIST_OFFERS.c.slot_id)
                .join(FREED_SLOTS, FREED_SLOTS.c.id == WAITLIST_OFFERS.c.slot_id)
                .where(WAITLIST_OFFERS.c.status == "sent", FREED_SLOTS.c.status == "open")
                .order_by(WAITLIST_OFFERS.c.slot_id, WAITLIST_OFFERS.c.rank)).all()
        for offer_id, _slot in held:
            if self.rng.random() < ACCEPT_CHANCE:
                accept(worker.store, offer_id, now)
        run_booking(worker.settings, worker.store, now)

    def run_waitlist(self) -> tuple[Verdict, WaitlistVerdict]:
        reminders = self.run()
        worker = Worker(self.folders, self.folders.home)
        try:
            rows = read_rows(worker.store)
        finally:
            worker.close()
        return reminders, judge_waitlist(self.s, self.entries, rows)


def simulate_waitlist(scenario: Scenario, store_url: str, folder: Path) -> tuple[Verdict, WaitlistVerdict]:
    quiet_logs()
    return WaitlistDriver(scenario, store_url, folder).run_waitlist()
