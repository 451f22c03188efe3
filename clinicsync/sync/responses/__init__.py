"""Patients' answers to reminders: interpretation, matching, recording and write-back."""
