"""The reminder fixtures (scripted notifier plugin, settings maker) are shared with these tests."""

from tests.sync.reminders.conftest import reminder_settings, scripted

__all__ = ["reminder_settings", "scripted"]
