"""A patient's fallback numbers (patient.fallback_phones) in dispatch: a number the provider
refuses for good hands the same message to the next one, in order, each once, before the next
channel; an opt-out never does. The scripted notifier (fakes.py) answers per number."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from clinicsync.sync.store.model.reminders import OPT_OUTS
from clinicsync.sync.store.store import Store
from tests.notifiers.conftest import FakeApi
from tests.notifiers.test_twilio import ACCOUNT, TOKEN, created, twilio_error
from tests.sync.reminders.conftest import SettingsMaker, appointment
from tests.sync.reminders.fakes import read_log
from tests.sync.reminders.test_dispatch import BASE, EMAIL, PHONE, START, book, deliveries, reminders, run

FIRST, SECOND = "+12125550188", "+12125550199"
KEY = "a1:patient:confirmation:v1"


def with_fallbacks(fallbacks: str | None, external_id: str = "A1", **kwargs: Any) -> Any:
    visit = appointment(external_id, START, **kwargs)
    return replace(visit, patient=replace(visit.patient, fallback_phones=fallbacks))


@pytest.fixture
def twilio() -> Iterator[FakeApi]:
    """Twilio's Messages API on loopback (tests/notifiers/conftest.py), answering from a queue."""
    api = FakeApi()
    api.thread.start()
    yield api
    api.server.shutdown()
    api.server.server_close()


def through_twilio(reminder_settings: SettingsMaker, api: FakeApi) -> Any:
    """SMS through the real Twilio notifier (its own classification of the answers), email scripted."""
    notifier = (f"  - {{name: twilio, kind: twilio_sms, account_sid: {ACCOUNT}, auth_token: {TOKEN}, "
                f'from_number: "+15005550006", api_root: "{api.url}", timeout: 5}}\n')
    routes = BASE.replace("sms: texts", "sms: twilio")
    return reminder_settings(routes, extra_notifiers=notifier)


def sent_to(api: FakeApi) -> list[str]:
    return [parse_qs(request.body.decode())["To"][0] for request in api.requests]


def outcomes(**by_number: str) -> str:
    return "{" + ", ".join(f'"{number}": {outcome}' for number, outcome in by_number.items()) + "}"


