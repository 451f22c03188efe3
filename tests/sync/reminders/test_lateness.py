"""Lateness is bounded: a dispatcher that was down sends one reminder per appointment (the
latest one still in time), skips the earlier ones as `superseded` and the stale ones as
`too late`; every planned row still ends in a final state with its reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from clinicsync.sync.config.settings.reminders import Offset
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put, states
from tests.sync.reminders.fakes import read_log

R = REMINDERS
BASE = "agenda: {enabled: false}\nquiet_hours: null\nchannels: [sms]\nroutes: {sms: texts}\nconfirmation: false\n"
BOOKED_AT = datetime(2026, 6, 1, 16, tzinfo=UTC)
START = datetime(2026, 6, 12, 14, tzinfo=UTC)  # Friday 10:00 in New York


def sent_keys(tmp_path: Path) -> list[str]:
    log = tmp_path / "texts.jsonl"
    return [line["key"] for line in read_log(log)] if log.exists() else []


def reminder(store: Store, key: str) -> Any:
    with store.engine.connect() as connection:
        return connection.execute(select(R).where(R.c.key == key)).one()


def run(settings: Any, store: Store, at: datetime) -> Any:
    return Dispatcher(settings, store, at).run()


def test_a_dispatcher_down_for_a_day_sends_one_reminder_per_appointment(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(BASE + "offsets: [3d, 1d, 1h]")
    put(store, *(appointment(f"A{i}", START, patient=f"P{i}") for i in range(3)))
    plan(settings, store, BOOKED_AT)
    run(settings, store, START - timedelta(days=3, minutes=-1))  # the 3d reminders went out on time
    assert len(sent_keys(tmp_path)) == 3
    # Down from then until ten minutes after the 1h reminders came due.
    report = run(settings, store, START - timedelta(minutes=50))
    assert (report.sent, report.skipped) == (3, 3)
    assert sorted(sent_keys(tmp_path)[3:]) == [f"a{i}:patient:reminder:1h:v1" for i in (1, 2, 3)]
    for i in (1, 2, 3):
        assert states(store)[f"a{i}:patient:reminder:1d:v1"] == ("skipped", "superseded")
    # Never twice, never lost: every row ended, nothing is left to send.
    assert {status for status, _ in states(store).values()} == {"sent", "skipped"}
    assert run(settings, store, START - timedelta(minutes=20)).sent == 0


def test_the_later_reminder_supersedes_only_while_it_is_itself_in_time(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    # The 1d reminder may be 23 hours late, the 2h one only 10 minutes: at 1h50m before the
    # visit the 2h reminder is too late, so the 1d one (late, but within its bound) goes.
    settings = reminder_settings(BASE + "offsets: [1d, 2h]\nmax_lateness: {1d: 23h, 2h: 10m}")
    put(store, appointment("A1", START))
    plan(settings, store, BOOKED_AT)
    report = run(settings, store, START - timedelta(minutes=100))
    assert (report.sent, report.skipped) == (1, 1)
    assert states(store) == {"a1:patient:reminder:1d:v1": ("sent", None),
                             "a1:patient:reminder:2h:v1": ("skipped", "too late")}


def test_a_reminder_past_its_maximum_lateness_is_skipped_as_too_late(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(BASE + "offsets: [3d]")
    put(store, appointment("A1", START))
    plan(settings, store, BOOKED_AT)
    # The default bound for 3d is a quarter of it, 18 hours: 19 hours late is too late.
    assert run(settings, store, START - timedelta(days=3) + timedelta(hours=19)).skipped == 1
    assert states(store)["a1:patient:reminder:3d:v1"] == ("skipped", "too late")
    assert sent_keys(tmp_path) == []


def test_a_reminder_late_within_its_bound_still_goes(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(BASE + "offsets: [3d]\nmax_lateness: {default: 1d}")
    put(store, appointment("A1", START))
    plan(settings, store, BOOKED_AT)
    assert run(settings, store, START - timedelta(days=3) + timedelta(hours=19)).sent == 1


def test_quiet_hours_do_not_count_as_lateness_and_deferrals_are_reported_apart(
        store: Store, reminder_settings: SettingsMaker) -> None:
    quiet = BASE.replace("quiet_hours: null", "quiet_hours: {start: '21:00', end: '08:00'}")
    settings = reminder_settings(quiet + "offsets: [1h]")
    early = datetime(2026, 6, 12, 12, 30, tzinfo=UTC)  # 08:30 in New York: 1h before is 07:30, quiet
    put(store, appointment("A1", early))
    plan(settings, store, BOOKED_AT)
    planned = states(store)["a1:patient:reminder:1h:v1"]
    assert planned == ("pending", None)
    # Woken at 07:55 local with the reminder moved to 08:00: deferred, not retrying, not late.
    with store.engine.begin() as connection:
        connection.execute(R.update().values(due_at=early - timedelta(hours=1)))
    report = run(settings, store, early - timedelta(minutes=35))
    assert (report.deferred, report.retrying, report.sent) == (1, 0, 0)
    assert report.as_report()["deferred"] == 1
    # At 08:05 local it is five minutes after the end of the quiet hours: well within 15 min.
    assert run(settings, store, early - timedelta(minutes=25)).sent == 1


def test_the_default_lateness_is_a_quarter_of_the_offset(reminder_settings: SettingsMaker) -> None:
    config = reminder_settings(BASE + "max_lateness: {24h: 2h}").reminders
    assert config.lateness(Offset.parse("3d")) == timedelta(hours=18)
    assert config.lateness(Offset.parse("1d")) == timedelta(hours=6)
    assert config.lateness(Offset.parse("1h")) == timedelta(minutes=15)
    assert config.lateness(Offset.parse("24h")) == timedelta(hours=2)


def test_retries_that_outlast_the_lateness_end_failed_as_too_late(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """Failed, not skipped: the provider, not the clinic's timing, kept the patient from being
    told, and failed rows are what the front desk's work list shows as "failed delivery"."""
    settings = reminder_settings(BASE + "offsets: [1h]\nretry_backoff: 10m\nretry_backoff_max: 10m\nmax_attempts: 9",
                                 outcomes='{"+12125550101": retryable}')
    put(store, appointment("A1", START))
    plan(settings, store, BOOKED_AT)
    due = START - timedelta(hours=1)
    assert run(settings, store, due).retrying == 1  # the provider is down: back to pending, in 10 minutes
    report = run(settings, store, due + timedelta(minutes=16))  # past 1h's bound (15 min)
    assert (report.failed, report.skipped, report.retrying) == (1, 0, 0)
    assert states(store)["a1:patient:reminder:1h:v1"] == (
        "failed", "too late after 1 failed attempt (fake provider answered 503)")


