"""A dispatch pass behind a slow or rate-limited provider can take an hour (a backlog of
messages at one a second, a provider answering in minutes). Each message is judged when it
goes, not when the pass began: on main the quiet hours and every "too late" were judged at the
pass's start, so a pass begun at 20:20 sent its third SMS at 21:00, inside the quiet hours
(the waiting list's offers had the same fault)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put, states
from tests.sync.reminders.fakes import ScriptedNotifier, read_log

SETTINGS = ('agenda: {enabled: false}\nquiet_hours: {start: "21:00", end: "08:00"}\nchannels: [sms]\n'
            "routes: {sms: texts}\nconfirmation: false\nworkers: 1\noffsets: [14h]\n")
VISITS = datetime(2026, 6, 12, 14, tzinfo=UTC)  # Friday 10:00 in New York: the 14h reminders are due at 20:00
PASS = datetime(2026, 6, 12, 0, 20, tzinfo=UTC)  # Thursday 20:20 in New York; quiet from 21:00
SLOW = timedelta(minutes=20)  # what the provider takes per message


@pytest.mark.parametrize("store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_slow_pass_judges_the_quiet_hours_at_each_send(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = reminder_settings(SETTINGS)
    put(store, *(appointment(f"A{i}", VISITS, patient=f"P{i}",
                             phone=f"+1212555010{i}") for i in range(3)))
    plan(settings, store, PASS - timedelta(days=5))
    elapsed = [timedelta(0)]
    real = datetime(2026, 6, 12, 0, 20, 5, tzinfo=UTC)  # the pass's clock, moved by each send
    send = ScriptedNotifier.send

    def slow(notifier: ScriptedNotifier, message: object) -> object:
        receipt = send(notifier, message)  # type: ignore[arg-type]
        elapsed[0] += SLOW
        return receipt

    monkeypatch.setattr(ScriptedNotifier, "send", slow)
    report = Dispatcher(settings, store, PASS, clock=lambda: real + elapsed[0]).run()
    # 20:20 and 20:40 go; the third would go at 21:00, inside the quiet hours: it waits for
    # 08:00 (main: 3 sent, the last at 21:00).
    assert (report.sent, report.deferred) == (2, 1), (report.as_report(), states(store))
    assert len(read_log(tmp_path / "texts.jsonl")) == 2
    assert sorted(status for status, _ in states(store).values()) == ["pending", "sent", "sent"]


def test_a_quick_pass_judges_each_message_at_its_given_moment(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """Under a minute, nothing moves: a pass given 20:59 sends at 20:59, whatever its clock says."""
    settings = reminder_settings(SETTINGS)
    put(store, appointment("A0", VISITS))
    plan(settings, store, PASS - timedelta(days=5))
    at = PASS + timedelta(minutes=39)
    report = Dispatcher(settings, store, at, clock=lambda: at + timedelta(seconds=59)).run()
    assert report.sent == 1
