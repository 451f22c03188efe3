"""The Google provider: the real google-api-python-client and google-auth against the
loopback fake (token endpoint, events, batch endpoint)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from clinicsync.sync.calendar.google import GoogleCalendar, Pacer, event_body
from clinicsync.sync.calendar.provider import EventContent, Op, Target, event_id
from tests.sync.calendar.fake_google import SCOPE, SERVICE_ACCOUNT, FakeGoogle

AMELIA = "amelia.hart@clinic.example.org"
RAFAEL = "rafael.ortiz@clinic.example.org"
START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def content(external_id: str, start: datetime = START, minutes: int = 30, summary: str = "Follow-up (J.W.)",
            timezone: str = "America/New_York") -> EventContent:
    return EventContent("csv", external_id, summary, "desc", "Main Street Clinic", start,
                        start + timedelta(minutes=minutes), timezone)


def insert(key: int, external_id: str, account: str = AMELIA, **kwargs) -> Op:  # type: ignore[no-untyped-def]
    return Op(key, "insert", Target("google", account, "primary"), event_id("csv", external_id),
              content(external_id, **kwargs))


@pytest.fixture
def google(google_calendar_settings):  # type: ignore[no-untyped-def]
    sleeps: list[float] = []
    provider = GoogleCalendar(google_calendar_settings().google, sleep=sleeps.append)
    provider.sleeps = sleeps  # type: ignore[attr-defined]
    yield provider
    provider.close()


def test_event_ids_are_deterministic_base32hex() -> None:
    first = event_id("csv", "A1")
    assert first == event_id("csv", "A1")
    assert len({first, event_id("csv", "A2"), event_id("sql", "A1"), event_id("csv", "A1 ")}) == 4
    assert set(first) <= set("abcdefghijklmnopqrstuv0123456789") and 5 <= len(first) <= 1024


def test_each_doctor_is_acted_as_through_delegation(google: GoogleCalendar, fake_google: FakeGoogle) -> None:
    outcomes = google.push([insert(1, "A1"), insert(2, "A2", account=RAFAEL), insert(3, "A3")])
    assert all(o.ok and o.state == "present" for o in outcomes)
    assert {c["sub"] for c in fake_google.assertions} == {AMELIA, RAFAEL}
    for claims in fake_google.assertions:
        assert claims["iss"] == SERVICE_ACCOUNT and claims["scope"] == SCOPE
    assert fake_google.token_requests == 2  # one token per doctor, reused across their calls
    assert set(fake_google.live(AMELIA)) == {event_id("csv", "A1"), event_id("csv", "A3")}
    assert set(fake_google.live(RAFAEL)) == {event_id("csv", "A2")}
    assert {c.principal for c in fake_google.calls if c.calendar == AMELIA} == {AMELIA}


def test_event_body_carries_zone_tags_and_no_invitation(google: GoogleCalendar, fake_google: FakeGoogle) -> None:
    google.push([insert(1, "A1")])
    [call] = fake_google.calls
    assert call.method == "POST" and call.in_batch and call.query["sendUpdates"] == ["none"]
    body = call.body
    assert body["id"] == event_id("csv", "A1")
    assert body["start"] == {"dateTime": "2026-12-01T09:00:00-05:00", "timeZone": "America/New_York"}
    assert body["end"] == {"dateTime": "2026-12-01T09:30:00-05:00", "timeZone": "America/New_York"}
    private = body["extendedProperties"]["private"]
    assert private["clinicsync"] == "1" and private["clinicsync_connector"] == "csv"
    assert private["clinicsync_external_id"] == "A1" and private["clinicsync_hash"] == content("A1").digest()
    assert body["attendees"] == [] and body["status"] == "confirmed"


def test_batches_hold_at_most_fifty_calls(google: GoogleCalendar, fake_google: FakeGoogle) -> None:
    ops = [insert(i, f"A{i}", start=START + timedelta(minutes=30 * i)) for i in range(120)]
    assert all(o.ok for o in google.push(ops))
    assert fake_google.api_requests == [("POST", "/batch/calendar/v3")] * 3
    sizes = [body.count(b"Content-ID:") for body in fake_google.batch_bodies]
    assert sizes == [50, 50, 20]
    first_part = fake_google.batch_bodies[0].decode()
    assert "POST /calendar/v3/calendars/primary/events?sendUpdates=none" in first_part
    assert "authorization: Bearer " in first_part
    assert len(fake_google.live(AMELIA)) == 120


def test_insert_of_an_existing_id_becomes_an_update(google: GoogleCalendar, fake_google: FakeGoogle) -> None:
    google.push([insert(1, "A1")])
    outcomes = google.push([insert(1, "A1", start=START + timedelta(hours=1))])
    assert outcomes[0].ok and outcomes[0].state == "present"
    assert [(c.method, c.status) for c in fake_google.calls] == [("POST", 200), ("POST", 409), ("PUT", 200)]
    [event] = fake_google.live(AMELIA).values()
    assert event["start"]["dateTime"] == "2026-12-01T10:00:00-05:00"


def test_a_deleted_event_comes_back_with_its_id(google: GoogleCalendar, fake_google: FakeGoogle) -> None:
    google.push([insert(1, "A1")])
    target, eid = Target("google", AMELIA, "primary"), event_id("csv", "A1")
    assert google.push([Op(1, "delete", target, eid)])[0].state == "deleted"
    assert fake_google.calendars[AMELIA][eid]["status"] == "cancelled" and not fake_google.live(AMELIA)
    assert google.push([insert(1, "A1")])[0].ok  # 409 on the kept id → update to confirmed
    assert fake_google.live(AMELIA)[eid]["status"] == "confirmed"
    assert len(fake_google.calendars[AMELIA]) == 1


def test_gone_events_settle_quietly(google: GoogleCalendar, fake_google: FakeGoogle) -> None:
    target = Target("google", AMELIA, "primary")
    google.push([insert(1, "A1")])
    google.push([Op(1, "delete", target, event_id("csv", "A1"))])
    outcomes = google.push([Op(1, "delete", target, event_id("csv", "A1")),  # 410: deleted already
                            Op(2, "delete", target, event_id("csv", "never"))])  # 404: never existed
    assert [(o.ok, o.state) for o in outcomes] == [(True, "deleted"), (True, "deleted")]
    patched = google.push([Op(3, "patch", target, event_id("csv", "B1"), content("B1"))])  # 404 → insert
    assert patched[0].ok and event_id("csv", "B1") in fake_google.live(AMELIA)


def test_rate_limits_and_server_errors_are_retried(google: GoogleCalendar, fake_google: FakeGoogle) -> None:
    fake_google.fail(403, "rateLimitExceeded", event_id=event_id("csv", "A1"))
    fake_google.fail(403, "userRateLimitExceeded", event_id=event_id("csv", "A2"))
    fake_google.fail(429, "rateLimitExceeded", batch=True)
    fake_google.fail(500, "backendError", batch=True)
    fake_google.fail(503, "backendError", event_id=event_id("csv", "A3"))
    outcomes = google.push([insert(i, f"A{i}", start=START + timedelta(hours=i)) for i in range(1, 5)])
    assert all(o.ok for o in outcomes)
    assert len(fake_google.live(AMELIA)) == 4
    assert len(google.sleeps) == 3  # type: ignore[attr-defined]  # two whole-batch faults, one round of retries
    assert all(0 < s <= 0.005 + 0.001 for s in google.sleeps)  # type: ignore[attr-defined]


def test_partial_batch_failure_fails_only_that_event(google: GoogleCalendar, fake_google: FakeGoogle) -> None:
    fake_google.fail(403, "forbiddenForNonOrganizer", event_id=event_id("csv", "A2"))
    fake_google.fail(400, "invalid", event_id=event_id("csv", "A3"))
    outcomes = google.push([insert(i, f"A{i}", start=START + timedelta(hours=i)) for i in range(1, 5)])
    assert [o.ok for o in outcomes] == [True, False, False, True]
    assert outcomes[1].error == "HTTP 403 forbiddenForNonOrganizer" and outcomes[2].error == "HTTP 400 invalid"
    assert not google.sleeps  # type: ignore[attr-defined]  # not a passing fault: no backoff
    assert len(fake_google.live(AMELIA)) == 2


def test_retries_are_bounded(google: GoogleCalendar, fake_google: FakeGoogle) -> None:
    fake_google.fail(500, "backendError", times=99, event_id=event_id("csv", "A1"))
    outcomes = google.push([insert(1, "A1"), insert(2, "A2", start=START + timedelta(hours=2))])
    assert outcomes[0].error == "HTTP 500 backendError" and not outcomes[0].ok
    assert outcomes[1].ok
    assert len(google.sleeps) == 3  # type: ignore[attr-defined]  # attempts=4 → three waits


def test_refused_delegation_fails_only_that_doctor(google: GoogleCalendar, fake_google: FakeGoogle) -> None:
    fake_google.refused_subjects.add(RAFAEL)
    outcomes = google.push([insert(1, "A1"), insert(2, "A2", account=RAFAEL)])
    assert outcomes[0].ok
    assert not outcomes[1].ok and outcomes[1].error == "token refused: unauthorized_client"
    assert not fake_google.live(RAFAEL)


def test_a_shared_calendar_is_written_as_the_service_account(google: GoogleCalendar,
                                                             fake_google: FakeGoogle) -> None:
    shared = "c_team@group.calendar.google.com"
    fake_google.shared[shared] = {SERVICE_ACCOUNT}
    op = Op(1, "insert", Target("google", "", shared), event_id("csv", "A1"), content("A1"))
    assert google.push([op])[0].ok
    assert "sub" not in fake_google.assertions[0]
    assert set(fake_google.live(shared)) == {event_id("csv", "A1")}
    assert "/calendars/c_team%40group.calendar.google.com/events" in fake_google.batch_bodies[0].decode()


def test_list_pages_through_clinicsync_events_only(google: GoogleCalendar, fake_google: FakeGoogle) -> None:
    fake_google.page_size = 2
    google.push([insert(i, f"A{i}", start=START + timedelta(hours=i)) for i in range(5)])
    google.push([Op(0, "delete", Target("google", AMELIA, "primary"), event_id("csv", "A0"))])
    fake_google.calendars[AMELIA]["personal1"] = {  # the doctor's own event: not ours, never listed
        "id": "personal1", "status": "confirmed", "summary": "Dentist",
        "start": {"dateTime": "2026-12-01T08:00:00-05:00"}, "end": {"dateTime": "2026-12-01T09:00:00-05:00"}}
    fake_google.reset_counts()
    events = google.list_events(Target("google", AMELIA, "primary"), START - timedelta(days=1))
    assert len(fake_google.api_requests) == 3  # 5 events, pages of 2
    assert sorted(e.private["clinicsync_external_id"] for e in events) == [f"A{i}" for i in range(5)]
    assert [e.cancelled for e in sorted(events, key=lambda e: e.start)] == [True, False, False, False, False]
    first = next(e for e in events if e.private["clinicsync_external_id"] == "A1")
    assert first.start == START + timedelta(hours=1) and first.end == START + timedelta(hours=1, minutes=30)
    query = fake_google.calls[0].query
    assert query["privateExtendedProperty"] == ["clinicsync=1"] and query["showDeleted"] == ["true"]


def test_pacer_keeps_calls_per_user_under_the_quota() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(100, lambda: now[0], sleep)
    pacer.wait("a", 50)
    pacer.wait("a", 50)
    pacer.wait("b", 50)  # another user has their own quota
    assert slept == []
    now[0] = 10.0
    pacer.wait("a", 50)  # the window is full until the first 50 are a minute old
    assert slept == [50.0]


def test_patch_body_restates_every_managed_field() -> None:
    op = Op(1, "patch", Target("google", AMELIA, "primary"), "abcde", content("A1"))
    body = event_body(op, "patch")
    assert "id" not in body
    assert set(body) >= {"summary", "description", "location", "start", "end", "status", "transparency",
                         "attendees", "extendedProperties"}
    json.dumps(body)


def test_batches_are_filled_across_doctors(google: GoogleCalendar, fake_google: FakeGoogle) -> None:
    ops = [insert(i, f"A{i}", start=START + timedelta(minutes=30 * i)) for i in range(30)]
    ops += [insert(100 + i, f"R{i}", account=RAFAEL, start=START + timedelta(minutes=30 * i)) for i in range(30)]
    assert all(o.ok for o in google.push(ops))
    assert [body.count(b"Content-ID:") for body in fake_google.batch_bodies] == [50, 10]  # not 30, 30
    assert fake_google.token_requests == 2
    assert {c.principal for c in fake_google.calls if c.calendar == RAFAEL} == {RAFAEL}  # each part its own token
    assert len(fake_google.live(AMELIA)) == len(fake_google.live(RAFAEL)) == 30


def test_refused_delegation_never_fails_a_shared_batch(google: GoogleCalendar, fake_google: FakeGoogle) -> None:
    fake_google.refused_subjects.add(RAFAEL)
    ops = [insert(1, "A1"), insert(2, "R1", account=RAFAEL), insert(3, "A3", start=START + timedelta(hours=1))]
    outcomes = google.push(ops)
    assert [o.ok for o in outcomes] == [True, False, True]
    assert fake_google.api_requests == [("POST", "/batch/calendar/v3")]  # Rafael's call was never sent


def test_a_later_provider_reuses_the_tokens_of_this_process(google_calendar_settings,  # type: ignore[no-untyped-def]
                                                            fake_google: FakeGoogle) -> None:
    settings = google_calendar_settings().google
    for run, external_id in enumerate(["A1", "A2"]):
        provider = GoogleCalendar(settings, sleep=lambda _: None)
        assert provider.push([insert(run, external_id, start=START + timedelta(hours=run))])[0].ok
        provider.close()
    assert fake_google.token_requests == 1  # the second run's token was still valid
    assert len(fake_google.live(AMELIA)) == 2
