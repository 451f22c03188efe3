"""Fixtures shared with the reminder and notifier tests: the scripted notifier plugin, the
settings maker, and a vendor's API faked on loopback."""

from tests.notifiers.conftest import fake_api
from tests.sync.reminders.conftest import reminder_settings, scripted

__all__ = ["fake_api", "reminder_settings", "scripted"]