def test_a_provider_down_for_hours_delays_a_reminder_but_does_not_lose_it(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """A two-hour SMS outage, the defaults otherwise: the 1d reminder is tried with backoff
    (1, 2, 4 … minutes, at most an hour apart) for as long as it is still in time (a quarter
    of its offset), not for a fixed number of attempts, and goes once when the provider is back."""
    down = reminder_settings(BASE + "offsets: [1d]", outcomes='{"+12125550101": retryable}')
    put(store, appointment("A1", START))
    plan(down, store, BOOKED_AT)
    due = START - timedelta(days=1)
    key = "a1:patient:reminder:1d:v1"
    row = reminder(store, key)
    while row.status == "pending" and row.due_at < due + timedelta(hours=2):  # a run each time it is due
        run(down, store, row.due_at)
        row = reminder(store, key)
    # Tried at +0, 1, 3, 7, 15, 31 and 63 minutes; the 8th try is an hour later (the cap).
    assert (row.status, row.attempts, row.due_at) == ("pending", 7, due + timedelta(minutes=123)), row.reason
    assert row.reason.startswith("will retry")
    run(reminder_settings(BASE + "offsets: [1d]"), store, row.due_at)  # the provider is back
    assert sent_keys(tmp_path) == [key]
    assert reminder(store, key).status == "sent"


CONFIRMING = "agenda: {enabled: false}\nquiet_hours: null\nchannels: [sms]\nroutes: {sms: texts}\nconfirmation: true\n"


def test_a_confirmation_still_unsent_when_a_reminder_is_due_is_superseded(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """Booked 70 minutes ahead, dispatched ten minutes later: the confirmation and the 1 h
    reminder are both due; only the reminder goes (issue 30, obs 12: they arrived in the same
    minute). Runs on SQLite and PostgreSQL."""
    settings = reminder_settings(CONFIRMING + "offsets: [1d, 1h]")
    put(store, appointment("A1", START))
    plan(settings, store, START - timedelta(minutes=70))
    report = run(settings, store, START - timedelta(minutes=58))
    assert (report.sent, report.skipped) == (1, 1)
    assert sent_keys(tmp_path) == ["a1:patient:reminder:1h:v1"]
    assert states(store)["a1:patient:confirmation:v1"] == ("skipped", "superseded")
    assert run(settings, store, START - timedelta(minutes=50)).sent == 0  # nothing left, nothing twice


def test_a_confirmation_goes_when_no_reminder_can_stand_in(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """Booked 70 minutes ahead, the dispatcher down until 10 minutes before the visit: the 1 h
    reminder is due and within its lateness bound, but inside min_lead it will not go, so it
    stands in for nothing and the confirmation goes. A visit two days ahead gets its
    confirmation alone."""
    settings = reminder_settings(CONFIRMING + "offsets: [1h]\nmin_lead: 15m\nmax_lateness: {1h: 2h}")
    put(store, appointment("A1", START), appointment("A2", START + timedelta(days=2), patient="P2"))
    plan(settings, store, START - timedelta(minutes=70))
    assert states(store)["a1:patient:reminder:1h:v1"] == ("pending", None)
    run(settings, store, START - timedelta(minutes=10))
    assert sorted(sent_keys(tmp_path)) == ["a1:patient:confirmation:v1", "a2:patient:confirmation:v1"]
    assert states(store)["a1:patient:confirmation:v1"] == ("sent", None)
    assert states(store)["a1:patient:reminder:1h:v1"][0] == "skipped"


def test_a_refused_reminder_held_by_the_quiet_hours_and_then_too_late_ends_failed(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """The provider refused the 1d reminder (10:00 New York); its retry falls in the quiet
    hours (from 15:00), which hold it to 08:00 next day, past its bound (16:00). The outage is
    why the patient was not told: `failed` on the desk's work list, as without the quiet hours,
    not `skipped`."""
    settings = reminder_settings(BASE.replace("quiet_hours: null", "quiet_hours: {start: '15:00', end: '08:00'}")
                                 + "offsets: [1d]\nretry_backoff: 5h\n", outcomes='{"+12125550101": retryable}')
    put(store, appointment("A1", START))
    plan(settings, store, BOOKED_AT)
    key, due = "a1:patient:reminder:1d:v1", START - timedelta(days=1)
    assert run(settings, store, due).retrying == 1
    assert run(settings, store, due + timedelta(hours=5)).deferred == 1  # 15:00: quiet until 08:00
    assert reminder(store, key).due_at == START - timedelta(hours=2)
    report = run(settings, store, START - timedelta(hours=2))
    assert (report.failed, report.skipped) == (1, 0)
    assert states(store)[key] == ("failed", "too late after 1 failed attempt (fake provider answered 503)")
