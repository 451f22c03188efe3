"""The server's frame: health, readiness, metrics, limits, headers, access log."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog
from fastapi import APIRouter, Request

from clinicsync.common.logs import configure_logging
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.server import api, booking_hooks
from clinicsync.sync.server.app import create_app, routers
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.store import Store

pytestmark = pytest.mark.anyio
UI_TOKEN = "Zq8v-Nw3rT5yLp0aXk7bMd2eHs9u"


@pytest.fixture
def settings_file(tmp_path: Path, store_url: str) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(f'store:\n  url: "{store_url}"\nserver:\n  max_body_bytes: 2048\n'
                    f"  public_url: https://clinic.example.org\nui:\n  token: {UI_TOKEN}\n")
    return path


@pytest.fixture
def client(settings_file: Path, store: Store) -> Iterator[httpx.AsyncClient]:
    echo = APIRouter()

    @echo.post("/echo/{thing}")
    async def echo_body(thing: str, request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    app = create_app(load_settings(settings_file), store, [*routers(), echo])
    yield httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


async def test_not_ready_when_the_schema_is_behind(settings_file: Path, store_url: str) -> None:
    bare = Store(make_engine(store_url))  # never migrated
    app = create_app(load_settings(settings_file), bare)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get("/readyz")
    assert response.status_code == 503 and "clinicsync db upgrade" in response.json()["reason"]
    bare.close()


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.post("/echo/secret-token-123", content=b"x")
    text = (await client.get("/metrics")).text
    assert 'clinicsync_http_requests_total{method="POST",route="/echo/{thing}",status="200"} 1.0' in text
    assert "secret-token-123" not in text
    assert "# TYPE clinicsync_sync_runs gauge" in text


async def test_methods_no_client_should_send_share_one_series(client: httpx.AsyncClient) -> None:
    """A scanner's made-up methods (each a valid HTTP token) are counted as ``other``: before,
    every one was a new label value, kept in the registry and in /metrics for the process's
    life (/metrics grew by ~100 bytes per distinct method)."""
    for n in range(200):
        assert (await client.request(f"X{n}", "/healthz")).status_code == 405
    await client.request("PROPFIND", "/healthz")
    text = (await client.get("/metrics")).text
    methods = {line.split('method="', 1)[1].split('"', 1)[0] for line in text.splitlines()
               if line.startswith("clinicsync_http_requests_total{")}
    assert methods == {"other"}  # the scrape's own GET is counted after its text is made
    assert 'clinicsync_http_requests_total{method="other",route="/healthz",status="405"} 201.0' in text
    assert "X17" not in text

async def test_large_bodies_are_refused(client: httpx.AsyncClient) -> None:
    assert (await client.post("/echo/a", content=b"x" * 2000)).json() == {"size": 2000}
    assert (await client.post("/echo/a", content=b"x" * 4000)).status_code == 413

    async def chunks() -> Iterator[bytes]:  # type: ignore[misc]
        for _ in range(5):
            yield b"x" * 1000

    assert (await client.post("/echo/a", content=chunks())).status_code == 413  # no Content-Length


async def test_every_response_carries_strict_security_headers(client: httpx.AsyncClient) -> None:
    headers = (await client.get("/healthz")).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["strict-transport-security"].startswith("max-age=")
    assert headers["cache-control"] == "no-store"


async def test_access_log_names_routes_not_paths(client: httpx.AsyncClient) -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    try:
        await client.post("/echo/patient-ana-lopez", content=b"{}")
    finally:
        structlog.reset_defaults()
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["route"] == "/echo/{thing}" and line["status"] == 200
    assert "ana" not in stream.getvalue()


async def test_the_access_log_follows_the_level_it_is_configured_at(client: httpx.AsyncClient) -> None:
    """The access log is skipped only when its level is off: at info a request's line is
    written, at warning none is (and the metrics count both)."""
    for level, lines in (("warning", 0), ("info", 1), ("debug", 1)):
        stream = io.StringIO()
        configure_logging(level, "json", stream)
        try:
            await client.post("/echo/x", content=b"{}")
        finally:
            structlog.reset_defaults()
        assert sum('"http.request"' in line for line in stream.getvalue().splitlines()) == lines, level


def test_the_push_routes_are_the_apps_own_and_first(settings_file: Path, store: Store) -> None:
    """The REST API's and the booking webhooks' routes sit in the app's route list themselves
    (no included-router layer to walk), first and in their routers' order; the rest is included."""
    app = create_app(load_settings(settings_file), store)
    held = [*api.router.routes, *booking_hooks.router.routes]
    assert app.router.routes[:len(held)] == held
    assert all(route not in held for route in app.router.routes[len(held):])


async def test_the_openapi_schema_is_published_to_status_page_users(client: httpx.AsyncClient) -> None:
    assert (await client.get("/openapi.json")).status_code == 401
    schema = (await client.get("/openapi.json", headers={"Authorization": f"Bearer {UI_TOKEN}"})).json()
    assert {"/healthz", "/readyz", "/metrics"} <= set(schema["paths"])
