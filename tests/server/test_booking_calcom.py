"""Cal.com webhooks end to end through the real app, with Cal.com's documented payloads
(tests/fixtures/calcom) signed as Cal.com signs them: booked, replayed, rescheduled under a
new uid (one appointment moved, a `rescheduled` event), cancelled through the new uid;
forged, unsigned, 'no-secret-provided' and stale bodies refused with nothing stored;
malformed bodies answered 400 naming the field, or quarantined naming it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog.testing
from fastapi import FastAPI

from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.store import Store
from tests.server.booking_support import (
    appointments,
    client_for,
    counted,
    events,
    fixture,
    hex_hmac,
    quarantined,
    runs,
)

pytestmark = pytest.mark.anyio
SECRET = "test-cal-secret"  # the research's fake secret (its test vectors use it)
URL = "/webhooks/calcom/booking"


@pytest.fixture
def settings(write_settings: Callable[..., Path], tmp_path: Path) -> Settings:
    (tmp_path / "cal.secret").write_text(SECRET + "\n", encoding="utf-8")
    return load_settings(write_settings(connectors="""
- name: booking
  kind: calcom
  secret_file: cal.secret
- name: throttled
  kind: calcom
  secret_file: cal.secret
  rate_per_second: 0.01
  burst: 1
"""))


@pytest.fixture
def app(settings: Settings, store: Store) -> FastAPI:
    return create_app(settings, store)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as client:
        yield client


def body(name: str, age_seconds: float = 5, **payload: Any) -> bytes:
    """A documented example as Cal.com would send it now (compact JSON, fresh createdAt)."""
    data = json.loads(fixture("calcom", name))
    data["createdAt"] = (datetime.now(UTC) - timedelta(seconds=age_seconds)).isoformat().replace("+00:00", "Z")
    data["payload"].update(payload)
    return json.dumps(data, separators=(",", ":")).encode()


async def send(client: httpx.AsyncClient, raw: bytes, signature: str | None = None,
               url: str = URL) -> httpx.Response:
    headers = {"Content-Type": "application/json", "X-Cal-Webhook-Version": "2021-10-20"}
    headers["X-Cal-Signature-256"] = hex_hmac(SECRET, raw) if signature is None else signature
    return await client.post(url, content=raw, headers=headers)


async def test_book_replay_reschedule_and_cancel_are_one_appointment(client: httpx.AsyncClient, store: Store,
                                                                     app: FastAPI) -> None:
    created = body("booking_created.json", age_seconds=30)
    answer = await send(client, created)
    assert (answer.status_code, answer.json()) == (200, {"result": "created"})
    [row] = appointments(store)
    assert (row.connector, row.external_id, row.status, row.timezone) == ("booking", "unique-booking-id",
                                                                          "booked", "UTC")
    assert row.start_utc.isoformat().startswith("2024-01-01T10:00")

    replay = await send(client, created)  # the same body again: answered, never applied twice
    assert (replay.status_code, replay.json()) == (200, {"result": "duplicate"})
    assert len(appointments(store)) == 1 and events(store) == ["created"]

    # Cal.com's reschedule: a NEW uid, the old one in rescheduleUid.
    moved = await send(client, body("booking_rescheduled.json", age_seconds=20, rescheduleUid="unique-booking-id"))
    assert (moved.status_code, moved.json()) == (200, {"result": "rescheduled"})
    [row] = appointments(store)
    assert row.external_id == "unique-booking-id"
    assert row.start_utc.isoformat().startswith("2024-01-10T14:30")
    assert events(store) == ["created", "rescheduled"]

    # A cancel names the new uid: it reaches the same appointment through the alias.
    cancelled = await send(client, body("booking_cancelled.json", age_seconds=10, uid="new-booking-unique-id"))
    assert (cancelled.status_code, cancelled.json()) == (200, {"result": "cancelled"})
    [row] = appointments(store)
    assert (row.external_id, row.status) == ("unique-booking-id", "cancelled")
    assert events(store) == ["created", "rescheduled", "cancelled"]
    assert runs(store) == 3  # each applied push is a run; the replay was not
    assert counted(app, "calcom/booking", "created") == 1 and counted(app, "calcom/booking", "duplicate") == 1


async def test_a_second_reschedule_still_moves_the_first_booking(client: httpx.AsyncClient, store: Store) -> None:
    await send(client, body("booking_created.json", age_seconds=30))
    await send(client, body("booking_rescheduled.json", age_seconds=20, rescheduleUid="unique-booking-id"))
    again = await send(client, body("booking_rescheduled.json", age_seconds=10, uid="third-uid",
                                    rescheduleUid="new-booking-unique-id", startTime="2024-01-11T09:00:00Z",
                                    endTime="2024-01-11T09:15:00Z"))
    assert again.json() == {"result": "rescheduled"}
    [row] = appointments(store)
    assert row.external_id == "unique-booking-id" and row.start_utc.isoformat().startswith("2024-01-11T09:00")


CHAIN = {  # A booked, moved to B, then to C: each reschedule a new uid naming the one it moved
    "A": ("booking_created.json", {"uid": "A"}),
    "B": ("booking_rescheduled.json", {"uid": "B", "rescheduleUid": "A", "startTime": "2024-01-10T14:30:00Z",
                                       "endTime": "2024-01-10T15:00:00Z"}),
    "C": ("booking_rescheduled.json", {"uid": "C", "rescheduleUid": "B", "startTime": "2024-01-11T09:00:00Z",
                                       "endTime": "2024-01-11T09:15:00Z"}),
}


@pytest.mark.parametrize("order", ["ABC", "CBA", "CAB", "BCA", "ACB", "BAC"])
async def test_a_reschedule_chain_in_any_order_is_one_appointment(client: httpx.AsyncClient, store: Store,
                                                                  order: str) -> None:
    """Issue 29 obs 3: `RESCHEDULED C←B`, `RESCHEDULED B←A`, `CREATED A` in any order end as in
    order: one appointment keyed A at C's time, and the cancel of C cancels it. All bodies have
    the same createdAt: a later booking of the chain wins the tie."""
    sent = (datetime.now(UTC) - timedelta(seconds=10)).isoformat().replace("+00:00", "Z")
    for name in order:
        file, changes = CHAIN[name]
        data = json.loads(body(file, **changes)) | {"createdAt": sent}
        assert (await send(client, json.dumps(data).encode())).status_code == 200
    live = [row for row in appointments(store) if row.deleted_at is None]
    assert [(row.external_id, row.status) for row in live] == [("A", "booked")]
    assert live[0].start_utc.isoformat().startswith("2024-01-11T09:00")
    cancelled = await send(client, body("booking_cancelled.json", age_seconds=5, uid="C"))
    assert cancelled.json() == {"result": "cancelled"}
    assert [(row.external_id, row.status) for row in appointments(store) if row.deleted_at is None] == [
        ("A", "cancelled")]


@pytest.mark.parametrize(("signature", "status"), [
    ("", 401),  # no signature header
    ("no-secret-provided", 401),  # the webhook has no secret in Cal.com
    (hex_hmac("another-secret", b"x"), 403),
])
async def test_unsigned_or_forged_bodies_are_refused_and_nothing_is_stored(
        client: httpx.AsyncClient, store: Store, signature: str, status: int) -> None:
    raw = body("booking_created.json")
    forged = hex_hmac("another-secret", raw) if status == 403 else signature
    answer = await send(client, raw, forged)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert appointments(store) == [] and quarantined(store) == [] and runs(store) == 0


async def test_an_altered_body_fails_its_signature(client: httpx.AsyncClient, store: Store) -> None:
    raw = body("booking_created.json")
    answer = await send(client, raw.replace(b"2024-01-01T10:00:00Z", b"2024-01-01T11:00:00Z"),
                        hex_hmac(SECRET, raw))
    assert answer.status_code == 403 and appointments(store) == []


async def test_a_stale_body_is_refused_even_when_signed(client: httpx.AsyncClient, store: Store) -> None:
    verbatim = fixture("calcom", "booking_created.json")  # createdAt 2024-01-01: a replay from long ago
    answer = await send(client, verbatim)
    assert answer.status_code == 403 and "stale" in answer.json()["detail"]
    assert appointments(store) == [] and runs(store) == 0


async def test_malformed_bodies_name_the_field(client: httpx.AsyncClient, store: Store) -> None:
    not_json = b"{not json"
    answer = await send(client, not_json)
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "(body)"

    data = json.loads(body("booking_created.json"))
    del data["payload"]["uid"]
    raw = json.dumps(data).encode()
    answer = await send(client, raw)
    assert answer.status_code == 400
    assert answer.json()["errors"] == [{"field": "payload.uid", "detail": "missing or not a text"}]

    data = json.loads(body("booking_created.json"))
    del data["createdAt"]
    answer = await send(client, json.dumps(data).encode())
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "createdAt"
    assert appointments(store) == [] and runs(store) == 0


async def test_a_booking_that_does_not_map_is_quarantined_once_naming_the_field(client: httpx.AsyncClient,
                                                                                store: Store) -> None:
    raw = body("booking_created.json", startTime="next tuesday")
    answer = await send(client, raw)
    assert answer.status_code == 200
    assert answer.json()["result"] == "quarantined" and answer.json()["field"] == "start"
    again = await send(client, raw)
    assert again.json() == {"result": "duplicate"}
    [item] = quarantined(store)
    assert item.field == "start" and appointments(store) == []


async def test_a_booking_at_dotnets_empty_date_is_quarantined_naming_the_field_and_the_fix(
        client: httpx.AsyncClient, store: Store) -> None:
    answer = await send(client, body("booking_created.json", startTime="0001-01-01T00:00:00Z"))
    assert answer.status_code == 200 and answer.json()["field"] == "start"
    [item] = quarantined(store)
    assert item.field == "start" and "0001-01-01" in item.reason and "clinic.plausible_dates" in item.reason
    assert appointments(store) == []


async def test_other_triggers_are_acknowledged_and_ignored(client: httpx.AsyncClient, store: Store) -> None:
    data = json.loads(body("booking_created.json"))
    data["triggerEvent"] = "MEETING_STARTED"
    answer = await send(client, json.dumps(data).encode())
    assert (answer.status_code, answer.json()) == (200, {"result": "ignored"})
    assert appointments(store) == []


async def test_unknown_connector_and_rate_limit(client: httpx.AsyncClient, store: Store) -> None:
    raw = body("booking_created.json")
    assert (await send(client, raw, url="/webhooks/calcom/nope")).status_code == 404
    assert (await send(client, raw, url="/webhooks/easyappointments/booking")).status_code == 404  # not that kind
    first = await send(client, raw, url="/webhooks/calcom/throttled")
    assert first.status_code == 200
    second = await send(client, body("booking_cancelled.json"), url="/webhooks/calcom/throttled")
    assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1


async def test_no_patient_data_or_secret_reaches_the_logs(client: httpx.AsyncClient, store: Store) -> None:
    with structlog.testing.capture_logs() as logs:
        await send(client, body("booking_created.json"))
        await send(client, body("booking_created.json", age_seconds=1), hex_hmac("wrong", b""))
        await send(client, body("booking_rescheduled.json", startTime="garbage", rescheduleUid="unique-booking-id"))
        await send(client, fixture("calcom", "booking_cancelled.json"))  # stale
    text = repr(logs)
    assert {entry["event"] for entry in logs} >= {"webhook.received", "webhook.refused"}
    for leak in ("guest@example.com", "Guest User", "Organizer Name", "organizer@example.com", SECRET,
                 "video.example.com"):
        assert leak not in text


async def test_an_attendee_phone_booking_gives_the_patient_a_phone_and_the_event_none(
        client: httpx.AsyncClient, store: Store) -> None:
    """Cal.com's "Attendee Phone Number" location: the number is only in
    responses.location.value.optionValue and payload.location (a real delivery's shape,
    tests/fixtures/calcom/SOURCE.md). It is the patient's phone, and no calendar shows it."""
    from sqlalchemy import select

    from clinicsync.sync.calendar.desired import load_truth
    from clinicsync.sync.config.settings.calendar import CalendarSettings
    from clinicsync.sync.store.model import Patient

    answer = await send(client, body("booking_created_attendee_phone.json",
                                     startTime=(datetime.now(UTC) + timedelta(days=2)).isoformat(),
                                     endTime=(datetime.now(UTC) + timedelta(days=2, minutes=15)).isoformat()))
    assert answer.status_code == 200, answer.text
    [row] = appointments(store)
    assert (row.visit_mode, row.location_ref, row.dial_in) == ("phone", None, None)
    with store.engine.connect() as connection:
        [patient] = connection.execute(select(Patient.__table__)).all()  # type: ignore[attr-defined]
    assert patient.phone == "+12125550147"
    [desired] = load_truth(store.engine, CalendarSettings(), datetime.now(UTC))
    assert desired.content is not None
    shown = " ".join(str(v) for v in (desired.content.summary, desired.content.description,
                                      desired.content.location, desired.content.where))
    assert "5550147" not in shown and "guest@example.com" not in shown


