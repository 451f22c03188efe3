"""Acuity Scheduling webhooks end to end through the real app: the documented form bodies
(tests/fixtures/acuity) signed as Acuity signs them, then the appointment read from Acuity's
API (faked at the HTTP boundary with respx, the documented example answer): booked,
replayed, rescheduled (same id, new time), cancelled; forged or unsigned bodies refused
before any API call; a passing API fault retried; an API that stays down answered 503
with nothing stored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from clinicsync.connectors.acuity import AcuityConnector
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.store import Store
from tests.server.booking_support import appointments, base64_hmac, client_for, events, fixture, quarantined, runs

pytestmark = pytest.mark.anyio
API_KEY = "test-acuity-api-key"  # the research's fake key (its test vectors use it)
USER_ID = "11145481"
URL = "/webhooks/acuity/acuity"
GET = "https://acuityscheduling.com/api/v1/appointments/54321"


@pytest.fixture
def settings(write_settings: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ACUITY_API_KEY", API_KEY)
    monkeypatch.setattr(AcuityConnector, "max_wait", 0.01)  # the backoff between tries
    return load_settings(write_settings(connectors=f"""
- name: acuity
  kind: acuity
  user_id: "{USER_ID}"
  api_key: ${{ACUITY_API_KEY}}
"""))


@pytest.fixture
def app(settings: Settings, store: Store) -> FastAPI:
    return create_app(settings, store)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as client:
        yield client


@pytest.fixture
def acuity_api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def appointment(**changes: Any) -> dict[str, Any]:
    return json.loads(fixture("acuity", "appointment_GET_54321.json")) | changes


def answer_with(router: respx.MockRouter, *responses: httpx.Response) -> respx.Route:
    """Acuity's GET, answering only the right basic-auth credentials."""
    credentials = httpx.BasicAuth(USER_ID, API_KEY)._auth_header
    route = router.get(GET, headers={"Authorization": credentials})
    route.side_effect = list(responses)
    return route


async def send(client: httpx.AsyncClient, raw: bytes, signature: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Acuity-Signature": base64_hmac(API_KEY, raw) if signature is None else signature}
    return await client.post(URL, content=raw, headers=headers)


async def test_scheduled_replayed_rescheduled_and_canceled(client: httpx.AsyncClient, store: Store,
                                                           acuity_api: respx.MockRouter) -> None:
    answer_with(acuity_api, httpx.Response(200, json=appointment()), httpx.Response(200, json=appointment()),
                httpx.Response(200, json=appointment(datetime="2013-07-03T09:00:00-0700")),
                httpx.Response(200, json=appointment(datetime="2013-07-03T09:00:00-0700", canceled=True)))
    scheduled = fixture("acuity", "webhook_scheduled.txt")
    answer = await send(client, scheduled)
    assert (answer.status_code, answer.json()) == (200, {"result": "created"})
    [row] = appointments(store)
    assert (row.external_id, row.status, row.timezone, row.practitioner_ref) == ("54321", "booked",
                                                                                 "America/New_York", "27238")
    assert row.start_utc.isoformat().startswith("2013-07-02T17:15")  # 10:15 at -07:00
    assert row.end_utc.isoformat().startswith("2013-07-02T18:15")  # + duration 60

    replay = await send(client, scheduled)
    assert (replay.status_code, replay.json()) == (200, {"result": "unchanged"})

    moved = await send(client, fixture("acuity", "webhook_rescheduled.txt"))
    assert moved.json() == {"result": "rescheduled"}
    cancelled = await send(client, fixture("acuity", "webhook_canceled.txt"))
    assert cancelled.json() == {"result": "cancelled"}
    [row] = appointments(store)
    assert row.status == "cancelled" and row.start_utc.isoformat().startswith("2013-07-03T16:00")
    assert events(store) == ["created", "rescheduled", "cancelled"]


async def test_the_canceled_action_cancels_without_an_api_flag(client: httpx.AsyncClient, store: Store,
                                                               acuity_api: respx.MockRouter) -> None:
    answer_with(acuity_api, httpx.Response(200, json=appointment()), httpx.Response(200, json=appointment()))
    await send(client, fixture("acuity", "webhook_scheduled.txt"))
    answer = await send(client, fixture("acuity", "webhook_canceled.txt"))
    assert answer.json() == {"result": "cancelled"}


@pytest.mark.parametrize("signature", ["", base64_hmac("another-key", b"action=scheduled&id=54321"), "x"])
async def test_forged_or_unsigned_bodies_are_refused_before_any_api_call(
        client: httpx.AsyncClient, store: Store, acuity_api: respx.MockRouter, signature: str) -> None:
    route = answer_with(acuity_api, httpx.Response(200, json=appointment()))
    raw = fixture("acuity", "webhook_scheduled.txt")
    if signature.startswith("x"):
        signature = base64_hmac(API_KEY, raw)
        raw = raw.replace(b"54321", b"54322")  # altered after signing
    answer = await send(client, raw, signature)
    assert answer.status_code == (401 if signature == "" else 403)
    assert not route.called and appointments(store) == [] and runs(store) == 0


async def test_a_passing_api_fault_is_retried(client: httpx.AsyncClient, store: Store,
                                              acuity_api: respx.MockRouter) -> None:
    route = answer_with(acuity_api, httpx.Response(503), httpx.ConnectError("reset"),
                        httpx.Response(200, json=appointment()))
    answer = await send(client, fixture("acuity", "webhook_scheduled.txt"))
    assert answer.json() == {"result": "created"} and route.call_count == 3


async def test_an_api_that_stays_down_is_answered_503_with_nothing_stored(client: httpx.AsyncClient, store: Store,
                                                                         acuity_api: respx.MockRouter) -> None:
    answer_with(acuity_api, *[httpx.Response(502)] * 3)
    answer = await send(client, fixture("acuity", "webhook_scheduled.txt"))
    assert answer.status_code == 503 and "Retry-After" in answer.headers
    assert appointments(store) == [] and runs(store) == 0


async def test_malformed_bodies_and_appointments(client: httpx.AsyncClient, store: Store,
                                                 acuity_api: respx.MockRouter) -> None:
    answer = await send(client, b"action=scheduled&calendarID=27238")
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "id"
    answer = await send(client, b"\xff\xfe")
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "(body)"
    assert (await send(client, b"action=order.completed&id=9")).json() == {"result": "ignored"}

    answer_with(acuity_api, httpx.Response(200, json=appointment(datetime="July 2, 2013")))
    bad = await send(client, fixture("acuity", "webhook_scheduled.txt"))
    assert bad.json()["result"] == "quarantined" and bad.json()["field"] == "start"
    [item] = quarantined(store)
    assert item.field == "start" and appointments(store) == []


async def test_an_appointment_acuity_no_longer_has(client: httpx.AsyncClient, store: Store,
                                                   acuity_api: respx.MockRouter) -> None:
    answer_with(acuity_api, httpx.Response(404, json={"status_code": 404, "error": "not_found"}))
    answer = await send(client, fixture("acuity", "webhook_scheduled.txt"))
    assert (answer.status_code, answer.json()) == (200, {"result": "unknown"})
    assert appointments(store) == []