def test_a_bad_first_number_hands_the_reminder_to_the_first_fallback(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(BASE, outcomes=outcomes(**{PHONE: "permanent"}))
    book(store, settings, with_fallbacks(f"{FIRST} {SECOND}"))
    assert run(settings, store) == {"sent": 1, "failed": 0, "skipped": 0, "unknown": 0}
    row = reminders(store)[KEY]
    assert (row.status, row.channel, row.tried, row.attempts) == ("sent", "sms", "", 2)
    assert [(line["key"], line["to"]) for line in read_log(tmp_path / "texts.jsonl")] == [(KEY, FIRST)]
    assert not read_log(tmp_path / "mails.jsonl")  # the next channel was not needed
    assert [(d.channel, d.outcome) for d in deliveries(store)] == [("sms", "permanent"), ("sms", "sent")]
    assert all(PHONE not in (d.detail or "") and FIRST not in (d.detail or "") for d in deliveries(store))


def test_fallbacks_are_tried_in_order_each_once(store: Store, reminder_settings: SettingsMaker,
                                                tmp_path: Path) -> None:
    """The first number and a repeated one are listed again: neither is messaged twice."""
    settings = reminder_settings(BASE, outcomes=outcomes(**{PHONE: "permanent", FIRST: "permanent"}))
    book(store, settings, with_fallbacks(f"{PHONE} {FIRST} {FIRST} {SECOND}"))
    assert run(settings, store)["sent"] == 1
    assert [line["to"] for line in read_log(tmp_path / "texts.jsonl")] == [SECOND]
    assert [d.outcome for d in deliveries(store)] == ["permanent", "permanent", "sent"]
    assert reminders(store)[KEY].attempts == 3


def test_an_opt_out_never_moves_to_a_fallback_number(store: Store, reminder_settings: SettingsMaker,
                                                     tmp_path: Path) -> None:
    settings = reminder_settings(BASE, outcomes=outcomes(**{PHONE: "opted_out"}))
    book(store, settings, with_fallbacks(FIRST))
    assert run(settings, store)["sent"] == 1
    row = reminders(store)[KEY]
    assert (row.status, row.channel, row.tried) == ("sent", "email", "sms")  # the next channel, as before
    assert not read_log(tmp_path / "texts.jsonl")
    assert [line["to"] for line in read_log(tmp_path / "mails.jsonl")] == [EMAIL]
    assert [(d.channel, d.outcome) for d in deliveries(store)] == [("sms", "opted_out"), ("email", "sent")]
    with store.engine.connect() as connection:
        assert [o.address for o in connection.execute(select(OPT_OUTS))] == [PHONE]


def test_an_opted_out_fallback_is_passed_over(store: Store, reminder_settings: SettingsMaker,
                                              tmp_path: Path) -> None:
    """A fallback number that replied STOP before (here to another patient's reminder) gets nothing."""
    settings = reminder_settings(BASE, outcomes=outcomes(**{PHONE: "permanent", FIRST: "opted_out"}))
    book(store, settings, with_fallbacks(None, "A9", patient="P9", phone=FIRST))
    run(settings, store)  # FIRST, this patient's own phone here, opts out
    assert [d.outcome for d in deliveries(store)] == ["opted_out", "sent"]
    book(store, settings, with_fallbacks(f"{FIRST} {SECOND}"))
    assert run(settings, store)["sent"] == 1
    assert [line["to"] for line in read_log(tmp_path / "texts.jsonl")] == [SECOND]
    assert [(d.channel, d.outcome) for d in deliveries(store)][2:] == [("sms", "permanent"), ("sms", "sent")]


def test_every_number_bad_moves_to_the_next_channel_then_fails(store: Store, reminder_settings: SettingsMaker,
                                                               tmp_path: Path) -> None:
    bad = {PHONE: "permanent", FIRST: "permanent", SECOND: "permanent"}
    settings = reminder_settings(BASE, outcomes=outcomes(**bad))
    book(store, settings, with_fallbacks(f"{FIRST} {SECOND}"))
    assert run(settings, store)["sent"] == 1
    row = reminders(store)[KEY]
    assert (row.status, row.channel, row.tried) == ("sent", "email", "sms")
    assert [d.outcome for d in deliveries(store)] == ["permanent"] * 3 + ["sent"]
    assert not read_log(tmp_path / "texts.jsonl")


def test_every_number_and_channel_bad_is_failed_with_the_last_reason(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE, outcomes=outcomes(**{PHONE: "permanent", FIRST: "permanent",
                                                            EMAIL: "permanent"}))
    book(store, settings, with_fallbacks(FIRST))
    assert run(settings, store) == {"sent": 0, "failed": 1, "skipped": 0, "unknown": 0}
    row = reminders(store)[KEY]
    assert row.status == "failed" and "invalid number" in row.reason and row.tried == "sms,email"
    assert [(d.channel, d.outcome) for d in deliveries(store)] == [("sms", "permanent")] * 2 + [
        ("email", "permanent")]


def test_without_fallback_numbers_a_bad_number_moves_to_the_next_channel_as_before(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(BASE, outcomes=outcomes(**{PHONE: "permanent"}))
    book(store, settings, with_fallbacks(None))
    assert run(settings, store)["sent"] == 1
    row = reminders(store)[KEY]
    assert (row.status, row.channel, row.tried, row.attempts) == ("sent", "email", "sms", 2)
    assert [d.outcome for d in deliveries(store)] == ["permanent", "sent"]


def test_fallback_numbers_need_the_same_consent(store: Store, reminder_settings: SettingsMaker,
                                               tmp_path: Path) -> None:
    """Without SMS consent no number of the patient's is messaged: email, as before."""
    settings = reminder_settings(BASE)
    book(store, settings, with_fallbacks(FIRST, allow_sms=False))
    assert run(settings, store)["sent"] == 1
    assert reminders(store)[KEY].channel == "email"
    assert not read_log(tmp_path / "texts.jsonl")


@pytest.mark.parametrize("code", [21211, 21614])
def test_twilio_refusing_the_number_hands_the_reminder_to_the_fallback(
        store: Store, reminder_settings: SettingsMaker, twilio: FakeApi, code: int, tmp_path: Path) -> None:
    """21211 (not a valid number), 21614 (not a mobile: a landline cannot take SMS)."""
    settings = through_twilio(reminder_settings, twilio)
    twilio.reply(400, twilio_error(code, "The 'To' number is not valid."))
    twilio.reply(201, created("SM" + "f" * 32))
    book(store, settings, with_fallbacks(f"{FIRST} {SECOND}"))
    assert run(settings, store)["sent"] == 1
    assert sent_to(twilio) == [PHONE, FIRST]
    row = reminders(store)[KEY]
    assert (row.status, row.channel, row.provider_id) == ("sent", "sms", "SM" + "f" * 32)
    assert [d.outcome for d in deliveries(store)] == ["permanent", "sent"]
    assert not read_log(tmp_path / "mails.jsonl")


def test_twilio_unsubscribed_never_reaches_a_fallback(store: Store, reminder_settings: SettingsMaker,
                                                      twilio: FakeApi, tmp_path: Path) -> None:
    """21610: the patient replied STOP; the next channel (email) takes the message, as before."""
    settings = through_twilio(reminder_settings, twilio)
    twilio.reply(400, twilio_error(21610, "Attempt to send to unsubscribed recipient"))
    book(store, settings, with_fallbacks(FIRST))
    assert run(settings, store)["sent"] == 1
    assert sent_to(twilio) == [PHONE]
    assert reminders(store)[KEY].channel == "email"
    assert [line["to"] for line in read_log(tmp_path / "mails.jsonl")] == [EMAIL]
