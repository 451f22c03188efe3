"""The /ui pages over HTTP: refused without credentials, masked, filtered, headers set."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from clinicsync.common.passwords import hash_password, verify_password
from clinicsync.sync.config.config_loader import ConfigError
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui.mask import mask_email, mask_phone, mask_text
from tests.ui.seed import NOW, seed

pytestmark = pytest.mark.anyio
PASSWORD = "correct horse battery"
TOKEN = "tok-7Hq2Lx9Vw4Rb6Nz3Kp8Ys5Dg"
HASH = hash_password(PASSWORD)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
async def client(tmp_path: Path, store_url: str, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    path = tmp_path / "settings.yaml"
    path.write_text(f'clinic:\n  timezone: America/New_York\nstore:\n  url: "{store_url}"\n'
                    f"ui:\n  token: {TOKEN}\n  days: 60\n  failures_allowed: 50\n"
                    f"  users:\n    - name: desk\n      password_hash: \"{HASH}\"\n")
    seed(store)
    app = create_app(load_settings(path), store)
    app.state.ui_clock = lambda: NOW
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


async def test_every_page_refuses_without_valid_credentials(client: httpx.AsyncClient) -> None:
    for page in ("/ui/", "/ui/appointments", "/ui/appointments/1", "/ui/quarantine"):
        for headers in ({}, basic("desk", "wrong"), basic("nobody", PASSWORD), {"Authorization": "Bearer nope"},
                        {"Authorization": "Basic !!!"}):
            response = await client.get(page, headers=headers)
            assert response.status_code == 401, (page, headers)
            assert response.headers["www-authenticate"].startswith("Basic realm=")
    assert (await client.get("/ui/", headers=basic("desk", PASSWORD))).status_code == 200
    assert (await client.get("/ui/", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200


async def test_health_page_shows_runs_notifiers_calendar_quarantine_and_charts(client: httpx.AsyncClient) -> None:
    response = await client.get("/ui/", headers=basic("desk", PASSWORD))
    html = response.text
    assert "drop folder unreadable" in html and "csv" in html
    assert 'href="/ui/quarantine?connector=csv"' in html
    assert html.count("<svg") == 4 and "<script" not in html and "style=" not in html
    channels = html.split('id="chart-channels"')[1].split("</figure>")[0]
    axis = re.findall(r'<text class="axis(?: dense)?" x="[\d.]+" y="244" text-anchor="middle">([^<]+)</text>',
                      channels)  # "dense": shown at desktop width only (ui.css), where a phone's text would collide
    # shown_day, the one date form; every second day, so that 'Nov 10' does not run into 'Nov 11'
    assert axis == [f"Nov {d}" for d in range(4, 19, 2)]
    assert "<title>Nov 5 · " in channels  # every day's bars still name their day on hover
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


async def test_appointments_page_masks_patients_and_filters(client: httpx.AsyncClient) -> None:
    auth = basic("desk", PASSWORD)
    html = (await client.get("/ui/appointments", headers=auth)).text
    for phi in ("Jamal", "Weber", "+12015550165", "jamal.weber@mail.example.com", "555-0165"):
        assert phi not in html
    assert "J.W." in html and "+1 ••• ••• 0165" in html and "j•••@mail.example.com" in html
    filtered = (await client.get("/ui/appointments?doctor=D2&connector=&status=", headers=auth)).text
    assert filtered.count("timeline-link") == 1 and "J.W." not in filtered  # only A6 (D2)
    for typed in ("0", "90", "abc"):  # explained next to the field, in words, not as raw JSON
        refused = await client.get(f"/ui/appointments?days={typed}", headers=auth)
        assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html")
        assert "Days must be a whole number from 1 to 60; showing 60." in refused.text
        assert f'value="{typed}" aria-invalid="true" aria-describedby="days-error"' in refused.text


async def test_timeline_and_quarantine_pages(client: httpx.AsyncClient) -> None:
    auth = basic("desk", PASSWORD)
    html = (await client.get("/ui/appointments", headers=auth)).text
    link = html.split('href="/ui/appointments/')[1].split('"')[0]
    timeline = (await client.get(f"/ui/appointments/{link}", headers=auth)).text
    assert "rescheduled" in timeline and "patient accepted" in timeline
    assert 'id="quality-notes"' in timeline  # A5's data-quality notes, one item each
    assert "<li>patient.language: dropped &#39;151&#39; (not a known language)</li>" in timeline
    assert "Location read refused (scope not granted) (HTTP 403); no name</li>" in timeline
    assert (await client.get("/ui/appointments/999999", headers=auth)).status_code == 404
    # An id no INTEGER can hold (PostgreSQL raised "integer out of range": a 503) is refused as input.
    assert (await client.get(f"/ui/appointments/{2**31}", headers=auth)).status_code == 422
    quarantine = (await client.get("/ui/quarantine", headers=auth)).text
    assert "••• ••• 0199" in quarantine and "555-0199" not in quarantine


async def test_stylesheet_is_served_without_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/ui/static/ui.css")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/css")
    assert ".badge" in response.text


async def test_no_users_configured_refuses_everyone(tmp_path: Path, store: Store, store_url: str) -> None:
    path = tmp_path / "bare.yaml"
    path.write_text(f'store:\n  url: "{store_url}"\n')
    app = create_app(load_settings(path), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        response = await c.get("/ui/", headers=basic("desk", PASSWORD))
    assert response.status_code == 401 and "no users" in response.json()["detail"]


def test_bad_password_hash_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("ui:\n  users:\n    - name: desk\n      password_hash: hunter2\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    rendered = caught.value.render()
    assert "ui.users[0].password_hash" in rendered or "ui.users.0.password_hash" in rendered
    assert "hunter2" not in rendered


def test_password_hashes_verify_and_are_salted() -> None:
    assert verify_password(PASSWORD, HASH) and not verify_password("other", HASH)
    assert hash_password(PASSWORD) != HASH


# Made by `clinicsync ui hash-password` before issue 23 (hashlib scrypt, our own format).
LEGACY_HASH = "scrypt$16384$8$1$MFSF58INHqh0OrWylAs2yg==$mXslJQXndApJ78KHcN+wjyg+/vjpn58bXG9J48nRWsU="


def test_new_hashes_are_argon2id_and_old_scrypt_ones_still_verify(tmp_path: Path) -> None:
    assert HASH.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password("correct horse battery staple", LEGACY_HASH)
    assert not verify_password("correct horse battery stapler", LEGACY_HASH)
    path = tmp_path / "settings.yaml"
    path.write_text(f'ui:\n  users:\n    - name: old\n      password_hash: "{LEGACY_HASH}"\n'
                    f'    - name: new\n      password_hash: "{HASH}"\n')
    assert [u.name for u in load_settings(path).ui.users] == ["old", "new"]


def test_a_hash_that_would_cost_gigabytes_is_a_settings_error(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(f'ui:\n  users:\n    - name: desk\n      password_hash: "{HASH.replace("m=19456", "m=4194304")}"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "out of range" in caught.value.render()


def test_masks() -> None:
    assert mask_phone("+15551230123") == "+1 ••• ••• 0123"
    assert mask_email("alice@example.com") == "a•••@example.com"
    assert mask_phone(None) == "" and mask_email("") == ""
    assert (mask_text("expected 2026-03-08T09:30, got +44 20 7946 0958")
            == "expected 2026-03-08T09:30, got +44 ••• ••• 0958")
