"""A visit's zone fixed after go-live re-times its pending reminders through the quiet hours
again (issue 57 obs 6): a source read in the wrong zone (naive UTC taken as the visit's zone) is
corrected months after go-live; a reminder planned by the old zone's clock and quiet hours must
land where the new zone allows, in time to be sent — not at 03:00 local, nor at the very last
minute a dispatch can still send it. In simulated time: the store, the planner and the
dispatcher at given moments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from clinicsync.common.timeutil import zone
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put
from tests.sync.reminders.fakes import read_log

NY = "America/New_York"
SECTION = "agenda: {enabled: false}\nconfirmation: false\noffsets: [1d, 1h]\nchannels: [sms]\n" \
          "routes: {sms: texts, email: mails}\nquiet_hours: {start: '21:00', end: '08:00'}\n"
BOOKED_AT = datetime(2026, 6, 1, 16, tzinfo=UTC)
FIXED_AT = datetime(2026, 6, 5, 16, tzinfo=UTC)
START = datetime(2026, 6, 12, 12, 15, tzinfo=UTC)  # 08:15 in New York (EDT)


def pending(store: Store, offset: str) -> tuple[datetime, str | None]:
    with store.engine.connect() as connection:
        rows = connection.execute(select(REMINDERS.c.due_at, REMINDERS.c.note).where(
            REMINDERS.c.offset == offset, REMINDERS.c.status == "pending")).all()
    [(due, note)] = rows
    return due, note


def local(moment: datetime) -> str:
    return moment.astimezone(zone(NY)).strftime("%H:%M")


def quiet_in_new_york(moment: datetime) -> bool:
    clock = moment.astimezone(zone(NY)).time()
    return clock.hour >= 21 or clock.hour < 8


@pytest.mark.parametrize("wrong", ["UTC", "Europe/Berlin"])
def test_a_zone_fixed_after_go_live_re_times_pending_reminders_through_the_quiet_hours(
        wrong: str, store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """The same instant, its zone corrected (a source that stores UTC, once read as if UTC were the
    visit's zone): the reminders planned by the old zone's clock are placed again by New York's."""
    settings = reminder_settings(SECTION)
    put(store, appointment("A1", START, zone=wrong))
    plan(settings, store, BOOKED_AT)
    put(store, appointment("A1", START, zone=NY))  # the fix: same instant, the visit's own zone
    plan(settings, store, FIXED_AT)
    due, note = pending(store, "1h")
    # 07:15 New York is inside its quiet hours: moved out of them, before the visit, with room to send.
    assert not quiet_in_new_york(due) and due < START - timedelta(minutes=15), local(due)
    assert note is not None and "quiet hours" in note
    day_before, _ = pending(store, "1d")
    assert local(day_before) == "08:15" and not quiet_in_new_york(day_before)  # the day before, at the visit's hour
    # 08:00 would leave no room (a pass at 08:00:30 finds it too late): it goes the evening before.
    assert local(due) == "20:59"
    sent = Dispatcher(settings, store, due).run().as_dict()
    assert sent["sent"] == 1, sent
    assert [line["key"].split(":")[3] for line in read_log(tmp_path / "texts.jsonl")] == ["1h"]


def test_a_zone_setting_fixed_after_go_live_keeps_the_wall_time_and_the_quiet_hours(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """The same wall time, its zone corrected (a source's `timezone:` fixed): the visit's UTC start
    moves, its reminders are planned again for it, through New York's quiet hours."""
    settings = reminder_settings(SECTION)
    wrong_start = START.astimezone(zone(NY)).replace(tzinfo=None).replace(tzinfo=UTC)  # 08:15 read as UTC
    put(store, appointment("A1", wrong_start, zone="UTC"))
    plan(settings, store, BOOKED_AT)
    put(store, appointment("A1", START, zone=NY))
    plan(settings, store, FIXED_AT)
    due, _ = pending(store, "1h")
    assert not quiet_in_new_york(due) and due < START - timedelta(minutes=15), local(due)
    sent = Dispatcher(settings, store, due).run().as_dict()
    assert sent["sent"] == 1, sent
