"""Plans follow the settings: changing offsets, per-type overrides, confirmation or quiet
hours re-plans what is still pending on the next planning pass (or dispatcher start),
idempotently, and never touches what was already sent. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.model.reminders import PLANS, REMINDERS
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put, states
from tests.sync.reminders.fakes import read_log

R = REMINDERS
BASE = "agenda: {enabled: false}\nquiet_hours: null\nchannels: [sms]\nroutes: {sms: texts}\n"
BOOKED_AT = datetime(2026, 6, 1, 16, tzinfo=UTC)
START = datetime(2026, 6, 12, 14, tzinfo=UTC)  # Friday 10:00 in New York


def row(store: Store, key: str) -> Any:
    with store.engine.connect() as connection:
        return connection.execute(select(R).where(R.c.key == key)).one()


def test_dropping_an_offset_cancels_its_pending_reminders_and_it_is_never_sent(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    before = reminder_settings(BASE + "offsets: [3d, 1d, 1h]")
    put(store, appointment("A1", START), appointment("A2", START + timedelta(hours=1), patient="P2"))
    plan(before, store, BOOKED_AT)
    assert states(store)["a1:patient:reminder:1h:v1"] == ("pending", None)
    after = reminder_settings(BASE + "offsets: [3d, 1d]")
    report = plan(after, store, BOOKED_AT + timedelta(hours=1))
    assert (report.cancelled, report.planned, report.replanned) == (2, 0, 2)
    for key in ("a1:patient:reminder:1h:v1", "a2:patient:reminder:1h:v1"):
        assert states(store)[key] == ("cancelled", "settings changed")
    assert states(store)["a1:patient:reminder:1d:v1"] == ("pending", None)
    # Idempotent: the same settings again change nothing.
    assert plan(after, store, BOOKED_AT + timedelta(hours=2)).as_dict() == {
        "planned": 0, "skipped": 0, "cancelled": 0, "events": 0, "replanned": 0}
    # Nothing of the dropped offset goes out, even when its time comes.
    Dispatcher(after, store, START - timedelta(hours=23)).run()
    Dispatcher(after, store, START - timedelta(minutes=59)).run()
    sent = {line["key"] for line in read_log(tmp_path / "texts.jsonl")}
    assert not any(key.endswith(":1h:v1") for key in sent)
    assert "a1:patient:reminder:1d:v1" in sent


def test_adding_an_offset_plans_it_for_what_is_ahead_and_restoring_one_revives_it(
        store: Store, reminder_settings: SettingsMaker) -> None:
    three = reminder_settings(BASE + "offsets: [3d, 1d, 1h]")
    put(store, appointment("A1", START))
    plan(three, store, BOOKED_AT)
    plan(reminder_settings(BASE + "offsets: [3d, 1d]"), store, BOOKED_AT)
    report = plan(reminder_settings(BASE + "offsets: [3d, 1d, 2h, 1h]"), store, BOOKED_AT)
    assert (report.planned, report.cancelled) == (2, 0)
    assert states(store)["a1:patient:reminder:1h:v1"] == ("pending", None)  # the same row, revived
    assert row(store, "a1:patient:reminder:2h:v1").due_at == START - timedelta(hours=2)
    # An offset whose time has passed is not planned at all (and no confirmation is added).
    late = BOOKED_AT + timedelta(days=10)  # 2026-06-11 16:00 UTC, a day before the visit
    report = plan(reminder_settings(BASE + "offsets: [3d, 1d, 2h, 1h, 30m, 5d]"), store, late)
    assert report.planned == 1 and "a1:patient:reminder:5d:v1" not in states(store)
    assert [k for k in states(store) if ":confirmation:" in k] == ["a1:patient:confirmation:v1"]


def test_sent_reminders_are_never_touched_and_past_visits_are_left_alone(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE + "offsets: [3d, 1d]")
    put(store, appointment("A1", START), appointment("A0", BOOKED_AT + timedelta(hours=3), patient="P0"))
    plan(settings, store, BOOKED_AT)
    with store.engine.begin() as connection:
        connection.execute(update(R).where(R.c.key == "a1:patient:reminder:3d:v1").values(status="sent"))
    plan(reminder_settings(BASE + "offsets: [2h]"), store, BOOKED_AT + timedelta(days=5))
    now = states(store)
    assert now["a1:patient:reminder:3d:v1"] == ("sent", None)
    assert now["a1:patient:reminder:1d:v1"] == ("cancelled", "settings changed")
    assert now["a1:patient:reminder:2h:v1"] == ("pending", None)
    assert "a2:patient:reminder:2h:v1" not in now  # A0 (id 2) is over: nothing planned for it


def test_a_type_that_no_longer_confirms_cancels_the_pending_confirmation(
        store: Store, reminder_settings: SettingsMaker) -> None:
    put(store, appointment("A1", START, type="Vaccination"))
    plan(reminder_settings(BASE + "offsets: [1d]"), store, BOOKED_AT - timedelta(days=1))
    plan(reminder_settings(BASE + "offsets: [1d]\ntypes:\n  Vaccination: {offsets: [2d], confirmation: false}"),
         store, BOOKED_AT)
    assert states(store) == {
        "a1:patient:confirmation:v1": ("cancelled", "settings changed"),
        "a1:patient:reminder:1d:v1": ("cancelled", "settings changed"),
        "a1:patient:reminder:2d:v1": ("pending", None),
    }


def test_new_quiet_hours_move_pending_reminders(store: Store, reminder_settings: SettingsMaker) -> None:
    early = datetime(2026, 6, 12, 11, 30, tzinfo=UTC)  # 07:30 in New York
    put(store, appointment("A1", early))
    plan(reminder_settings(BASE + "offsets: [1h]"), store, BOOKED_AT)
    assert row(store, "a1:patient:reminder:1h:v1").due_at == early - timedelta(hours=1)  # 06:30 local
    plan(reminder_settings(BASE.replace("quiet_hours: null", "quiet_hours: {start: '21:00', end: '07:00'}")
                           + "offsets: [1h]"), store, BOOKED_AT)
    moved = row(store, "a1:patient:reminder:1h:v1")
    assert moved.due_at == datetime(2026, 6, 12, 11, tzinfo=UTC) and "07:00" in moved.note  # 07:00 local


def test_the_dispatcher_follows_changed_settings_before_sending(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    put(store, appointment("A1", START))
    plan(reminder_settings(BASE + "offsets: [1d, 1h]"), store, BOOKED_AT)
    Dispatcher(reminder_settings(BASE + "offsets: [1d]"), store, START - timedelta(minutes=30)).run()
    assert states(store)["a1:patient:reminder:1h:v1"] == ("cancelled", "settings changed")
    assert not any(line["key"].endswith(":1h:v1") for line in read_log(tmp_path / "texts.jsonl"))


def test_the_fingerprint_is_recorded_once_and_a_store_planned_before_it_is_replanned(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE + "offsets: [1d]")
    put(store, appointment("A1", START))
    assert plan(settings, store, BOOKED_AT).replanned == 0  # a fresh store: just recorded
    with store.engine.connect() as connection:
        assert len(connection.execute(select(PLANS)).all()) == 1
    # A store planned by a version without fingerprints (no row): its pending plans are checked once.
    with store.engine.begin() as connection:
        connection.execute(PLANS.delete())
    report = plan(reminder_settings(BASE + "offsets: [2d]"), store, BOOKED_AT)
    assert report.replanned == 1 and states(store)["a1:patient:reminder:1d:v1"][0] == "cancelled"


def test_a_settings_change_leaves_a_notice_waiting_out_its_retry_where_it_is(
        store: Store, reminder_settings: SettingsMaker) -> None:
    """A confirmation the provider refused waits out its backoff (or the provider's
    Retry-After) as a pending row due later; a settings change is no reason to send it sooner
    (only a notice held back by the quiet hours is placed again)."""
    extra = "confirmation: true\nretry_backoff: 30m\n"
    down = reminder_settings(BASE + extra + "offsets: [3d, 1d]", outcomes='{"+12125550101": retryable}')
    put(store, appointment("A1", START))
    plan(down, store, BOOKED_AT)
    key = "a1:patient:confirmation:v1"
    assert Dispatcher(down, store, BOOKED_AT).run().retrying == 1
    assert row(store, key).due_at == BOOKED_AT + timedelta(minutes=30)
    plan(reminder_settings(BASE + extra + "offsets: [1d]", outcomes='{"+12125550101": retryable}'), store,
         BOOKED_AT + timedelta(minutes=5))
    waiting = row(store, key)
    assert (waiting.status, waiting.due_at) == ("pending", BOOKED_AT + timedelta(minutes=30))
    assert waiting.reason.startswith("will retry")
