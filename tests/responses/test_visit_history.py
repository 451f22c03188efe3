"""A visit's history says what happened, once (issue 67, observation 1): a patient's SMS decline
then the desk's cancel are exactly those two events, on the History page and in
`appointments show` alike; nobody is said to have phoned. Through the real reply handler and
the real desk action."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from clinicsync.sync.cli.appointments import appointment_story
from clinicsync.sync.desk.actions import record_action, seen_of, undo_action
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui.queries import timeline
from tests.sync.reminders.conftest import SettingsMaker, appointment, put

A = Appointment.__table__  # type: ignore[attr-defined]
NOW = datetime(2026, 6, 1, 16, tzinfo=UTC)
START = datetime(2026, 6, 12, 14, tzinfo=UTC)
BASE = ("quiet_hours: null\nagenda: {enabled: false}\noffsets: [1d]\nchannels: [sms]\n"
        "routes: {sms: texts}\nconfirmation: false")


def _who(items: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(i["title"], i["detail"]) for i in items if i["what"] in ("answer", "request", "desk")]


def test_a_desk_cancel_after_an_sms_decline_is_those_two_events(store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE)
    put(store, appointment("A1", START))
    plan(settings, store, NOW)
    with store.engine.connect() as connection:
        target = connection.execute(select(A.c.id)).scalar_one()
    assert handle_reply(settings, store, "sms", "+12125550101", "NO", "SM1", NOW).outcome == "applied"
    record_action(settings, store, target, "cancel", "deskmain", "front_desk", NOW + timedelta(minutes=1),
                  seen=seen_of(store, [target])[target].digest, reason="patient_asked")
    rows = _who(timeline(store, target, full=True))
    assert rows == [("patient declined", "by SMS reply"),
                    ("front desk: cancelled", "recorded by user deskmain; reason: the patient asked to cancel")], rows
    assert not any("phone" in str(detail) for _, detail in rows)
    story = appointment_story(store, "c1", "A1")
    assert [(a["by"], a["action"], a["how"]) for a in story["answers"]] == [("patient", "decline", "by SMS reply")]
    assert [(d["action"], d["user"]) for d in story["desk_actions"]] == [("cancel", "deskmain")]


def test_a_desk_confirmation_is_one_phone_call_and_its_undo_stays_on_the_same_row(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE)
    put(store, appointment("A1", START))
    with store.engine.connect() as connection:
        target = connection.execute(select(A.c.id)).scalar_one()
    done = record_action(settings, store, target, "confirmed_by_phone", "deskmain", "front_desk", NOW,
                         seen=seen_of(store, [target])[target].digest)
    assert done is not None
    assert _who(timeline(store, target, full=True)) == [
        ("front desk: confirmed by phone", "by phone, recorded by user deskmain")]
    seen = seen_of(store, [target])[target].digest
    undo_action(settings, store, done["id"], "desk2", NOW + timedelta(minutes=2), seen)
    assert _who(timeline(store, target, full=True)) == [
        ("front desk: confirmed by phone", "by phone, recorded by user deskmain; undone by user desk2")]
