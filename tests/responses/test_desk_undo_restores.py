"""The desk's Undo of a cancel restores every message the cancel stopped, a notice due this
very minute included: the desk cancels a visit booked a moment ago and takes it back at once,
and the patient still gets the booking's confirmation. The dispatcher, not the undo, judges
what has become too late (a reminder past its bound is skipped there, as any other)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from clinicsync.sync.desk.actions import record_action, seen_of, undo_action
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put

A = Appointment.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 6, 1, 16, tzinfo=UTC)
START = datetime(2026, 6, 12, 14, tzinfo=UTC)
BASE = ("quiet_hours: null\nagenda: {enabled: false}\noffsets: [1d]\nchannels: [sms, email]\n"
        "routes: {sms: texts, email: mails}\nconfirmation: true")


def _patients(store: Store) -> dict[str, str]:
    with store.engine.connect() as connection:
        return {r.kind: r.status for r in connection.execute(select(REMINDERS.c.kind, REMINDERS.c.status).where(
            REMINDERS.c.recipient == "patient"))}


def test_undo_of_a_cancel_gives_back_a_confirmation_due_now_and_the_reminders_ahead(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE)
    put(store, appointment("A1", START))
    plan(settings, store, NOW)
    assert _patients(store) == {"confirmation": "pending", "reminder": "pending"}
    with store.engine.connect() as connection:
        target = connection.execute(select(A.c.id)).scalar_one()
    row = record_action(settings, store, target, "cancel", "desk1", "front_desk", NOW,
                        seen=seen_of(store, [target])[target].digest, reason="patient_asked")
    assert row is not None and _patients(store) == {"confirmation": "cancelled", "reminder": "cancelled"}
    undo_action(settings, store, int(row["id"]), "desk1", NOW + timedelta(seconds=20),
                seen_of(store, [target])[target].digest)
    assert _patients(store) == {"confirmation": "pending", "reminder": "pending"}
