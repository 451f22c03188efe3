"""`remind --once` with a peer that trickles (issue 59): a mail server (or an SMS API) that
answers one byte every 2 s. Before, the per-read timeout never fired, `remind --once` ran past
120 s, and with the emails due ahead of the SMS every send worker was stuck on email: no SMS
went out. Now each send ends at its ``send_deadline`` (1 s here), as the rules say (the message
was handed over: unknown), and each notifier has its own workers: the other channel's messages
go at once, through the dry-run outbox (the fake of the tests)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clinicsync.notifiers.base import RetryableError
from clinicsync.notifiers.smtp import SmtpNotifier, SmtpSettings
from clinicsync.notifiers.twilio_sms import TwilioSmsNotifier
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.model.reminders import DELIVERIES, REMINDERS
from clinicsync.sync.store.store import Store
from tests.notifiers.conftest import email_message, text_message
from tests.notifiers.trickle import trickling
from tests.reliability.twilio_fake import ACCOUNT, FROM, TOKEN
from tests.sync.reminders.conftest import appointment, put

NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)
START = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)
DEADLINE = 1  # notifiers[].send_deadline here
SLOW, FAST = 2, 2  # messages on the trickling channel (due first), and on the other


def slow_notifier(mode: str, port: int) -> str:
    if mode == "http":  # SMS through the Twilio client to an API that trickles
        return (f"  - {{name: slow, kind: twilio_sms, account_sid: {ACCOUNT}, auth_token: {TOKEN}, "
                f'from_number: "{FROM}", api_root: "http://127.0.0.1:{port}", timeout: 5, '
                f"send_deadline: {DEADLINE}}}\n")
    return (f"  - {{name: slow, kind: smtp, host: 127.0.0.1, port: {port}, security: none, "
            f"sender: reminders@clinic.example, timeout: 5, send_deadline: {DEADLINE}}}\n")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("mode", "slow_channel", "fast_channel"), [
    ("smtp-after-data", "email", "sms"), ("http", "sms", "email")])
def test_remind_once_ends_at_the_deadline_and_the_other_channel_is_not_starved(
        store: Store, write_settings: Callable[..., Path], cli: Any, tmp_path: Path, mode: str, slow_channel: str,
        fast_channel: str) -> None:
    warm_up_twilio() if mode == "http" else warm_up_smtp()
    with trickling(mode) as server:  # type: ignore[arg-type]
        outbox = tmp_path / "outbox"
        path = write_settings(extra=(
            "notifiers:\n" + slow_notifier(mode, server.port)
            + f"  - {{name: fast, kind: outbox, directory: {outbox}, rate_per_second: 1000}}\n"
            "reminders:\n  quiet_hours: null\n  agenda: {enabled: false}\n  offsets: []\n  workers: 1\n"
            f"  channels: [{slow_channel}, {fast_channel}]\n"
            f"  routes: {{{slow_channel}: slow, {fast_channel}: fast}}\n"))
        settings = load_settings(path)
        # The slow channel's messages are due first (a minute earlier), as in the audit.
        put(store, *(appointment(f"S{n}", START + timedelta(minutes=n), patient=f"PS{n}", channel=slow_channel)
                     for n in range(SLOW)))
        plan(settings, store, NOW - timedelta(minutes=1))
        put(store, *(appointment(f"F{n}", START + timedelta(minutes=n), patient=f"PF{n}", channel=fast_channel)
                     for n in range(FAST)))
        plan(settings, store, NOW)
        started = time.monotonic()
        _, out, _ = cli(path)("remind", "--once", "--at", NOW.isoformat(), "--json")
        elapsed = time.monotonic() - started
        handed = len(server.received)
    report = json.loads(out)
    # The documented bound: send_deadline x the slow channel's messages per worker, plus the run itself.
    assert elapsed < DEADLINE * SLOW + 4, elapsed
    assert report["sent"] == FAST and report["unknown"] == SLOW, (report, *states_of(store))
    assert handed == SLOW  # each went out once and its answer crawled: unknown, never resent by itself
    with store.engine.connect() as connection:
        rows = connection.execute(select(REMINDERS.c.id, REMINDERS.c.channel, REMINDERS.c.status,
                                         REMINDERS.c.reason)).all()
        order = [r.channel for r in connection.execute(
            select(REMINDERS.c.channel).join(DELIVERIES, DELIVERIES.c.reminder_id == REMINDERS.c.id)
            .order_by(DELIVERIES.c.id))]
    assert {(r.channel, r.status) for r in rows} == {(slow_channel, "unknown"), (fast_channel, "sent")}
    assert all("send deadline of 1 s" in (r.reason or "") for r in rows if r.status == "unknown")
    # The other channel's workers were free: its messages were recorded before any slow one ended.
    assert order == [fast_channel] * FAST + [slow_channel] * SLOW, order
    assert len(list(outbox.rglob("*.json" if fast_channel == "sms" else "*.eml"))) == FAST


def warm_up_twilio() -> None:
    """The Twilio client imports its API modules on the first message (over a second on a loaded
    machine, which a 1 s deadline counts): import them first, against a port nothing listens on."""
    notifier = TwilioSmsNotifier(TwilioSmsNotifier.settings_model.model_validate({
        "name": "warm", "kind": "twilio_sms", "account_sid": ACCOUNT, "auth_token": TOKEN, "from_number": FROM,
        "api_root": "http://127.0.0.1:1", "timeout": 5}))
    with pytest.raises(RetryableError):
        notifier.deliver(text_message())
    notifier.close()


def warm_up_smtp() -> None:
    """The first email imports the MIME modules inside its send (its deadline counts them): first."""
    notifier = SmtpNotifier(SmtpSettings(name="warm", host="127.0.0.1", port=1, security="none",
                                         sender="reminders@clinic.example"))
    with pytest.raises(RetryableError):
        notifier.deliver(email_message())


def states_of(store: Store) -> list[tuple[str, str, str | None]]:
    with store.engine.connect() as connection:
        return [(r.channel, r.status, r.reason) for r in connection.execute(
            select(REMINDERS.c.channel, REMINDERS.c.status, REMINDERS.c.reason))]
