"""The dispatch state machine with a scripted notifier plugin: sent, retryable with
backoff, permanent with fallback, opted-out, interrupted (unknown), lease expiry."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clinicsync.common.ratelimit import KeyedBuckets, TokenBucket
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.dispatch import Dispatcher, opt_in
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.store.model.reminders import DELIVERIES, OPT_OUTS, REMINDERS
from clinicsync.sync.store.store import Store
from tests.sync.reminders.conftest import SettingsMaker, appointment, put
from tests.sync.reminders.fakes import THROTTLED_RETRY_AFTER, read_log

R = REMINDERS
PHONE, EMAIL = "+12125550101", "ana@example.org"
BASE = "quiet_hours: null\nagenda: {enabled: false}\noffsets: [1d]\nchannels: [sms, email]\n" \
       "routes: {sms: texts, email: mails}"
BOOKED_AT = datetime(2026, 6, 1, 16, tzinfo=UTC)
START = datetime(2026, 6, 12, 14, tzinfo=UTC)


def reminders(store: Store) -> dict[str, Any]:
    with store.engine.connect() as connection:
        return {r.key: r for r in connection.execute(select(R).order_by(R.c.id))}


def deliveries(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(DELIVERIES).order_by(DELIVERIES.c.id)))


def run(settings: Settings, store: Store, at: datetime = BOOKED_AT, **kwargs: Any) -> dict[str, int]:
    return Dispatcher(settings, store, at, **kwargs).run().as_dict()


def book(store: Store, settings: Settings, *appointments: Any) -> None:
    put(store, *(appointments or (appointment("A1", START),)))
    plan(settings, store, BOOKED_AT)


def test_a_due_reminder_is_sent_once(store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(BASE)
    book(store, settings)
    assert run(settings, store) == {"sent": 1, "failed": 0, "skipped": 0, "unknown": 0}
    row = reminders(store)["a1:patient:confirmation:v1"]
    assert (row.status, row.channel, row.notifier, row.attempts) == ("sent", "sms", "texts", 1)
    assert row.provider_id == "fake-a1:patient:confirmation:v1" and row.segments == 1
    [line] = read_log(tmp_path / "texts.jsonl")
    assert (line["key"], line["to"]) == ("a1:patient:confirmation:v1", PHONE)
    assert "Ana" in line["body"] and "Dr. Amelia Hart" in line["body"]
    assert [(d.outcome, d.provider_id) for d in deliveries(store)] == [("sent", row.provider_id)]
    # Again, and later when the 1d reminder is due: only that one goes.
    assert run(settings, store)["sent"] == 0
    assert run(settings, store, START - timedelta(hours=23))["sent"] == 1
    assert len(read_log(tmp_path / "texts.jsonl")) == 2


def test_a_halted_dispatcher_hands_nothing_over_and_leaves_the_reminders_pending(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """The service's SIGTERM: what is due stays pending for the next run, nothing half-sent."""
    settings = reminder_settings(BASE)
    book(store, settings)
    halt = threading.Event()
    halt.set()
    assert run(settings, store, halt=halt) == {"sent": 0, "failed": 0, "skipped": 0, "unknown": 0}
    assert reminders(store)["a1:patient:confirmation:v1"].status == "pending"
    assert not (tmp_path / "texts.jsonl").exists()
    assert run(settings, store)["sent"] == 1  # the next run sends it


def test_permanent_failure_falls_back_to_the_next_channel(store: Store, reminder_settings: SettingsMaker,
                                                          tmp_path: Path) -> None:
    settings = reminder_settings(BASE, outcomes=f'{{"{PHONE}": permanent}}')
    book(store, settings)
    assert run(settings, store)["sent"] == 1
    row = reminders(store)["a1:patient:confirmation:v1"]
    assert (row.status, row.channel, row.tried) == ("sent", "email", "sms")
    assert [d.outcome for d in deliveries(store)] == ["permanent", "sent"]
    [mail] = read_log(tmp_path / "mails.jsonl")
    assert mail["to"] == EMAIL and "Your appointment on" in mail["subject"]


