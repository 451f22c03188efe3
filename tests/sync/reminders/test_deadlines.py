"""Every message has a deadline (issue 28 obs 4): a doctor's agenda, a patient's status
notice and a follow-up each go out only within their maximum lateness; past it the row is
skipped as `too late` and stays on record. Agendas speak the clinic's language with its
locale's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put, states
from tests.sync.reminders.fakes import read_log

BASE = "quiet_hours: null\noffsets: []\nchannels: [sms, email]\nroutes: {sms: texts, email: mails}\n"
NO_AGENDA = BASE + "agenda: {enabled: false}\n"
AGENDA_AT = datetime(2026, 6, 10, 11, tzinfo=UTC)  # 07:00 in New York
VISIT = datetime(2026, 6, 10, 18, tzinfo=UTC)  # 14:00 in New York
AGENDA_KEY = "agenda:c1:D1:2026-06-10"


def run(settings: Settings, store: Store, at: datetime) -> dict[str, int]:
    return Dispatcher(settings, store, at).run().as_dict()


@pytest.mark.parametrize(("late", "outcome"), [(timedelta(hours=2), ("sent", None)),
                                               (timedelta(hours=2, minutes=1), ("skipped", "too late"))])
def test_an_agenda_goes_within_its_lateness_only(store: Store, reminder_settings: SettingsMaker,
                                                 late: timedelta, outcome: tuple[str, str | None]) -> None:
    settings = reminder_settings(BASE + "confirmation: false\nagenda: {at: '07:00', max_lateness: 2h}")
    put(store, appointment("A1", VISIT))
    plan(settings, store, AGENDA_AT - timedelta(hours=1))
    run(settings, store, AGENDA_AT + late)
    assert states(store)[AGENDA_KEY] == outcome


def test_going_live_at_night_does_not_send_that_mornings_agenda(store: Store, reminder_settings: SettingsMaker,
                                                                tmp_path: Path) -> None:
    """Issue 28 obs 4: live at 23:43 local, the day's 07:00 agenda (default bound 2h) is
    recorded as too late, not sent 16¾ hours late listing a visit already past; the next
    morning's goes at its time."""
    settings = reminder_settings(BASE + "confirmation: false\nagenda: {at: '07:00'}")
    put(store, appointment("A1", VISIT), appointment("A2", VISIT + timedelta(days=1), patient="P2"))
    night = datetime(2026, 6, 11, 3, 43, tzinfo=UTC)  # 23:43 on June 10 in New York
    plan(settings, store, night)
    run(settings, store, night + timedelta(minutes=1))
    assert states(store)[AGENDA_KEY] == ("skipped", "too late")
    assert states(store)["agenda:c1:D1:2026-06-11"] == ("pending", None)
    run(settings, store, AGENDA_AT + timedelta(days=1))
    assert [m["key"] for m in read_log(tmp_path / "mails.jsonl")] == ["agenda:c1:D1:2026-06-11"]


@pytest.mark.parametrize(("late", "outcome"), [(timedelta(hours=6), ("sent", None)),
                                               (timedelta(hours=6, minutes=1), ("skipped", "too late"))])
def test_a_status_notice_goes_within_its_lateness_only(store: Store, reminder_settings: SettingsMaker,
                                                       late: timedelta, outcome: tuple[str, str | None]) -> None:
    settings = reminder_settings(NO_AGENDA + "notices: {max_lateness: 6h}")
    booked = VISIT - timedelta(days=5)
    put(store, appointment("A1", VISIT))
    plan(settings, store, booked)
    run(settings, store, booked + late)
    assert states(store)["a1:patient:confirmation:v1"] == outcome


def test_a_notice_whose_visit_has_begun_is_not_sent(store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(NO_AGENDA)  # the default bound (1d) is longer than the wait
    put(store, appointment("A1", VISIT))
    plan(settings, store, VISIT - timedelta(hours=3))
    run(settings, store, VISIT + timedelta(minutes=1))
    assert states(store)["a1:patient:confirmation:v1"] == ("skipped", "too late")


@pytest.mark.parametrize(("late", "outcome"), [(timedelta(days=1), ("sent", None)),
                                               (timedelta(days=1, minutes=1), ("skipped", "too late"))])
def test_a_followup_goes_within_its_lateness_only(store: Store, reminder_settings: SettingsMaker,
                                                  late: timedelta, outcome: tuple[str, str | None]) -> None:
    settings = reminder_settings(NO_AGENDA + "confirmation: false\n"
                                 "notices: {followup: {enabled: true, after: 2h, within: 1d}}")
    put(store, appointment("A1", VISIT))
    plan(settings, store, VISIT - timedelta(days=2))
    put(store, appointment("A1", VISIT, status="fulfilled"))
    end = VISIT + timedelta(minutes=30)
    plan(settings, store, end)
    run(settings, store, end + late)
    assert states(store)["a1:patient:followup:v0"] == outcome


@pytest.mark.parametrize(("region", "language", "subject", "clock"), [
    ("ES", None, "Su agenda", "14:00"),
    ("US", None, "Your agenda", "2:00\N{NARROW NO-BREAK SPACE}PM"),
    ("US", "es-MX", "Su agenda", "2:00\N{NARROW NO-BREAK SPACE}p.m."),
])
def test_an_agenda_speaks_the_clinics_language_with_its_clock(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path, region: str, language: str | None,
        subject: str, clock: str) -> None:
    settings = reminder_settings(BASE + "confirmation: false\nagenda: {at: '07:00'}")
    clinic = settings.clinic.model_copy(update={"default_region": region, "language": language})
    settings = settings.model_copy(update={"clinic": clinic})
    put(store, appointment("A1", VISIT))
    plan(settings, store, AGENDA_AT - timedelta(hours=1))
    run(settings, store, AGENDA_AT)
    [mail] = read_log(tmp_path / "mails.jsonl")
    assert mail["subject"].startswith(subject), mail["subject"]
    assert clock in mail["body"], mail["body"]
