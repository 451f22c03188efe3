"""The push stage against the fake Google: the store's truth lands in each doctor's
calendar exactly once, moves, disappears, and a second run calls nothing."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from clinicsync.sync.calendar.google import GoogleCalendar
from clinicsync.sync.calendar.provider import Op, Outcome, event_id
from clinicsync.sync.calendar.push import push
from clinicsync.sync.config.settings.calendar import CalendarSettings
from clinicsync.sync.store.model.calendar import LINKS
from clinicsync.sync.store.store import Store
from tests.sync.calendar.fake_google import FakeGoogle
from tests.sync.calendar.helpers import DOCTORS, PATIENT, apply, appointment, base_time, moved

AMELIA, RAFAEL = DOCTORS["D01"][1], DOCTORS["D02"][1]
NEW_YORK = ZoneInfo("America/New_York")


class Pusher:
    """push() with a fresh provider per run, as each `sync --once` has."""

    def __init__(self, settings: CalendarSettings, store: Store) -> None:
        self.settings, self.store = settings, store

    def __call__(self, **kwargs: Any) -> dict[str, int]:
        provider = GoogleCalendar(self.settings.google, sleep=lambda _: None)
        try:
            return push(self.settings, self.store.engine, provider, **kwargs).as_dict()
        finally:
            provider.close()


@pytest.fixture
def run(google_calendar_settings, store: Store) -> Pusher:  # type: ignore[no-untyped-def]
    return Pusher(google_calendar_settings(), store)


def only_event(fake: FakeGoogle, calendar: str) -> dict[str, Any]:
    events = list(fake.live(calendar).values())
    assert len(events) == 1, events
    return events[0]


def test_create_reschedule_cancel(run: Pusher, store: Store, fake_google: FakeGoogle) -> None:
    a1 = appointment("A1")
    apply(store, a1, appointment("A2", doctor="D02"))
    assert run() == {"inserted": 2, "patched": 0, "deleted": 0, "unchanged": 0, "failed": 0, "skipped": 0}
    event = only_event(fake_google, AMELIA)
    assert event["id"] == event_id("csv", "A1")
    assert event["summary"] == "Follow-up (J.W.)"
    assert event["start"]["timeZone"] == "America/New_York"
    only_event(fake_google, RAFAEL)

    apply(store, moved(a1, 90))
    assert run()["patched"] == 1
    event = only_event(fake_google, AMELIA)
    assert event["start"]["dateTime"] == (a1.start + timedelta(minutes=90)).astimezone(NEW_YORK).isoformat()
    assert [c.method for c in fake_google.calls[-1:]] == ["PATCH"]

    apply(store, appointment("A1", start=a1.start + timedelta(minutes=90), status="cancelled"))
    assert run()["deleted"] == 1
    assert not fake_google.live(AMELIA)
    assert fake_google.calendars[AMELIA][event_id("csv", "A1")]["status"] == "cancelled"

    fake_google.reset_counts()  # A1 stays deleted, A2 stays as it is
    assert run() == {"inserted": 0, "patched": 0, "deleted": 0, "unchanged": 2, "failed": 0, "skipped": 0}
    assert fake_google.api_requests == [] and fake_google.token_requests == 0


def test_rebooking_brings_the_same_event_back(run: Pusher, store: Store, fake_google: FakeGoogle) -> None:
    a1 = appointment("A1")
    apply(store, a1)
    run()
    apply(store, appointment("A1", status="cancelled"))
    run()
    apply(store, a1)
    assert run()["patched"] == 1  # an update of the kept id, not an insert that fails on 409
    assert [(c.method, c.status) for c in fake_google.calls[-1:]] == [("PUT", 200)]
    assert only_event(fake_google, AMELIA)["status"] == "confirmed"
    assert len(fake_google.calendars[AMELIA]) == 1


def test_noshow_patches_the_title(run: Pusher, store: Store, fake_google: FakeGoogle) -> None:
    apply(store, appointment("A1"))
    run()
    apply(store, appointment("A1", status="noshow"))
    assert run()["patched"] == 1
    assert only_event(fake_google, AMELIA)["summary"] == "No-show: Follow-up (J.W.)"


def test_a_new_doctor_moves_the_event_between_calendars(run: Pusher, store: Store,
                                                         fake_google: FakeGoogle) -> None:
    apply(store, appointment("A1"))
    run()
    apply(store, appointment("A1", doctor="D02"))
    assert run() == {"inserted": 1, "patched": 0, "deleted": 1, "unchanged": 0, "failed": 0, "skipped": 0}
    assert not fake_google.live(AMELIA)
    assert only_event(fake_google, RAFAEL)["id"] == event_id("csv", "A1")


def test_unmapped_practitioners_are_skipped_and_counted(google_calendar_settings, store: Store,
                                                        fake_google: FakeGoogle) -> None:  # type: ignore[no-untyped-def]
    settings = google_calendar_settings(calendars=[{"practitioner": "D02", "skip": True}])
    apply(store, appointment("A1"), appointment("A2", doctor="D02"), appointment("A3", doctor="D09"),
          appointment("A4", doctor=None), appointment("A5", doctor="D09", status="cancelled"))
    report = Pusher(settings, store)()
    assert report["inserted"] == 1 and report["skipped"] == 3 and report["failed"] == 0
    assert set(fake_google.calendars) == {AMELIA}


def test_rules_route_to_shared_calendars(google_calendar_settings, store: Store,
                                         fake_google: FakeGoogle) -> None:  # type: ignore[no-untyped-def]
    shared = "c_rafael@group.calendar.google.com"
    fake_google.shared[shared] = {"frontdesk@clinic.example.org"}
    settings = google_calendar_settings(calendars=[
        {"email": RAFAEL.upper(), "calendar_id": shared, "user": "frontdesk@clinic.example.org"}])
    apply(store, appointment("A1"), appointment("A2", doctor="D02"))
    assert Pusher(settings, store)()["inserted"] == 2
    only_event(fake_google, shared)
    only_event(fake_google, AMELIA)
    assert {c["sub"] for c in fake_google.assertions} == {AMELIA, "frontdesk@clinic.example.org"}


def test_mark_cancelled_keeps_a_free_marked_event(google_calendar_settings, store: Store,
                                                  fake_google: FakeGoogle) -> None:  # type: ignore[no-untyped-def]
    run = Pusher(google_calendar_settings(cancelled_action="mark_cancelled"), store)
    apply(store, appointment("A1"), appointment("A2", status="cancelled",
                                                start=base_time() + timedelta(hours=2)))
    assert run()["inserted"] == 1  # a never-pushed cancellation is not created just to be marked
    apply(store, appointment("A1", status="cancelled"))
    assert run()["patched"] == 1
    event = only_event(fake_google, AMELIA)
    assert event["summary"] == "Cancelled: Follow-up (J.W.)" and event["transparency"] == "transparent"


def test_privacy_by_default_and_invitations_when_asked(google_calendar_settings, store: Store,
                                                       fake_google: FakeGoogle) -> None:  # type: ignore[no-untyped-def]
    apply(store, appointment("A1"))
    Pusher(google_calendar_settings(), store)()
    stored = json.dumps(fake_google.calendars)
    for secret in (PATIENT.name, PATIENT.phone, PATIENT.email, "Jamal", "Weber"):
        assert secret not in stored
    assert fake_google.calls[0].query["sendUpdates"] == ["none"]

    Pusher(google_calendar_settings(invite_patient=True), store)()
    event = only_event(fake_google, AMELIA)
    assert event["attendees"] == [{"email": PATIENT.email}]
    assert fake_google.calls[-1].method == "PATCH" and fake_google.calls[-1].query["sendUpdates"] == ["all"]


def test_one_failure_never_blocks_the_others_and_is_retried(run: Pusher, store: Store,
                                                            fake_google: FakeGoogle) -> None:
    start = base_time()
    apply(store, *(appointment(f"A{i}", start=start + timedelta(hours=i)) for i in range(3)))
    fake_google.fail(400, "invalid", event_id=event_id("csv", "A1"))
    assert run() == {"inserted": 2, "patched": 0, "deleted": 0, "unchanged": 0, "failed": 1, "skipped": 0}
    with store.engine.connect() as connection:
        failing = connection.execute(select(LINKS).where(LINKS.c.attempts > 0)).one()
    assert failing.state == "pending" and failing.last_error == "HTTP 400 invalid"
    assert run() == {"inserted": 1, "patched": 0, "deleted": 0, "unchanged": 2, "failed": 0, "skipped": 0}
    assert len(fake_google.live(AMELIA)) == 3


@pytest.mark.parametrize("lost", ["bookkeeping", "link rows"])
def test_a_crash_after_the_insert_leaves_one_event(run: Pusher, store: Store, fake_google: FakeGoogle,
                                                   lost: str) -> None:
    apply(store, appointment("A1"), appointment("A2", start=base_time() + timedelta(hours=1)))

    def crash(ops: Any, outcomes: Any) -> None:
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        run(on_outcomes=crash)
    assert len(fake_google.live(AMELIA)) == 2
    if lost == "link rows":
        with store.engine.begin() as connection:
            connection.execute(delete(LINKS))
    assert run()["inserted"] == 2  # 409 → update, counted as the insert it settles
    assert len(fake_google.calendars[AMELIA]) == 2
    fake_google.reset_counts()
    assert run()["unchanged"] == 2 and fake_google.api_requests == []


def test_a_crash_then_a_cancellation_still_removes_the_event(run: Pusher, store: Store,
                                                             fake_google: FakeGoogle) -> None:
    apply(store, appointment("A1"))

    def crash(ops: Any, outcomes: Any) -> None:
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        run(on_outcomes=crash)
    apply(store, appointment("A1", status="cancelled"))
    assert run()["deleted"] == 1  # the pending link remembers the unconfirmed insert
    assert not fake_google.live(AMELIA)


@pytest.mark.parametrize("back", ["booked again", "moved back"])
def test_a_crash_after_a_change_then_the_truth_back_as_pushed_still_converges(
        run: Pusher, store: Store, fake_google: FakeGoogle, back: str) -> None:
    """A crash between the calls and the bookkeeping, then the truth back to what the link says
    was pushed before the next run (found by test_property.py): cancelled, its delete sent, the
    crash, booked again; or moved, its patch sent, the crash, moved back. The link must not
    vouch for the event the crash left behind: the next run brings the calendar to the truth."""
    booked = appointment("A1")
    apply(store, booked)
    run()

    def crash(ops: Any, outcomes: Any) -> None:
        raise RuntimeError("power cut")

    changed = appointment("A1", status="cancelled") if back == "booked again" else moved(booked, 90)
    apply(store, changed)
    with pytest.raises(RuntimeError):
        run(on_outcomes=crash)
    apply(store, booked)
    run()
    [event] = fake_google.live(AMELIA).values()
    assert event["start"]["dateTime"] == booked.start.astimezone(ZoneInfo(booked.timezone)).isoformat()
    fake_google.reset_counts()
    assert run()["unchanged"] == 1 and fake_google.api_requests == []


def test_two_workers_never_duplicate(google_calendar_settings, store: Store,
                                     fake_google: FakeGoogle) -> None:  # type: ignore[no-untyped-def]
    settings = google_calendar_settings()
    start = base_time()
    apply(store, *(appointment(f"A{i}", start=start + timedelta(hours=i), doctor=("D01", "D02")[i % 2])
                   for i in range(40)))
    barrier = threading.Barrier(2)
    reports: list[dict[str, int]] = []

    def worker() -> None:
        provider = GoogleCalendar(settings.google, sleep=lambda _: None)
        barrier.wait()
        reports.append(push(settings, store.engine, provider).as_dict())
        provider.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r["failed"] == 0 for r in reports)
    assert len(fake_google.calendars[AMELIA]) == len(fake_google.live(AMELIA)) == 20
    assert len(fake_google.calendars[RAFAEL]) == len(fake_google.live(RAFAEL)) == 20
    with store.engine.connect() as connection:
        assert connection.execute(select(LINKS.c.state)).scalars().all() == ["present"] * 40


def test_appointments_past_the_window_are_left_alone(run: Pusher, store: Store, fake_google: FakeGoogle) -> None:
    apply(store, appointment("OLD", start=base_time() - timedelta(days=40)),
          appointment("RECENT", start=base_time() - timedelta(days=5)))
    assert run()["inserted"] == 1
    assert only_event(fake_google, AMELIA)["extendedProperties"]["private"]["clinicsync_external_id"] == "RECENT"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the client's cost, not the store's
def test_a_thousand_new_appointments_take_at_most_25_requests(run: Pusher, store: Store,
                                                              fake_google: FakeGoogle) -> None:
    start = base_time()
    doctors = ["D01", "D02", "D03", "D04"]
    apply(store, *(appointment(f"A{i}", start=start + timedelta(minutes=15 * i), doctor=doctors[i % 4])
                   for i in range(1000)))
    assert run()["inserted"] == 1000
    assert len(fake_google.api_requests) <= 25
    assert len(fake_google.api_requests) == 20  # 4 doctors, 250 events each, 50 per batch
    assert sum(len(fake_google.live(DOCTORS[d][1])) for d in doctors) == 1000


def test_outcomes_hook_sees_every_operation(run: Pusher, store: Store) -> None:
    apply(store, appointment("A1"))
    seen: list[tuple[list[Op], list[Outcome]]] = []
    run(on_outcomes=lambda ops, outcomes: seen.append((list(ops), list(outcomes))))
    [(ops, outcomes)] = seen
    assert [op.kind for op in ops] == ["insert"] and outcomes[0].ok
