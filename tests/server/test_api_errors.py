"""One error contract for the whole push surface (issue 35): every error answer is an RFC 9457
``application/problem+json`` naming the field where there is one — the framework's own parse
errors, 404, 413, 429 and 503 included — none is a 5xx, and a refused body stores nothing.
Strict types and bounds on the API's body: no booleans or strings for numbers, IANA Area/City
zones only, a start with its time, one of ``end``/``duration_minutes``, a visit no longer
than ``duration_minutes`` may say, dates inside clinic.plausible_dates."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from structlog.testing import capture_logs

from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.store import Store
from tests.server.booking_support import appointments, client_for, fixture, hex_hmac

pytestmark = pytest.mark.anyio
KEY = "csk_test-errors-0123456789abcdefghijklmnopq"
CAL_SECRET = "whsec-calcom-errors-test"
EA_TOKEN = "ea-token-errors-test-0123456789"
MAX_BODY = 64 * 1024
BOOKING: dict[str, Any] = {
    "id": "B-1", "start": "2030-03-12T09:30:00-04:00", "duration_minutes": 30, "timezone": "America/New_York",
    "patient": {"id": "P-1", "phone": "(212) 555-0101"}, "practitioner": {"id": "D-1"},
}


@pytest.fixture
def settings(write_settings: Callable[..., Path], tmp_path: Path) -> Settings:
    (tmp_path / "cal.secret").write_text(CAL_SECRET, encoding="utf-8")
    return load_settings(write_settings(connectors=f"""
- name: website
  kind: rest_api
  api_keys: [{{name: site, sha256: {key_digest(KEY)}}}]
  rate_per_second: 1000
  burst: 1000
- name: booking
  kind: calcom
  secret_file: cal.secret
- name: ea
  kind: easyappointments
  token: {EA_TOKEN}
