"""An offer's hold runs from its send, not from the stage's start, on SQLite and PostgreSQL,
through the real stage and the real SendGrid notifier against a fake SendGrid on loopback
that takes 20 minutes a message (the clock moved with time-machine as it answers): a slow
loop no longer sends an offer with its hold already spent (on main the third of three was
sent 40 minutes in, held "until" 10 minutes before it went out), the email states the
time the store enforces, in the slot's zone with the hold's own label (a slot past the
autumn daylight-saving change), with its day when that is another; the quiet hours are
judged at each send."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.stage import run_waitlist
from tests.notifiers.conftest import FakeApi
from tests.sync.reminders.conftest import SettingsMaker, appointment, put
from tests.waitlist.test_offers import SERVER, entry, offers, waitlist

DAY = datetime(2030, 6, 2, 16, tzinfo=UTC)  # Sun 12:00 in New York (EDT)
START = datetime(2030, 6, 12, 14, tzinfo=UTC)  # Wed 10:00 in New York
SLOW = timedelta(minutes=20)  # what the provider takes per message


def make(reminder_settings: SettingsMaker, api: FakeApi, hold: str = "30m") -> Settings:
    grid = (
        f"  - {{name: grid, kind: sendgrid, api_key: SG.test-key, sender: offers@clinic.example, "
        f'api_root: "{api.url}", timeout: 5}}\n'
    )
    return reminder_settings(
        'quiet_hours: {start: "21:00", end: "08:00"}\nagenda: {enabled: false}\n'
        "offsets: [1d]\nchannels: [email, sms]\nroutes: {sms: texts, email: grid}",
        extra_notifiers=grid + SERVER + waitlist("sequential", hold=hold),
    )


def freed(store: Store, settings: Settings, starts: list[datetime], at: datetime) -> dict[str, int]:
    """One slot per start, each freed by its patient's "cancel" (P1.., doctor D1..), and one
    waiting patient for each doctor (W1.., reached by email). Entry ids by patient."""
    later = max(starts) + timedelta(days=30)
    visits = []
    for k, start in enumerate(starts, start=1):
        visits += [
            appointment(f"A{k}", start, patient=f"P{k}", phone=f"+1212555010{k}", doctor=f"D{k}"),
            appointment(
                f"B{k}",
                later,
                patient=f"W{k}",
                phone=f"+1212555020{k}",
                doctor=f"D{k}",
                email=f"w{k}@example.org",
                channel="email",
            ),
        ]
    put(store, *visits)
    ids = {f"W{k}": entry(store, f"W{k}", doctor=f"D{k}") for k in range(1, len(starts) + 1)}
    for k in range(1, len(starts) + 1):
        handle_reply(settings, store, "sms", f"+1212555010{k}", "cancel", f"SM{k}", at - timedelta(hours=1))
    return ids


def mails(api: FakeApi) -> dict[str, str]:
    """address -> the plain text of the offer sent to it."""
    out = {}
    for request in api.requests:
        body: Any = json.loads(request.body)
        text = next(c["value"] for c in body["content"] if c["type"] == "text/plain")
        out[body["personalizations"][0]["to"][0]["email"]] = " ".join(text.split())
    return out


def test_an_offer_sent_late_in_a_slow_loop_is_held_from_its_send_as_its_email_says(
    store: Store, reminder_settings: SettingsMaker, fake_api: FakeApi, tmp_path: Path
) -> None:
    settings = make(reminder_settings, fake_api)
    ids = freed(store, settings, [START, START + timedelta(hours=1), START + timedelta(hours=2)], DAY)
    for _ in range(3):
        fake_api.reply(202)
    with time_machine.travel(DAY, tick=False) as clock:
        fake_api.on_request = lambda: clock.shift(SLOW)
        first = run_waitlist(settings, store)
        assert (first["offered"], first["sent"]) == (3, 3), first
        held = {k: (offers(store)[ids[k]].sent_at, offers(store)[ids[k]].hold_until) for k in ids}
        assert {k: (s.replace(tzinfo=UTC), h.replace(tzinfo=UTC)) for k, (s, h) in held.items()} == {
            "W1": (DAY, DAY + timedelta(minutes=30)),
            "W2": (DAY + SLOW, DAY + SLOW + timedelta(minutes=30)),
            "W3": (DAY + 2 * SLOW, DAY + 2 * SLOW + timedelta(minutes=30)),
        }  # main: all DAY + 30m
        sent = mails(fake_api)
        for address, until in (
            ("w1@example.org", "12:30 PM"),
            ("w2@example.org", "12:50 PM"),
            ("w3@example.org", "1:10 PM"),
        ):
            assert f"We keep it for you until {until} (EDT)" in sent[address].replace("\u202f", " "), sent[address]
        # An hour in (DAY + 60m): W1's and W2's holds ran out, W3's (sent 40 minutes in) has 10 minutes left.
        fake_api.on_request = None
        assert run_waitlist(settings, store)["hold_expired"] == 2  # main: 3
        assert offers(store)[ids["W3"]].status == "sent"


def test_the_quiet_hours_are_judged_at_each_send_not_at_the_stages_start(
    store: Store, reminder_settings: SettingsMaker, fake_api: FakeApi, tmp_path: Path
) -> None:
    evening = datetime(2030, 6, 3, 0, 20, tzinfo=UTC)  # 20:20 in New York; quiet from 21:00
    settings = make(reminder_settings, fake_api)
    ids = freed(store, settings, [START, START + timedelta(hours=1), START + timedelta(hours=2)], evening)
    for _ in range(3):
        fake_api.reply(202)
    with time_machine.travel(evening, tick=False) as clock:
        fake_api.on_request = lambda: clock.shift(timedelta(minutes=25))
        report = run_waitlist(settings, store)
    # 20:20 and 20:45 go; the third would go at 21:10, inside the quiet hours: it waits (main: sent).
    assert (report["sent"], report["deferred"]) == (2, 1), report
    assert offers(store)[ids["W3"]].status == "pending" and len(fake_api.requests) == 2


@pytest.mark.parametrize(
    ("hold", "said"), [("30m", "until 12:30 PM (EDT)"), ("20h", "until Sat, Nov 2, 8:00 AM (EDT)")]
)
def test_the_hold_is_labelled_with_its_own_zone_name_and_day_past_a_daylight_saving_change(
    store: Store, reminder_settings: SettingsMaker, fake_api: FakeApi, tmp_path: Path, hold: str, said: str
) -> None:
    """Sent Fri Nov 1 at 12:00 EDT for a slot on Tue Nov 5 at 10:00 EST (after the change)."""
    sent_at = datetime(2030, 11, 1, 16, tzinfo=UTC)
    settings = make(reminder_settings, fake_api, hold=hold)
    freed(store, settings, [datetime(2030, 11, 5, 15, tzinfo=UTC)], sent_at)
    fake_api.reply(202)
    with time_machine.travel(sent_at, tick=False):
        assert run_waitlist(settings, store)["sent"] == 1
    text = mails(fake_api)["w1@example.org"].replace("\u202f", " ")
    assert "10:00 AM (EST)" in text and f"We keep it for you {said};" in text, text  # main: "(EST)", no day


def test_a_send_is_judged_and_held_from_the_whole_minutes_the_loop_took_as_a_reminder_is(
    store: Store, reminder_settings: SettingsMaker, fake_api: FakeApi, tmp_path: Path
) -> None:
    """One rule for the moment of a pass (timeutil.moment_in_pass), the reminders'
    whole minutes: a provider that takes 90 s a message sends the second offer 1 minute in
    (main: 90 s, the waitlist counted exact time), and quick sends at exactly the stage's time."""
    settings = make(reminder_settings, fake_api)
    ids = freed(store, settings, [START, START + timedelta(hours=1), START + timedelta(hours=2)], DAY)
    for _ in range(3):
        fake_api.reply(202)
    with time_machine.travel(DAY, tick=False) as clock:
        fake_api.on_request = lambda: clock.shift(timedelta(seconds=90))
        assert run_waitlist(settings, store)["sent"] == 3
    sent = {k: offers(store)[ids[k]].sent_at.replace(tzinfo=UTC) for k in ids}
    held = {k: offers(store)[ids[k]].hold_until.replace(tzinfo=UTC) for k in ids}
    assert sent == {"W1": DAY, "W2": DAY + timedelta(minutes=1), "W3": DAY + timedelta(minutes=3)}
    assert held == {k: at + timedelta(minutes=30) for k, at in sent.items()}  # as the email says
