"""Fixtures shared with the reminder tests: the scripted notifier plugin and the settings maker."""

from tests.sync.reminders.conftest import reminder_settings, scripted

__all__ = ["reminder_settings", "scripted"]
