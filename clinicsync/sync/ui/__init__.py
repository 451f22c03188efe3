"""The status page at /ui: health, appointments, reminders and charts, server-rendered."""