def test_every_channel_failing_permanently_is_failed_with_the_reason(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE, outcomes=f'{{"{PHONE}": permanent, "{EMAIL}": permanent}}')
    book(store, settings)
    assert run(settings, store) == {"sent": 0, "failed": 1, "skipped": 0, "unknown": 0}
    row = reminders(store)["a1:patient:confirmation:v1"]
    assert row.status == "failed" and "invalid number" in row.reason and row.tried == "sms,email"


def test_missing_address_or_consent_uses_the_next_channel_or_skips(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE)
    book(store, settings, appointment("A1", START, phone=None),
         appointment("A2", START, patient="P2", allow_sms=False, allow_email=False),
         appointment("A3", START, patient="P3", channel="none"))
    assert run(settings, store) == {"sent": 1, "failed": 0, "skipped": 2, "unknown": 0}
    planned = reminders(store)
    assert planned["a1:patient:confirmation:v1"].channel == "email"
    assert planned["a2:patient:confirmation:v1"].reason.startswith("no reachable channel")
    assert planned["a3:patient:confirmation:v1"].reason == "the patient asked for no messages"


def test_an_opt_out_is_recorded_and_respected_until_an_opt_in(store: Store, reminder_settings: SettingsMaker,
                                                              tmp_path: Path) -> None:
    settings = reminder_settings(BASE, outcomes=f'{{"{PHONE}": opted_out}}')
    book(store, settings)
    run(settings, store)
    assert reminders(store)["a1:patient:confirmation:v1"].channel == "email"
    with store.engine.connect() as connection:
        assert [(o.channel, o.address, o.source) for o in connection.execute(select(OPT_OUTS))] == [
            ("sms", PHONE, "texts")]
    # The next message never tries SMS.
    run(settings, store, START - timedelta(hours=23))
    assert reminders(store)["a1:patient:reminder:1d:v1"].channel == "email"
    assert [d.channel for d in deliveries(store)] == ["sms", "email", "email"]
    # After an opt-in SMS is used again (the provider now accepts the number).
    assert opt_in(store, "sms", PHONE)
    put(store, appointment("A2", START + timedelta(days=1)))
    plan(settings, store, BOOKED_AT)
    run(reminder_settings(BASE), store)
    assert reminders(store)["a2:patient:confirmation:v1"].channel == "sms"


def test_retryable_failures_back_off_then_fail(store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE + "\nmax_attempts: 3\nretry_backoff: 1m\nretry_backoff_max: 10m",
                                 outcomes=f'{{"{PHONE}": retryable}}')
    book(store, settings)
    key = "a1:patient:confirmation:v1"
    assert run(settings, store) == {"sent": 0, "failed": 0, "skipped": 0, "unknown": 0}
    row = reminders(store)[key]
    assert (row.status, row.attempts, row.due_at) == ("pending", 1, BOOKED_AT + timedelta(minutes=1))
    assert "will retry" in row.reason
    run(settings, store, BOOKED_AT + timedelta(seconds=30))  # not due yet
    assert reminders(store)[key].attempts == 1
    run(settings, store, BOOKED_AT + timedelta(minutes=1))
    assert reminders(store)[key].due_at == BOOKED_AT + timedelta(minutes=3)  # backoff doubled
    assert run(settings, store, BOOKED_AT + timedelta(minutes=3))["failed"] == 1
    row = reminders(store)[key]
    assert (row.status, row.attempts) == ("failed", 3) and row.reason.startswith("gave up after 3 attempts")
    assert [d.outcome for d in deliveries(store)] == ["retryable"] * 3


