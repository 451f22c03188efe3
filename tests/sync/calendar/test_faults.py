"""The push stage under provider faults (issue #8): the real google-api-python-client
against the fake Google answering 429/500/503, resetting connections and timing out at
random (seeded), on whole batch requests and on calls inside them. Pushing again and again,
as each `sync --once` would, every appointment ends as exactly one event in its doctor's
calendar: a batch that was done but never answered is sent again, and its inserts' 409
become updates of the events that already exist."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from clinicsync.sync.calendar.google import GoogleCalendar
from clinicsync.sync.calendar.provider import event_id
from clinicsync.sync.calendar.push import push
from clinicsync.sync.store.model.calendar import LINKS
from clinicsync.sync.store.store import Store
from tests.faults import AMBIGUOUS, CLEAN, FaultPlan, FaultRates
from tests.sync.calendar.fake_google import FakeGoogle
from tests.sync.calendar.helpers import DOCTORS, apply, appointment, base_time

BATCH_FAULTS = FaultRates(throttle=0.06, error=0.05, unavailable=0.05, reset_before=0.05, reset_after=0.06,
                          timeout=0.05)
CALL_FAULTS = FaultRates(throttle=0.08, error=0.04, unavailable=0.04)
MAX_RUNS = 30
COUNT = 120


@pytest.mark.parametrize("seed", [11, 12])
def test_every_appointment_is_one_event_whatever_the_faults(
        store: Store, fake_google: FakeGoogle, google_calendar_settings, seed: int) -> None:  # type: ignore[no-untyped-def]
    doctors = ["D01", "D02", "D03"]
    appointments = [appointment(f"A{n}", base_time() + timedelta(minutes=15 * n), doctor=doctors[n % 3])
                    for n in range(COUNT)]
    apply(store, *appointments)
    fake_google.chaos = FaultPlan(BATCH_FAULTS, seed=seed)
    fake_google.part_chaos = FaultPlan(CALL_FAULTS, seed=seed + 1000)
    settings = google_calendar_settings(google={"timeout_seconds": 0.3, "batch_size": 4})
    waits: list[float] = []
    reports = []
    for _ in range(MAX_RUNS):
        provider = GoogleCalendar(settings.google, sleep=waits.append)
        try:
            reports.append(push(settings, store.engine, provider).as_dict())
        finally:
            provider.close()
        if reports[-1]["failed"] == 0:
            break
    else:
        raise AssertionError(f"still failing after {MAX_RUNS} runs: {reports[-1]}")

    # One more run finds nothing to do.
    provider = GoogleCalendar(settings.google, sleep=waits.append)
    try:
        assert push(settings, store.engine, provider).as_dict() == {
            "inserted": 0, "patched": 0, "deleted": 0, "unchanged": COUNT, "failed": 0, "skipped": 0}
    finally:
        provider.close()

    # Exactly one event per appointment, in its doctor's calendar, and nothing else.
    for index, doctor in enumerate(doctors):
        calendar = DOCTORS[doctor][1]
        assert set(fake_google.calendars[calendar]) == {
            event_id("csv", f"A{n}") for n in range(index, COUNT, len(doctors))}
        assert set(fake_google.live(calendar)) == set(fake_google.calendars[calendar])
    assert sum(len(events) for events in fake_google.calendars.values()) == COUNT
    with store.engine.connect() as connection:
        assert Counter(connection.execute(select(LINKS.c.state)).scalars()) == {"present": COUNT}

    # The run really met the faults; the ones that left work done but unanswered were
    # resolved by 409 → update; every passing fault was retried after a backoff.
    met = Counter(fault for _key, fault in fake_google.chaos.log)
    assert all(met[fault] > 0 for fault in CLEAN | AMBIGUOUS), met
    statuses = Counter((call.method, call.status) for call in fake_google.calls)
    assert statuses[("POST", 409)] > 0 and statuses[("PUT", 200)] > 0, statuses
    assert statuses[("POST", 200)] == COUNT  # each event was created once; every other insert met a 409
    assert waits and all(wait > 0 for wait in waits)
    assert fake_google.chaos.hang_ups and all(fake_google.chaos.hang_ups)


@pytest.mark.parametrize("fault", sorted(CLEAN | AMBIGUOUS))
def test_a_token_endpoint_fault_is_retried_in_the_same_run(
        store: Store, fake_google: FakeGoogle, google_calendar_settings, fault: str) -> None:  # type: ignore[no-untyped-def]
    """Fetching the access token is safe to repeat: a reset or no answer there is a passing
    fault like any other, not a refusal that fails the run's calls."""
    apply(store, appointment("A1"), appointment("A2", doctor="D02"))
    fake_google.token_chaos = FaultPlan(FaultRates(**{fault: 1.0}), limit=1)
    settings = google_calendar_settings(google={"timeout_seconds": 0.3})
    waits: list[float] = []
    provider = GoogleCalendar(settings.google, sleep=waits.append)
    try:
        report = push(settings, store.engine, provider).as_dict()
    finally:
        provider.close()
    assert report["inserted"] == 2 and report["failed"] == 0, report
    assert [f for _key, f in fake_google.token_chaos.log] == [fault, None, None]
    assert all(fake_google.token_chaos.hang_ups)  # the client gave up on its own, after its timeout


@pytest.mark.parametrize("where", ["batch", "call"])
def test_retry_after_is_honoured(store: Store, fake_google: FakeGoogle, google_calendar_settings,  # type: ignore[no-untyped-def]
                                 where: str) -> None:
    """A 429 with Retry-After (on the batch request, or on one call inside it) is retried no
    sooner than it says, even when the exponential backoff would be shorter."""
    apply(store, appointment("A1"))
    plan_ = FaultPlan(FaultRates(throttle=1.0), limit=1, retry_after=7)
    if where == "batch":
        fake_google.chaos = plan_
    else:
        fake_google.part_chaos = plan_
    settings = google_calendar_settings(google={"retry": {"attempts": 3, "initial_seconds": 0.001,
                                                          "max_seconds": 30}})
    waits: list[float] = []
    provider = GoogleCalendar(settings.google, sleep=waits.append)
    try:
        assert push(settings, store.engine, provider).as_dict()["inserted"] == 1
    finally:
        provider.close()
    assert len(waits) == 1 and 7 <= waits[0] <= 30, waits
