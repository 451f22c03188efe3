"""A planned message is named by what it is (issue 67, observation 9): a 1 h reminder that
quiet hours moved to the evening before an 8:00 AM visit reads "evening-before reminder
(quiet hours)" in the visit's History, not "1 h reminder". Through the real planner."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clinicsync.sync.reminders.names import message_name
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui.queries import timeline
from tests.sync.reminders.conftest import SettingsMaker, appointment, put

A = Appointment.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 6, 1, 16, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")
QUIET = ("quiet_hours: {start: '21:00', end: '08:00'}\nagenda: {enabled: false}\noffsets: [1h, 2d]\n"
         "channels: [sms]\nroutes: {sms: texts}\nconfirmation: false")


def test_a_reminder_quiet_hours_moved_is_named_by_when_it_goes(store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(QUIET)
    put(store, appointment("A1", datetime(2026, 6, 12, 8, tzinfo=NEW_YORK)))  # 8:00 AM: 7:00 is quiet
    plan(settings, store, NOW)
    with store.engine.connect() as connection:
        target = connection.execute(select(A.c.id)).scalar_one()
    titles = sorted(i["title"] for i in timeline(store, target) if i["what"] == "reminder")
    assert titles == ["planned 2 d reminder to patient", "planned evening-before reminder (quiet hours) to patient"]


def test_names_by_when_the_message_goes() -> None:
    start = datetime(2026, 6, 12, 8, tzinfo=NEW_YORK)
    assert message_name("reminder", "1h", datetime(2026, 6, 12, 7, tzinfo=NEW_YORK), start, NEW_YORK) == "1 h reminder"
    assert message_name("reminder", "3h", datetime(2026, 6, 12, 5, tzinfo=NEW_YORK), start, NEW_YORK) == "3 h reminder"
    assert message_name("reminder", "1d", datetime(2026, 6, 11, 8, tzinfo=NEW_YORK), start, NEW_YORK) == "24 h reminder"
    moved = datetime(2026, 6, 11, 20, 59, tzinfo=NEW_YORK)
    assert message_name("reminder", "1h", moved, start, NEW_YORK) == "evening-before reminder (quiet hours)"
    late = datetime(2026, 6, 12, 18, tzinfo=NEW_YORK)
    assert message_name("reminder", "2h", datetime(2026, 6, 12, 8, tzinfo=NEW_YORK), late, NEW_YORK) == \
        "same-day reminder (quiet hours)"
    assert message_name("confirmation", None) == "confirmation"
