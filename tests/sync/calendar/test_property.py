"""Property: any interleaving of create / reschedule / cancel / re-book / change of doctor,
with syncs, faults and crashes in between, followed by one clean sync, leaves every
calendar equal to the store's truth — each shown appointment exactly once, nothing else."""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import SQLModel

from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.calendar.google import GoogleCalendar
from clinicsync.sync.calendar.provider import event_id
from clinicsync.sync.calendar.push import push
from clinicsync.sync.config.settings.calendar import CalendarSettings
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.store import Store
from tests.sync.calendar.fake_google import FakeGoogle
from tests.sync.calendar.helpers import DOCTORS, apply, appointment, base_time

NEW_YORK = ZoneInfo("America/New_York")
IDS = st.sampled_from(["A0", "A1", "A2", "A3"])
DOCTOR = st.sampled_from(["D01", "D02", "D09"])  # D09 has no email: no calendar
STEP = st.one_of(
    st.tuples(st.just("book"), IDS, DOCTOR, st.integers(0, 20)),
    st.tuples(st.just("move"), IDS, st.integers(-3, 3)),
    st.tuples(st.just("cancel"), IDS),
    st.tuples(st.just("noshow"), IDS),
    st.tuples(st.just("doctor"), IDS, DOCTOR),
    st.tuples(st.just("sync"), st.sampled_from(["clean", "server-errors", "one-rejected", "crash"])),
)


def _apply_step(step: tuple[Any, ...], store: Store, truth: dict[str, NormalizedAppointment]) -> None:
    kind, key = step[0], step[1]
    current = truth.get(key)
    if kind == "book":
        new = appointment(key, start=base_time() + timedelta(hours=step[3]), doctor=step[2])
    elif current is None:
        return
    elif kind == "move":
        delta = timedelta(hours=step[2])
        new = replace(current, start=current.start + delta, end=current.end + delta)
    elif kind in ("cancel", "noshow"):
        new = replace(current, status="cancelled" if kind == "cancel" else "noshow")
    else:
        new = appointment(key, start=current.start, doctor=step[2], status=current.status)
    truth[key] = new
    apply(store, new)


def _sync(mode: str, calendar: CalendarSettings, store: Store, fake: FakeGoogle) -> None:
    provider = GoogleCalendar(calendar.google, sleep=lambda _: None)
    hook = None
    if mode == "server-errors":
        fake.fail(500, "backendError", times=2)
        fake.fail(429, "rateLimitExceeded", batch=True)
    elif mode == "one-rejected":
        fake.fail(400, "invalid")
    elif mode == "crash":
        def hook(ops: Any, outcomes: Any) -> None:
            raise RuntimeError("crash before bookkeeping")
    try:
        push(calendar, store.engine, provider, on_outcomes=hook)
    except RuntimeError:
        pass
    finally:
        provider.close()
        fake.faults.clear()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, max_size=14))
# Found here: the delete sent, a crash before its bookkeeping, the visit booked again as
# it was: the link still vouched for the deleted event, and no run brought it back.
@example(steps=[("book", "A0", "D01", 0), ("book", "A2", "D01", 7), ("sync", "clean"), ("cancel", "A2"),
                ("sync", "crash"), ("book", "A2", "D01", 7)])
def test_calendars_converge_on_the_truth(steps: list[tuple[Any, ...]], google_calendar_settings,
                                         fake_google: FakeGoogle) -> None:  # type: ignore[no-untyped-def]
    calendar = google_calendar_settings()
    fake_google.clear()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'store.db'}")
        SQLModel.metadata.create_all(engine)
        store = Store(engine)
        truth: dict[str, NormalizedAppointment] = {}
        for step in steps:
            if step[0] == "sync":
                _sync(step[1], calendar, store, fake_google)
            else:
                _apply_step(step, store, truth)
        _sync("clean", calendar, store, fake_google)

        expected = {}
        for key, a in truth.items():
            email = DOCTORS[a.practitioner.external_id][1] if a.practitioner else None
            if a.status in ("booked", "noshow") and email:
                expected[key] = (email, a.start, a.end)
        shown: Counter[str] = Counter()
        actual = {}
        for calendar_id in list(fake_google.calendars):
            for event in fake_google.live(calendar_id).values():
                key = event["extendedProperties"]["private"]["clinicsync_external_id"]
                assert event["id"] == event_id("csv", key)
                shown[key] += 1
                actual[key] = (calendar_id, event["start"]["dateTime"], event["end"]["dateTime"])
        assert all(n == 1 for n in shown.values()), shown  # never a duplicate
        assert set(actual) == set(expected)
        for key, (email, start, end) in expected.items():
            assert actual[key] == (email, start.astimezone(NEW_YORK).isoformat(), end.astimezone(NEW_YORK).isoformat())

        fake_google.reset_counts()
        _sync("clean", calendar, store, fake_google)
        assert fake_google.api_requests == []  # converged: the next run has nothing to say
        engine.dispose()

