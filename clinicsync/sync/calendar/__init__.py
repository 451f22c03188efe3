"""Doctors' calendars: the store's appointments pushed to Google Calendar (or .ics files),
each exactly once, moved and removed as the source changes. See docs/calendar.md."""
