"""A visit that has begun gets no further reminder (issue 57 obs 6): a patient checked in at the
desk still got the 1-hour "see you at 10:00 — Confirm" SMS. Once the source says arrived,
checked-in or fulfilled (or no-show), the patient's pending reminders and notices are cancelled
with a reason naming the status; the dispatcher holds the same line for a change planning has
not seen yet (a push between two planning passes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put, states
from tests.sync.reminders.fakes import read_log

SECTION = "quiet_hours: null\nagenda: {enabled: false}\noffsets: [1d, 1h]\nchannels: [sms]\n" \
          "routes: {sms: texts, email: mails}\nnotices: {followup: {enabled: true}}\n"
BOOKED_AT = datetime(2026, 6, 1, 16, tzinfo=UTC)
START = datetime(2026, 6, 12, 15, tzinfo=UTC)  # 11:00 in New York


def step(settings: Settings, store: Store, at: datetime, *appointments: NormalizedAppointment,
         planning: bool = True) -> dict[str, int]:
    if appointments:
        put(store, *appointments)
    if planning:
        plan(settings, store, at)
    return Dispatcher(settings, store, at).run().as_dict()


def texts(tmp_path: Path) -> list[str]:
    return [line["key"].split(":")[2] for line in read_log(tmp_path / "texts.jsonl")]


def row(store: Store, prefix: str) -> tuple[str, str | None]:
    [found] = [value for key, value in states(store).items() if key.startswith(prefix)]
    return found


@pytest.mark.parametrize("status", ["arrived", "checked-in", "fulfilled", "noshow"])
@pytest.mark.parametrize("planning", [True, False], ids=["planned", "before-planning"])
def test_a_visit_under_way_gets_no_further_reminder(
        status: str, planning: bool, store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(SECTION)
    step(settings, store, BOOKED_AT, appointment("A1", START))
    step(settings, store, START - timedelta(days=1))
    assert texts(tmp_path) == ["confirmation", "reminder"]  # the 1-day reminder went
    early = START - timedelta(minutes=75)  # the patient is at the desk an hour and a quarter early
    step(settings, store, early, appointment("A1", START, status=status), planning=planning)
    assert step(settings, store, START - timedelta(hours=1), planning=planning)["sent"] == 0
    assert texts(tmp_path) == ["confirmation", "reminder"]
    status_word, reason = row(store, "a1:patient:reminder:1h:")
    assert status_word in ("cancelled", "skipped") and reason is not None
    assert reason == ("no-show" if status == "noshow" else f"visit under way: {status}")


def test_a_fulfilled_visit_still_gets_its_follow_up(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """What comes after the visit is not a reminder: the follow-up of a fulfilled one still goes."""
    settings = reminder_settings(SECTION)
    step(settings, store, BOOKED_AT, appointment("A1", START))
    step(settings, store, START + timedelta(minutes=40), appointment("A1", START, status="fulfilled"))
    step(settings, store, START + timedelta(days=1))
    assert texts(tmp_path)[-1] == "followup"
    assert row(store, "a1:patient:reminder:1h:")[1] is not None  # never sent