""", extra=f"server:\n  max_body_bytes: {MAX_BODY}\n"))


@pytest.fixture
def app(settings: Settings, store: Store) -> FastAPI:
    return create_app(settings, store)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as client:
        yield client


def calcom_body() -> bytes:
    data = json.loads(fixture("calcom", "booking_created.json"))
    data["createdAt"] = (datetime.now(UTC) - timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    return json.dumps(data).encode()


def _api(path: str, method: str = "POST") -> Callable[[bytes], httpx.Request]:
    def build(raw: bytes) -> httpx.Request:
        return httpx.Request(method, "http://internal" + path, content=raw, headers={
            "Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    return build


def _calcom(raw: bytes) -> httpx.Request:
    return httpx.Request("POST", "http://internal/webhooks/calcom/booking", content=raw, headers={
        "Content-Type": "application/json", "X-Cal-Signature-256": hex_hmac(CAL_SECRET, raw)})


def _ea(raw: bytes) -> httpx.Request:
    return httpx.Request("POST", "http://internal/webhooks/easyappointments/ea", content=raw, headers={
        "Content-Type": "application/json", "X-Ea-Token": EA_TOKEN})


ENDPOINTS = {"api POST": _api("/api/v1/appointments"), "api PUT": _api("/api/v1/appointments/B-1", "PUT"),
             "api cancel": _api("/api/v1/appointments/B-1/cancel"), "calcom": _calcom, "easyappointments": _ea}


def _with(**change: Any) -> bytes:
    return json.dumps({**BOOKING, **change}).encode()


MALFORMED: dict[str, bytes] = {
    "empty": b"",
    "not JSON": b"{'id': 1,}",
    "truncated": _with()[:-3],
    "deep nesting": b"[" * 20_000 + b"]" * 20_000,
    "nested object": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "5000-digit number": b'{"id": "B-1", "start": "2030-03-12T09:30:00Z", "duration_minutes": ' + b"9" * 5000 + b"}",
    "latin-1 bytes": "{\"id\": \"B-1\", \"start\": \"2030-03-12T09:30:00Z\", \"type\": \"Revisión\"}".encode("latin-1"),
    "lone surrogate": b'{"id": "\\ud800", "start": "2030-03-12T09:30:00Z"}',
    "NaN": b'{"id": "B-1", "start": "2030-03-12T09:30:00Z", "duration_minutes": NaN}',
    "null": b"null",
    "array": b"[1, 2, 3]",
    "string": b'"booking"',
    "too large": b'{"type": "' + b"x" * (MAX_BODY + 10) + b'"}',
    "bool for a number": _with(duration_minutes=True),
    "string for a number": _with(duration_minutes="30"),
    "end in year 9999": _with(duration_minutes=None, end="9999-12-31T23:59:59Z"),
    "start in year 9999": _with(start="9999-12-31T09:00:00"),
    "start in year 1": _with(start="0001-01-01T00:00:00Z"),
    "date-only start": _with(start="2030-03-12"),
    "zone localtime": _with(timezone="localtime"),
    "zone Factory": _with(timezone="Factory"),
    "end and duration": _with(end="2030-03-12T10:00:00-04:00"),
    "end before start": _with(duration_minutes=None, end="2030-03-12T09:00:00-04:00"),
    "huge duration": _with(duration_minutes=10**30),
    "float duration": _with(duration_minutes=30.5),
}


def is_problem(response: httpx.Response) -> bool:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return False
    body = response.json()
    return body.get("status") == response.status_code and bool(body.get("title"))


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_every_malformed_or_out_of_range_body_is_a_problem_and_stores_nothing(
        client: httpx.AsyncClient, store: Store, endpoint: str) -> None:
    """The sweep: each body to each endpoint; an answer that is not problem+json, or a 5xx,
    or anything stored fails, naming the body."""
    wrong = {}
    for name, raw in MALFORMED.items():
        response = await client.send(ENDPOINTS[endpoint](raw))
        if response.status_code < 400 or response.status_code >= 500 or not is_problem(response):
            wrong[name] = (response.status_code, response.headers.get("content-type"), response.text[:120])
    assert wrong == {}, "\n".join(f"{k}: {v}" for k, v in wrong.items())
    assert appointments(store) == []


STRICT_RULES: list[tuple[dict[str, Any], str]] = [
    ({"duration_minutes": True}, "duration_minutes"),
    ({"duration_minutes": "30"}, "duration_minutes"),
    ({"duration_minutes": 30.0}, "duration_minutes"),
    ({"patient": {"id": "P-1", "allow_sms": "yes"}}, "patient.allow_sms"),
    ({"duration_minutes": None, "end": "9999-12-31T23:59:59Z"}, "end"),
    ({"duration_minutes": None, "end": "2030-03-13T09:31:00-04:00"}, "end"),  # 1441 minutes
    ({"duration_minutes": None, "end": "2030-03-13T09:31:00"}, "end"),  # local in timezone
    ({"end": "2030-03-12T10:00:00-04:00"}, "end"),  # and duration_minutes
    ({"timezone": "localtime"}, "timezone"),
    ({"timezone": "posixrules"}, "timezone"),
    ({"timezone": "Factory"}, "timezone"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"start": "2030-03-12"}, "start"),
    ({"start": "9999-12-31T09:00:00"}, "start"),
    ({"start": "1899-12-30T00:00:00Z"}, "start"),
]


async def test_each_strict_rule_is_a_422_naming_the_field(client: httpx.AsyncClient, store: Store) -> None:
    wrong = {}
    for change, field in STRICT_RULES:
        body = {k: v for k, v in {**BOOKING, **change}.items() if v is not None}
        response = await client.post("/api/v1/appointments", json=body, headers={"Authorization": f"Bearer {KEY}"})
        named = [e["field"] for e in response.json().get("errors", [])] if is_problem(response) else None
        if response.status_code != 422 or named != [field]:
            wrong[json.dumps(change)] = (response.status_code, named)
    assert wrong == {}
    assert appointments(store) == []


ACCEPTED: list[dict[str, Any]] = [
    {"timezone": "UTC"}, {"timezone": "America/Argentina/Buenos_Aires"}, {"timezone": "Etc/GMT+5"},
    {"duration_minutes": None, "end": "2030-03-13T09:30:00-04:00"},  # exactly 1440 minutes
    {"duration_minutes": None, "end": "2030-03-12T10:00:00"},  # local in timezone
    {"start": "2030-03-12 09:30"},
]


async def test_what_the_rules_still_accept(client: httpx.AsyncClient, store: Store) -> None:
    statuses = []
    for n, change in enumerate(ACCEPTED):
        body = {k: v for k, v in {**BOOKING, **change, "id": f"B-{n}"}.items() if v is not None}
        response = await client.post("/api/v1/appointments", json=body, headers={"Authorization": f"Bearer {KEY}"})
        statuses.append(response.status_code)
    assert statuses == [201] * len(ACCEPTED)
    assert len(appointments(store)) == len(ACCEPTED)


GUARDED: list[tuple[httpx.Request, int]] = [
    (httpx.Request("GET", "http://internal/api/v1/nothing-here"), 404),
    (httpx.Request("DELETE", "http://internal/api/v1/appointments"), 405),
    (httpx.Request("GET", "http://internal/api/v1/appointments/B-1"), 401),
    (httpx.Request("POST", "http://internal/api/v1/appointments", headers={"Content-Length": str(MAX_BODY + 1)},
                   content=b"x" * (MAX_BODY + 1)), 413),
    (httpx.Request("GET", "http://internal/api/v1/appointments/B-1", headers={"X-Big": "x" * 9000}), 431),
]


async def test_the_framework_and_the_guards_answer_problems_too(client: httpx.AsyncClient) -> None:
    for request, status in GUARDED:
        response = await client.send(request)
        assert response.status_code == status and is_problem(response), (request.method, request.url)
        assert response.headers["x-content-type-options"] == "nosniff"  # the security headers on these too


async def test_a_store_that_cannot_be_reached_is_a_503_problem(settings: Settings) -> None:
    """The store-unavailable path: a real PostgreSQL URL on which nothing listens."""
    down = Store(make_engine("postgresql://postgres@127.0.0.1:9/test?connect_timeout=1"))
    try:
        with capture_logs() as logs:  # captured, not rendered: a rich traceback takes seconds
            async with client_for(create_app(settings, down)) as client:
                response = await client.post("/api/v1/appointments", json=BOOKING,
                                             headers={"Authorization": f"Bearer {KEY}"})
    finally:
        down.close()
    assert response.status_code == 503 and is_problem(response) and response.headers["retry-after"] == "30"
    assert {"event": "http.failed", "route": "/api/v1/appointments", "error": "OperationalError",
            "log_level": "error"} in logs


async def test_too_many_requests_is_a_problem_with_retry_after(write_settings: Callable[..., Path],
                                                               store: Store) -> None:
    settings = load_settings(write_settings(connectors=f"""
- name: website
  kind: rest_api
  api_keys: [{{name: site, sha256: {key_digest(KEY)}}}]
  rate_per_second: 0.01
  burst: 1
"""))
    async with client_for(create_app(settings, store)) as client:
        answers = [await client.get("/api/v1/appointments/B-1", headers={"Authorization": f"Bearer {KEY}"})
                   for _ in range(2)]
    assert [a.status_code for a in answers] == [404, 429]
    assert all(is_problem(a) for a in answers) and int(answers[1].headers["retry-after"]) >= 1
