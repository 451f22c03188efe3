"""The dispatcher's decisions and its notifier calls' outcomes are enum members (Decision,
SendOutcome), not bare strings: over a real plan and dispatch, an agenda on time is decided
SEND and its call comes back SENT; the same agenda past its lateness is decided SKIP, too late.
Their values read as the strings they replaced."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from clinicsync.sync.reminders.decisions import Decision, SendOutcome
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put
from tests.sync.reminders.test_deadlines import AGENDA_AT, BASE, VISIT


def _watched(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
    decisions: list[Any] = []
    outcomes: list[Any] = []
    check, send = Dispatcher._check, Dispatcher._send

    def checked(self: Dispatcher, item: Any) -> Any:
        decisions.append(check(self, item))
        return decisions[-1]

    def sent(self: Dispatcher, *args: Any) -> Any:
        outcomes.append(send(self, *args))
        return outcomes[-1]

    monkeypatch.setattr(Dispatcher, "_check", checked)
    monkeypatch.setattr(Dispatcher, "_send", sent)
    return decisions, outcomes


@pytest.mark.parametrize(("late", "decided", "called"), [
    (timedelta(hours=1), (Decision.SEND, None), [SendOutcome.SENT]),
    (timedelta(hours=3), (Decision.SKIP, "too late"), []),
])
def test_decisions_and_outcomes_are_members(store: Store, reminder_settings: SettingsMaker,
                                            monkeypatch: pytest.MonkeyPatch, late: timedelta,
                                            decided: tuple[Decision, str | None], called: list[SendOutcome]) -> None:
    settings = reminder_settings(BASE + "confirmation: false\nagenda: {at: '07:00', max_lateness: 2h}")
    put(store, appointment("A1", VISIT))
    plan(settings, store, AGENDA_AT - timedelta(hours=1))
    decisions, outcomes = _watched(monkeypatch)
    Dispatcher(settings, store, AGENDA_AT + late).run()
    assert decisions == [decided]
    assert all(type(decision) is Decision for decision, _ in decisions)
    assert outcomes == called and all(type(outcome) is SendOutcome for outcome in outcomes)
    assert Decision.SEND == "send" and SendOutcome.FALLBACK == "fallback"  # the values the strings had