@pytest.mark.parametrize(("kind", "given", "location", "expected"), [
    ("phone", "+12125550147", "+12125550147",
     {"mode": "phone", "attendee_phone": "+12125550147", "place": None, "dial_in": None}),
    ("userPhone", None, "+13125550188", {"mode": "phone", "attendee_phone": None, "dial_in": "+13125550188"}),
    ("attendeeInPerson", "12 Elm St, Springfield", "12 Elm St, Springfield",
     {"mode": "in_person", "place": "12 Elm St, Springfield", "attendee_phone": None}),
    ("inPerson", None, "Clinic, 1 Main St", {"mode": "in_person", "place": "Clinic, 1 Main St"}),
    ("link", None, "https://meet.example.org/abc", {"mode": "video", "join_url": "https://meet.example.org/abc"}),
    ("integrations:daily", None, "integrations:daily",
     {"mode": "video", "join_url": "https://app.example.com/video/x", "place": None}),
    (None, None, "Room 3", {"mode": None, "place": "Room 3"}),
    (None, None, "+1 212 555 0147", {"place": None, "attendee_phone": None}),  # a bare number is never a place
])
def test_each_calcom_location_kind_lands_where_it_belongs(kind: str | None, given: str | None, location: str,
                                                         expected: dict[str, Any]) -> None:
    from clinicsync.connectors.calcom_location import split

    payload: dict[str, Any] = {"location": location, "metadata": {"videoCallUrl": "https://app.example.com/video/x"}}
    if kind is not None:
        payload["responses"] = {"location": {"label": "location", "value": {"value": kind, "optionValue": given or ""}}}
    parts = split(payload)
    assert {key: parts[key] for key in expected} == expected


