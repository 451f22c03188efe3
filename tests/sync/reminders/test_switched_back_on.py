"""Reminders switched off for months, then on again (docs/operations.md "A stage switched
off"): while off, the planner's offset holds nothing, so the events of visits forgotten meanwhile
go; switched back on, the patients of visits ahead get what they were not told, and nothing is
sent about a visit already past. On SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select, update

from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.outbox import EVENTS
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put

NO_QUIET = "quiet_hours: null\nagenda: {enabled: false}"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def at(moment: str, store: Store, *visits: object) -> None:
    with time_machine.travel(utc(moment), tick=False):
        put(store, *visits)  # type: ignore[arg-type]


def test_reminders_switched_back_on_tell_what_is_ahead_and_nothing_about_the_past(
    store: Store, reminder_settings: SettingsMaker
) -> None:
    from clinicsync.sync.store.tables import live_consumers  # here: the tests of this module also run on main's code

    on = reminder_settings(NO_QUIET)
    off = reminder_settings(NO_QUIET + "\nenabled: false")
    moved = appointment("A1", utc("2027-09-10T14:00"))
    cancelled = appointment("A2", utc("2027-06-20T14:00"), patient="P2")
    at("2027-06-01T15:00", store, moved, cancelled)
    with time_machine.travel(utc("2027-06-01T15:00"), tick=False):
        plan(on, store)
    with store.engine.begin() as c:  # both confirmations went in June
        c.execute(update(REMINDERS).where(REMINDERS.c.kind == "confirmation").values(status="sent"))

    # Switched off on June 2nd: the source moves A1, cancels A2, books A3 (past by September) and A4.
    at("2027-06-05T15:00", store, replace(moved, start=utc("2027-09-12T14:00"), end=utc("2027-09-12T14:30")))
    at("2027-06-06T15:00", store, replace(cancelled, status="cancelled"))
    at("2027-06-10T15:00", store, appointment("A3", utc("2027-07-01T14:00"), patient="P3"))
    at("2027-08-20T15:00", store, appointment("A4", utc("2027-09-20T14:00"), patient="P4"))
    assert plan(off, store, utc("2027-08-21T15:00")).events == 0  # off: reads nothing

    keeper = Store(store.engine, patient_keep=timedelta(days=30))
    with store.engine.connect() as c:
        before = c.execute(select(EVENTS.c.id)).scalars().all()
    forgotten = keeper.forget_patient_data(utc("2027-09-01T06:00"), consumers=live_consumers(off))
    assert forgotten.appointments == 2 and forgotten.events == 3  # A2's booking and cancellation, A3's booking
    with store.engine.connect() as c:
        assert len(c.execute(select(EVENTS.c.id)).scalars().all()) == len(before) - 3

    with time_machine.travel(utc("2027-09-01T15:00"), tick=False):
        report = plan(on, store)
    assert report.events == 2  # A1's move and A4's booking: what is left past its offset
    with store.engine.connect() as c:
        new = {
            r.key: (r.kind, r.status)
            for r in c.execute(select(REMINDERS).where(REMINDERS.c.created_at >= utc("2027-09-01T00:00")))
        }
    assert new["a1:patient:rescheduled:v2"] == ("rescheduled", "pending")  # told of the move it missed
    assert new["a4:patient:confirmation:v1"] == ("confirmation", "pending")
    assert {new[f"a4:patient:reminder:{o}:v1"] for o in ("3d", "1d", "1h")} == {("reminder", "pending")}
    assert not [key for key in new if key.startswith(("a2:", "a3:"))]  # nothing about a visit past
