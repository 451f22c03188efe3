"""Fixtures shared with other test folders: the reminder fixtures (scripted notifier
plugin, settings maker) and the loopback FHIR server."""

from tests.connectors.conftest import fhir_server, retry_sleeps
from tests.sync.reminders.conftest import reminder_settings, scripted

__all__ = ["fhir_server", "reminder_settings", "retry_sleeps", "scripted"]