async def test_a_renamed_calcom_source_is_answered_503_until_source_rename(
        write_settings: Callable[..., Path], tmp_path: Path, store: Store, cli: Callable[[Path | None], Any]) -> None:
    """The Cal.com connector renamed `booking` -> `cal` in the settings
    (and the webhook URL in Cal.com). On main the reschedule was stored under `cal` as a new
    booking (200 `created`: a second visit, a second confirmation). Now 503 with Retry-After,
    nothing stored, counted; Cal.com's retry after `source rename` moves the visit."""
    (tmp_path / "cal.secret").write_text(SECRET + "\n", encoding="utf-8")
    block = "- name: {}\n  kind: calcom\n  secret_file: cal.secret\n"
    future = {"startTime": "2030-01-01T10:00:00Z", "endTime": "2030-01-01T10:15:00Z"}
    before = create_app(load_settings(write_settings(connectors=block.format("booking"))), store)
    async with client_for(before) as http:
        assert (await send(http, body("booking_created.json", age_seconds=30, **future))).status_code == 200

    path = write_settings(connectors=block.format("cal"))
    after = create_app(load_settings(path), store)
    moved = body("booking_rescheduled.json", age_seconds=20, rescheduleUid="unique-booking-id",
                 startTime="2030-01-10T14:30:00Z", endTime="2030-01-10T14:45:00Z")
    async with client_for(after) as http:
        refused = await send(http, moved, url="/webhooks/calcom/cal")
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1  # main: 200 "created"
    assert [(r.connector, r.external_id) for r in appointments(store)] == [("booking", "unique-booking-id")]
    assert events(store) == ["created"] and counted(after, "calcom/cal", "refused_orphan") == 1

    cli(path)("source", "rename", "booking", "cal")
    async with client_for(after) as http:
        retried = await send(http, moved, url="/webhooks/calcom/cal")  # Cal.com's retry, the same body
    assert (retried.status_code, retried.json()) == (200, {"result": "rescheduled"})
    [row] = appointments(store)
    assert (row.connector, row.external_id) == ("cal", "unique-booking-id")
    assert row.start_utc.isoformat().startswith("2030-01-10T14:30")
    assert events(store) == ["created", "rescheduled"]
