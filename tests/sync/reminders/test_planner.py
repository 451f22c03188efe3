"""Planning from the event outbox, on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from sqlalchemy import select, update

from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.model import EventConsumer
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put

R = REMINDERS


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def rows(store: Store) -> dict[str, Any]:
    with store.engine.connect() as connection:
        return {r.key: r for r in connection.execute(select(R).order_by(R.c.id))}


def mark(store: Store, key: str, status: str) -> None:
    with store.engine.begin() as connection:
        connection.execute(update(R).where(R.c.key == key).values(status=status))


NO_QUIET = "quiet_hours: null\nagenda: {enabled: false}"


def test_a_booking_plans_a_confirmation_and_reminders_and_planning_twice_plans_nothing(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(NO_QUIET)
    now = utc("2026-03-01T15:00")
    put(store, appointment("A1", utc("2026-03-09T13:00")))  # 09:00 EDT, the day after the spring change
    report = plan(settings, store, now)
    assert report.as_dict() == {"planned": 4, "skipped": 0, "cancelled": 0, "events": 1, "replanned": 0}
    planned = rows(store)
    assert {k: (r.kind, r.offset, r.due_at) for k, r in planned.items()} == {
        "a1:patient:confirmation:v1": ("confirmation", None, now),
        "a1:patient:reminder:3d:v1": ("reminder", "3d", utc("2026-03-06T14:00")),  # 09:00 EST
        "a1:patient:reminder:1d:v1": ("reminder", "1d", utc("2026-03-08T13:00")),  # 09:00 EDT
        "a1:patient:reminder:1h:v1": ("reminder", "1h", utc("2026-03-09T12:00")),
    }
    assert {r.status for r in planned.values()} == {"pending"}
    assert plan(settings, store, now).as_dict() == {
        "planned": 0, "skipped": 0, "cancelled": 0, "events": 0, "replanned": 0}
    # Even re-reading the whole outbox plans nothing new: every row has a unique key.
    with store.engine.begin() as connection:
        connection.execute(update(EventConsumer.__table__).values(last_event_id=0))  # type: ignore[attr-defined]
    assert plan(settings, store, now).as_dict() == {
        "planned": 0, "skipped": 0, "cancelled": 0, "events": 1, "replanned": 0}
    assert len(rows(store)) == 4


def test_a_late_booking_skips_the_reminders_whose_time_has_passed_but_confirms(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(NO_QUIET)
    put(store, appointment("A1", utc("2026-05-04T16:00")))  # 12:00 EDT
    plan(settings, store, utc("2026-05-04T14:00"))  # booked two hours before
    planned = rows(store)
    assert (planned["a1:patient:confirmation:v1"].status, planned["a1:patient:reminder:1h:v1"].status) == (
        "pending", "pending")
    for offset in ("3d", "1d"):
        row = planned[f"a1:patient:reminder:{offset}:v1"]
        assert (row.status, row.reason) == ("skipped", "too late")
    # Booked ten minutes before: inside min_lead (15 min), even the 1 h reminder is too late.
    put(store, appointment("A2", utc("2026-05-04T16:00"), patient="P2"))
    plan(settings, store, utc("2026-05-04T15:50"))
    late = rows(store)
    assert late["a2:patient:reminder:1h:v1"].reason == "too late"
    assert late["a2:patient:confirmation:v1"].status == "pending"


def test_planning_that_runs_late_plans_from_when_the_booking_was_stored(
        store: Store, reminder_settings: SettingsMaker) -> None:
    """A sync stored a booking at 13:30 for 13:30 the next day and died before planning (a
    crash, a killed calendar write); the next pass, at 14:00, plans the 1d reminder at 13:30,
    due, for the dispatcher to send while it is in time, not `too late` as if the booking were
    new at 14:00 (simulation seed 122, 120 days). What was due before the booking was stored
    is still too late."""
    settings = reminder_settings(NO_QUIET)
    stored = utc("2026-05-04T17:30")
    with time_machine.travel(stored, tick=False):
        put(store, appointment("A1", utc("2026-05-05T17:30")))
    plan(settings, store, stored + timedelta(minutes=30))
    planned = rows(store)
    assert (planned["a1:patient:reminder:1d:v1"].status, planned["a1:patient:reminder:1d:v1"].due_at) == (
        "pending", stored)
    assert (planned["a1:patient:reminder:3d:v1"].status, planned["a1:patient:reminder:3d:v1"].reason) == (
        "skipped", "too late")
    assert planned["a1:patient:confirmation:v1"].due_at == stored + timedelta(minutes=30)


def test_quiet_hours_move_reminders_when_planning(store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings("quiet_hours: {start: '21:00', end: '08:00'}\nagenda: {enabled: false}")
    # Booked at 23:00 New York time for 08:30 the next morning.
    put(store, appointment("A1", utc("2026-01-13T13:30")))
    plan(settings, store, utc("2026-01-13T04:00"))
    planned = rows(store)
    confirmation = planned["a1:patient:confirmation:v1"]
    assert confirmation.due_at == utc("2026-01-13T13:00") and "08:00" in confirmation.note  # at 08:00 local
    assert planned["a1:patient:reminder:1h:v1"].due_at == utc("2026-01-13T13:00")  # 07:30 -> 08:00


def test_a_reschedule_inside_the_window_cancels_and_replans(store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(NO_QUIET)
    booked = appointment("A1", utc("2026-06-12T14:00"))  # Friday 10:00 EDT
    put(store, booked)
    plan(settings, store, utc("2026-06-08T16:00"))
    mark(store, "a1:patient:confirmation:v1", "sent")
    mark(store, "a1:patient:reminder:3d:v1", "sent")  # went out on Tuesday
    # On Wednesday the visit moves to Thursday 15:00 EDT.
    put(store, replace(booked, start=utc("2026-06-11T19:00"), end=utc("2026-06-11T19:30")))
    report = plan(settings, store, utc("2026-06-10T14:00"))
    planned = rows(store)
    assert report.cancelled == 2
    assert planned["a1:patient:reminder:1d:v1"].status == "cancelled"
    assert planned["a1:patient:reminder:1d:v1"].reason == "appointment moved"
    assert planned["a1:patient:reminder:1h:v1"].status == "cancelled"
    assert planned["a1:patient:reminder:3d:v1"].status == "sent"  # history stays
    assert planned["a1:patient:rescheduled:v2"].status == "pending"
    assert (planned["a1:patient:reminder:3d:v2"].status, planned["a1:patient:reminder:3d:v2"].reason) == (
        "skipped", "too late")
    assert planned["a1:patient:reminder:1d:v2"].due_at == utc("2026-06-10T19:00")
    assert planned["a1:patient:reminder:1h:v2"].due_at == utc("2026-06-11T18:00")
    assert plan(settings, store, utc("2026-06-10T14:00")).planned == 0


def test_a_reschedule_before_the_confirmation_went_keeps_one_confirmation(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(NO_QUIET)
    booked = appointment("A1", utc("2026-06-12T14:00"))
    put(store, booked)
    plan(settings, store, utc("2026-06-01T16:00"))
    put(store, replace(booked, start=utc("2026-06-15T14:00"), end=utc("2026-06-15T14:30")))
    plan(settings, store, utc("2026-06-01T17:00"))
    planned = rows(store)
    kinds = [(r.kind, r.status) for r in planned.values() if r.kind != "reminder"]
    assert kinds == [("confirmation", "pending")]  # it renders the new time; no reschedule notice
    live = sorted(r.due_at for r in planned.values() if r.kind == "reminder" and r.status == "pending")
    assert live == [utc("2026-06-12T14:00"), utc("2026-06-14T14:00"), utc("2026-06-15T13:00")]


def test_a_cancellation_sends_one_notice_and_cancels_what_was_pending(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(NO_QUIET)
    booked = appointment("A1", utc("2026-06-12T14:00"))
    put(store, booked)
    plan(settings, store, utc("2026-06-01T16:00"))
    mark(store, "a1:patient:confirmation:v1", "sent")
    put(store, replace(booked, status="cancelled"))
    report = plan(settings, store, utc("2026-06-02T16:00"))
    assert report.cancelled == 3 and report.planned == 1
    planned = rows(store)
    notices = [r for r in planned.values() if r.kind == "cancelled"]
    assert [(r.key, r.status) for r in notices] == [("a1:patient:cancelled:v2", "pending")]
    assert {r.status for r in planned.values() if r.kind == "reminder"} == {"cancelled"}
    assert plan(settings, store, utc("2026-06-02T16:05")).planned == 0
    # Booked again: a new confirmation and new reminders.
    put(store, booked)
    plan(settings, store, utc("2026-06-03T16:00"))
    again = rows(store)
    assert again["a1:patient:confirmation:v3"].status == "pending"
    assert again["a1:patient:reminder:1d:v3"].status == "pending"


def test_booked_and_cancelled_before_planning_sends_nothing(store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(NO_QUIET)
    booked = appointment("A1", utc("2026-06-12T14:00"))
    put(store, booked)
    put(store, replace(booked, status="cancelled"))
    put(store, appointment("A2", utc("2026-06-12T15:00"), status="cancelled", patient="P2"))  # imported cancelled
    assert plan(settings, store, utc("2026-06-01T16:00")).as_dict() == {
        "planned": 0, "skipped": 0, "cancelled": 0, "events": 3, "replanned": 0}


def test_type_overrides(store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(NO_QUIET + "\ntypes:\n  Vaccination: {offsets: [2h], confirmation: false}")
    put(store, appointment("A1", utc("2026-06-12T14:00"), type="Vaccination"))
    plan(settings, store, utc("2026-06-01T16:00"))
    assert list(rows(store)) == ["a1:patient:reminder:2h:v1"]


def test_doctors_get_a_daily_agenda_and_same_day_change_notices(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings("quiet_hours: null\nagenda: {enabled: true, at: '07:00', same_day_changes: true}")
    now = utc("2026-06-10T12:00")  # 08:00 in New York
    put(store, appointment("A1", utc("2026-06-10T18:00")),  # today 14:00
        appointment("A2", utc("2026-06-11T13:00"), patient="P2"),  # tomorrow
        appointment("A3", utc("2026-06-11T14:00"), patient="P3", doctor="D2", doctor_email=None))
    plan(settings, store, now)
    planned = rows(store)
    agendas = {k: r.due_at for k, r in planned.items() if r.kind == "agenda"}
    assert agendas == {"agenda:c1:D1:2026-06-10": utc("2026-06-10T11:00"),
                       "agenda:c1:D1:2026-06-11": utc("2026-06-11T11:00")}  # D2 has no email
    assert "a1:practitioner:confirmation:v1" in planned  # booked for today
    assert "a2:practitioner:confirmation:v1" not in planned
    assert plan(settings, store, now).planned == 0