def test_a_429s_retry_after_holds_every_send_to_that_provider_not_only_the_refused_one(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """A 429 throttles the account: after one, the run sends nothing more to that provider
    before its Retry-After (the simulation's PROVIDER_THROTTLED found every due message sent
    into it, each refused); the others wait, unattempted, until then; another provider sends."""
    texts = [f"+1212555{n:04d}" for n in range(5)]
    settings = reminder_settings(BASE + "\nworkers: 1",
                                 outcomes="{" + ", ".join(f'"{t}": throttled' for t in texts) + "}")
    book(store, settings, *(appointment(f"A{n}", START + timedelta(hours=n), patient=f"P{n}", phone=t)
                            for n, t in enumerate(texts)),
         appointment("M1", START, patient="PM", phone=None, email="mo@example.org", channel="email"))
    report = run(settings, store)
    assert report["sent"] == 1  # the email: its provider said nothing
    refused = read_log(tmp_path / "texts.jsonl")
    assert [r.get("refused") for r in refused] == ["429"]  # one request, not five
    texted = [r for r in reminders(store).values() if r.kind == "confirmation" and r.recipient_ref != "PM"]
    assert len(texted) == 5 and {r.status for r in texted} == {"pending"}
    wait = timedelta(seconds=THROTTLED_RETRY_AFTER)
    assert all(BOOKED_AT + wait - timedelta(seconds=5) <= r.due_at <= BOOKED_AT + wait for r in texted), texted
    assert sorted(r.attempts for r in texted) == [0, 0, 0, 0, 1]
    assert all(r.reason.startswith("will retry: ") for r in texted)


def test_a_message_held_back_by_a_429_until_too_late_is_failed_not_skipped(
        store: Store, reminder_settings: SettingsMaker) -> None:
    """Held back, unsent, by another message's Retry-After, then too late: the provider is why
    it did not go, so it ends `failed` on the desk's work list, as a refused one does."""
    texts = ["+12125550101", "+12125550102"]
    settings = reminder_settings(BASE.replace("channels: [sms, email]", "channels: [sms]") + "\nworkers: 1",
                                 outcomes="{" + ", ".join(f'"{t}": throttled' for t in texts) + "}")
    book(store, settings, *(appointment(f"A{n}", START, patient=f"P{n}", phone=t, channel="sms")
                            for n, t in enumerate(texts)))
    run(settings, store)
    held = [r for r in reminders(store).values() if r.kind == "confirmation" and r.attempts == 0]
    assert len(held) == 1 and held[0].status == "pending"
    report = run(settings, store, BOOKED_AT + timedelta(days=2))  # past notices.max_lateness (1d)
    assert report["failed"] == 2 and report["skipped"] == 0
    row = reminders(store)[held[0].key]
    assert row.status == "failed" and row.reason.startswith("too late after being held back (texts's provider")


def test_an_interrupted_send_is_unknown_and_never_sent_again_unless_asked(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(BASE + "\nworkers: 1", outcomes=f'{{"{PHONE}": abort}}')
    book(store, settings, appointment("A1", START), appointment("A2", START, patient="P2", phone="+12125550102"))
    with pytest.raises(KeyboardInterrupt):
        run(settings, store)
    planned = reminders(store)
    first, second = planned["a1:patient:confirmation:v1"], planned["a2:patient:confirmation:v1"]
    assert first.status == "unknown" and "interrupted" in first.reason
    assert (second.status, second.claimed_by, second.attempts) == ("pending", None, 0)  # claimed, not started
    assert run(settings, store) == {"sent": 1, "failed": 0, "skipped": 0, "unknown": 0}  # only the second
    assert reminders(store)["a1:patient:confirmation:v1"].status == "unknown"
    sent = [line["key"] for line in read_log(tmp_path / "texts.jsonl")]
    assert sent.count("a1:patient:confirmation:v1") == 1
    # An explicit resend, once the operator has checked.
    calm = reminder_settings(BASE)
    assert run(calm, store, resend_unknown=True)["sent"] == 1
    assert reminders(store)["a1:patient:confirmation:v1"].status == "sent"
    assert [line["key"] for line in read_log(tmp_path / "texts.jsonl")].count("a1:patient:confirmation:v1") == 2


def test_an_unclassified_notifier_error_is_unknown(store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE, outcomes=f'{{"{PHONE}": crash}}')
    book(store, settings)
    assert run(settings, store)["unknown"] == 1
    assert "RuntimeError" in reminders(store)["a1:patient:confirmation:v1"].reason
    assert run(settings, store)["sent"] == 0


def test_expired_leases_become_unknown_if_handed_over_else_pending(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE)
    book(store, settings, appointment("A1", START), appointment("A2", START, patient="P2"))
    crashed = Dispatcher(settings, store, BOOKED_AT)
    claimed = crashed._claim(10)  # a dispatcher that dies after claiming two and handing one over
    items = crashed._load(claimed)
    assert crashed._hand_over(items[0], "sms", "texts")
    later = datetime.now(UTC) + timedelta(seconds=settings.reminders.lease_seconds + 1)
    report = Dispatcher(settings, store, BOOKED_AT, clock=lambda: later).run()
    planned = reminders(store)
    assert planned["a1:patient:confirmation:v1"].status == "unknown"
    assert planned["a2:patient:confirmation:v1"].status == "sent"
    assert (report.unknown, report.sent) == (1, 1)


def test_quiet_hours_and_lateness_are_checked_again_when_sending(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE.replace("quiet_hours: null", "quiet_hours: {start: '21:00', end: '08:00'}"))
    book(store, settings)  # booked at 12:00 local: the confirmation is due at once
    late_evening = datetime(2026, 6, 2, 3, 30, tzinfo=UTC)  # 23:30 in New York
    assert run(settings, store, late_evening) == {"sent": 0, "failed": 0, "skipped": 0, "unknown": 0}
    row = reminders(store)["a1:patient:confirmation:v1"]
    assert (row.status, row.due_at) == ("pending", datetime(2026, 6, 2, 12, tzinfo=UTC))  # 08:00 local
    # The dispatcher was down until ten minutes before the visit: the 1d reminder is too late,
    # and so is the confirmation, ten days past its time (notices.max_lateness, 1d by default).
    assert run(settings, store, START - timedelta(minutes=10)) == {"sent": 0, "failed": 0, "skipped": 2,
                                                                    "unknown": 0}
    assert reminders(store)["a1:patient:reminder:1d:v1"].reason == "too late"
    assert reminders(store)["a1:patient:confirmation:v1"].reason == "too late"


def test_an_appointment_cancelled_before_planning_caught_up_is_skipped(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE)
    book(store, settings)
    put(store, appointment("A1", START, status="cancelled"))  # not planned yet
    assert run(settings, store)["skipped"] == 1
    assert reminders(store)["a1:patient:confirmation:v1"].reason == "appointment cancelled"


def test_dry_run_changes_nothing(store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings = reminder_settings(BASE)
    book(store, settings)
    assert run(settings, store, dry_run=True)["sent"] == 1
    assert reminders(store)["a1:patient:confirmation:v1"].status == "pending"
    assert not (tmp_path / "texts.jsonl").exists()


def test_whatsapp_uses_the_approved_content_template(store: Store, reminder_settings: SettingsMaker,
                                                     tmp_path: Path) -> None:
    settings = reminder_settings(BASE.replace("sms: texts", "sms: texts, whatsapp: texts")
                                 + "\nwhatsapp_content: {confirmation: HX123}")
    book(store, settings, appointment("A1", START, channel="whatsapp", language="es"))
    run(settings, store)
    [line] = read_log(tmp_path / "texts.jsonl")
    assert (line["channel"], line["template_id"]) == ("whatsapp", "HX123")
    assert "Ana, su cita" in line["body"]  # Spanish text as the fallback body


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_sending_is_concurrent(store: Store, reminder_settings: SettingsMaker) -> None:
    """Four sends wait for each other at a barrier: they only pass if they are in flight together."""
    settings = reminder_settings(BASE + "\nworkers: 4", notifier_keys="barrier_parties: 4",
                                 outcomes=",".join(["{"] + [f'"+1212555010{i}": barrier' for i in range(4)])
                                 .replace("{,", "{") + "}")
    book(store, settings, *(appointment(f"A{i}", START, patient=f"P{i}", phone=f"+1212555010{i}")
                            for i in range(4)))
    assert run(settings, store)["sent"] == 4


def test_the_token_bucket_paces_sends() -> None:
    clock = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    bucket = TokenBucket(rate=5, capacity=1, clock=lambda: clock[0], sleep=sleep)
    for _ in range(11):
        bucket.acquire()
    assert clock[0] == pytest.approx(2.0)  # 10 more messages at 5 per second
    assert all(w == pytest.approx(0.2) for w in waits)


def test_a_new_bucket_never_sends_more_than_the_rate_in_its_first_second() -> None:
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    bucket = TokenBucket(rate=5, clock=lambda: clock[0], sleep=sleep)
    for _ in range(6):
        bucket.acquire()
    assert clock[0] == pytest.approx(1.0)  # no burst of 5 at once: the sixth goes a second after the first


def test_workers_start_the_next_batch_while_the_last_of_one_is_being_sent(
        store: Store, reminder_settings: SettingsMaker, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.sync.reminders.fakes import ScriptedNotifier

    settings = reminder_settings(BASE + "\nworkers: 2")  # batches of 16
    book(store, settings, *(appointment(f"A{i}", START + timedelta(hours=i), patient=f"P{i}") for i in range(20)))
    started: list[str] = []
    seen: list[int] = []
    lock = threading.Lock()
    send = ScriptedNotifier.send

    def last_of_the_batch_waits(self: ScriptedNotifier, message: Any) -> Any:
        with lock:
            started.append(message.idempotency_key)
            last = len(started) == 16
        if last:  # the 16th send waits (at most 10 s) for the other worker to start the 17th
            deadline = datetime.now(UTC) + timedelta(seconds=10)
            while len(started) < 17 and datetime.now(UTC) < deadline:
                time.sleep(0.01)
            seen.append(len(started))
        return send(self, message)

    monkeypatch.setattr(ScriptedNotifier, "send", last_of_the_batch_waits)
    assert run(settings, store)["sent"] == 20
    assert len(seen) == 1 and seen[0] >= 17  # the other worker did not idle at the batch boundary


def test_the_doctors_agenda_lists_the_days_appointments(store: Store, reminder_settings: SettingsMaker,
                                                        tmp_path: Path) -> None:
    settings = reminder_settings(BASE.replace("agenda: {enabled: false}", "agenda: {enabled: true, at: '07:00'}")
                                 .replace("offsets: [1d]", "offsets: []") + "\nconfirmation: false")
    today = datetime(2026, 6, 10, 10, tzinfo=UTC)  # 06:00 in New York
    put(store, appointment("A1", datetime(2026, 6, 10, 18, tzinfo=UTC)),
        appointment("A2", datetime(2026, 6, 10, 13, 30, tzinfo=UTC), patient="P2", type="Vaccination"),
        appointment("A3", datetime(2026, 6, 11, 13, tzinfo=UTC), patient="P3", doctor="D2",
                    doctor_email="ortiz@clinic.example.org"))
    plan(settings, store, today)
    put(store, appointment("A3", datetime(2026, 6, 11, 13, tzinfo=UTC), patient="P3", doctor="D2",
                           doctor_email="ortiz@clinic.example.org", status="cancelled"))
    assert run(settings, store, today) == {"sent": 0, "failed": 0, "skipped": 0, "unknown": 0}  # due at 07:00
    assert run(settings, store, today + timedelta(hours=1))["sent"] == 1
    [mail] = read_log(tmp_path / "mails.jsonl")
    assert mail["to"] == "hart@clinic.example.org" and mail["key"] == "agenda:c1:D1:2026-06-10"
    assert mail["subject"] == "Your agenda for Wed, Jun 10, 2026: 2 appointments"
    assert mail["body"].index("9:30") < mail["body"].index("2:00") and "Vaccination" in mail["body"]
    # Dr. Ortiz's only appointment tomorrow was cancelled: no agenda for him.
    assert run(settings, store, datetime(2026, 6, 11, 11, tzinfo=UTC))["skipped"] == 1
    assert reminders(store)["agenda:c1:D2:2026-06-11"].reason == "no appointments that day"


def test_the_same_bucket_refuses_without_waiting_per_key() -> None:
    """The REST API's per-source limit is this bucket too: past the burst it answers with
    the seconds to wait instead of sleeping, and each key has its own bucket."""
    clock = [0.0]
    buckets = KeyedBuckets(clock=lambda: clock[0])
    assert [buckets.try_acquire("a", 0.5, 2) for _ in range(3)] == [0.0, 0.0, pytest.approx(2.0)]
    assert buckets.try_acquire("b", 0.5, 2) == 0.0
    clock[0] += 2.0
    assert buckets.try_acquire("a", 0.5, 2) == 0.0
    assert buckets.try_acquire("a", 1.0, 2) == pytest.approx(1.0)  # a reloaded rate applies at once


def test_a_visit_given_to_another_doctor_today_is_told_to_both_doctors(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """same_day_changes: the doctor who had today's visit learns it left their schedule (at its
    old time), the one who has it now that it joined theirs; neither is told it "moved"."""
    settings = reminder_settings(BASE.replace("agenda: {enabled: false}",
                                              "agenda: {enabled: false, same_day_changes: true}")
                                 .replace("offsets: [1d]", "offsets: []") + "\nconfirmation: false")
    morning = datetime(2026, 6, 10, 12, tzinfo=UTC)  # 08:00 in New York
    put(store, appointment("A1", datetime(2026, 6, 10, 18, tzinfo=UTC)))  # today 14:00 with Dr. Hart
    plan(settings, store, morning - timedelta(days=2))
    # At 08:00 the desk gives it to Dr. Ortiz, an hour later (15:00).
    put(store, appointment("A1", datetime(2026, 6, 10, 19, tzinfo=UTC), doctor="D2",
                           doctor_email="ortiz@clinic.example.org"))
    plan(settings, store, morning)
    planned = reminders(store)
    assert {k: (r.recipient_ref, r.starts_at) for k, r in planned.items() if r.recipient == "practitioner"} == {
        "a1:practitioner:reassigned:v2": ("D1", datetime(2026, 6, 10, 18, tzinfo=UTC)),
        "a1:practitioner:assigned:v2": ("D2", datetime(2026, 6, 10, 19, tzinfo=UTC))}
    assert run(settings, store, morning)["sent"] == 3  # and the patient's notice of the new time, by SMS
    mails = {m["to"]: m for m in read_log(tmp_path / "mails.jsonl")}
    left, joined = mails["hart@clinic.example.org"], mails["ortiz@clinic.example.org"]
    assert left["body"].startswith("An appointment moved off your schedule: ") and "2:00" in left["body"]
    assert "moved to another doctor" in left["subject"]
    assert joined["body"].startswith("An appointment moved to your schedule: ") and "3:00" in joined["body"]
    assert "moved to you" in joined["subject"]


def test_a_visit_given_away_after_its_old_time_today_tells_only_its_new_doctor(
        store: Store, reminder_settings: SettingsMaker) -> None:
    settings = reminder_settings(BASE.replace("agenda: {enabled: false}",
                                              "agenda: {enabled: false, same_day_changes: true}")
                                 .replace("offsets: [1d]", "offsets: []") + "\nconfirmation: false")
    noon = datetime(2026, 6, 10, 16, tzinfo=UTC)  # 12:00 in New York
    put(store, appointment("A1", datetime(2026, 6, 10, 14, tzinfo=UTC)))  # 10:00, gone by
    plan(settings, store, noon - timedelta(days=2))
    put(store, appointment("A1", datetime(2026, 6, 10, 20, tzinfo=UTC), doctor="D2",
                           doctor_email="ortiz@clinic.example.org"))  # given away and moved to 16:00
    plan(settings, store, noon)
    assert [k for k, r in reminders(store).items() if r.recipient == "practitioner"] == [
        "a1:practitioner:assigned:v2"]


SAME_DAY = (BASE.replace("agenda: {enabled: false}", "agenda: {enabled: false, same_day_changes: true}")
            .replace("offsets: [1d]", "offsets: []") + "\nconfirmation: false")


@pytest.mark.parametrize(("changes", "told"), [
    pytest.param([("D2", 19), ("D3", 20)], {"reassigned": ("D1", 18), "assigned": ("D3", 20)},
                 id="given to a second doctor, then a third"),
    pytest.param([("D1", 19), ("D1", 20)], {"rescheduled": ("D1", 20)}, id="moved twice"),
    pytest.param([("D2", 19), None], {"cancelled": ("D1", 18)}, id="given away, then cancelled"),
    pytest.param([("D2", 19), ("D1", 18)], {}, id="given away and back"),
])
def test_several_changes_between_two_passes_tell_the_net_change(
        store: Store, reminder_settings: SettingsMaker, changes: list[tuple[str, int] | None],
        told: dict[str, tuple[str, int]]) -> None:
    """Pushes can change one of today's visits twice before planning runs: the doctors hear
    the change from what their schedule showed (Dr. Hart at 14:00) to what it is now, so the
    doctor who first had it learns it left, whoever had it in between."""
    settings = reminder_settings(SAME_DAY)
    morning = datetime(2026, 6, 10, 12, tzinfo=UTC)  # 08:00 in New York
    put(store, appointment("A1", datetime(2026, 6, 10, 18, tzinfo=UTC)))  # today 14:00 with D1
    plan(settings, store, morning - timedelta(days=2))
    for change in changes:
        if change is None:
            put(store, appointment("A1", datetime(2026, 6, 10, 19, tzinfo=UTC), doctor="D2", status="cancelled"))
        else:
            doctor, hour = change
            put(store, appointment("A1", datetime(2026, 6, 10, hour, tzinfo=UTC), doctor=doctor,
                                   doctor_email=f"{doctor.lower()}@clinic.example.org"))
    plan(settings, store, morning)
    version = 1 + len(changes)
    assert {k: (r.recipient_ref, r.starts_at) for k, r in reminders(store).items() if r.recipient == "practitioner"} \
        == {f"a1:practitioner:{kind}:v{version}": (doctor, datetime(2026, 6, 10, hour, tzinfo=UTC))
            for kind, (doctor, hour) in told.items()}


def test_a_patients_decline_reaches_the_doctor_who_has_the_visit_when_it_is_sent(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    """The doctor's `declined` notice is about the visit as it is now: given to another doctor
    (same time) before a stopped dispatcher sent it, it goes to that doctor, not to the one who
    had the visit when the patient answered (simulation seed 62, 90 days, PostgreSQL)."""
    settings = reminder_settings(BASE + "\nconfirmation: false")
    book(store, settings)
    assert handle_reply(settings, store, "sms", PHONE, "No", "SM1", BOOKED_AT).outcome == "applied"
    later = BOOKED_AT + timedelta(hours=2)
    put(store, appointment("A1", START, doctor="D2", doctor_email="ortiz@clinic.example.org"))
    plan(settings, store, later)
    run(settings, store, later)
    declined = [m["to"] for m in read_log(tmp_path / "mails.jsonl") if "declined" in m["subject"]]
    assert declined == ["ortiz@clinic.example.org"]
