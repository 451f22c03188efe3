"""A browser under /ui reads errors as pages, and is sent to the login page instead of the
Basic-auth dialog (issue 58, obs 9); scripts and the REST API keep problem+JSON."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui import queries
from tests.ui.test_desk import DESK, MANAGER, csrf_of
from tests.ui.test_pages import PASSWORD, basic

pytestmark = pytest.mark.anyio
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
Desk = tuple[httpx.AsyncClient, dict[str, int]]


def assert_page(response: httpx.Response, status: int, sentence: str) -> str:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    assert "www-authenticate" not in response.headers
    html = response.text
    assert sentence in html and 'href="/ui/" id="back-to-today"' in html
    assert '<link rel="stylesheet" href="/ui/static/ui.css">' in html  # the page's own layout
    assert '"status"' not in html and "about:blank" not in html
    return html


async def test_a_missing_appointment_is_a_page_for_a_browser_and_json_for_a_script(desk: Desk) -> None:
    client, _ = desk
    html = assert_page(await client.get("/ui/appointments/999999", headers={**DESK, **BROWSER}), 404,
                       "There is no such page, or the appointment is no longer there")
    assert 'href="/ui/appointments"' in html  # the signed-in desk keeps its navigation
    assert_page(await client.get("/ui/no-such-page", headers={**DESK, **BROWSER}), 404, "There is no such page")
    script = await client.get("/ui/appointments/999999", headers={**DESK, "Accept": "application/json"})
    assert script.status_code == 404 and script.headers["content-type"] == "application/problem+json"
    assert script.json()["detail"] == "no such appointment"
    api = await client.get("/api/v1/appointments/x?connector=csv", headers=BROWSER)  # the REST API: never a page
    assert api.status_code >= 400 and api.headers["content-type"] == "application/problem+json"


async def test_refusals_read_as_sentences(desk: Desk) -> None:
    client, ids = desk
    url = f"/ui/appointments/{ids['A5']}/actions"
    await client.get("/ui/", headers=MANAGER)  # the app's session store starts with its first page
    manager_token = client._transport.app.state.ui_sessions.basic_csrf("manager")  # type: ignore[attr-defined]
    assert_page(await client.post(url, headers={**MANAGER, **BROWSER}, data={"csrf": manager_token,
                                                                              "action": "cancel"}),
                403, "Your login may not do this")
    page = (await client.get("/ui/", headers=DESK)).text
    html = assert_page(await client.post(url, headers={**DESK, **BROWSER},
                                         data={"csrf": csrf_of(page), "action": "drop_table"}),
                       422, "Some of what was sent could not be used.")
    assert "action: &#39;drop_table&#39; is not one of" in html  # what to fix, escaped
    invalid = await client.get("/ui/appointments/0", headers={**DESK, **BROWSER})  # fails validation (ge=1)
    assert_page(invalid, 422, "Some of what was sent could not be used.")


async def test_a_failure_inside_a_page_is_a_page_too(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    client, ids = desk

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("store gone")

    monkeypatch.setattr(queries, "appointment", broken)
    response = await client.get(f"/ui/appointments/{ids['A5']}", headers={**DESK, **BROWSER})
    html = assert_page(response, 503, "Something went wrong on our side")
    assert response.headers["retry-after"] == "30" and "store gone" not in html
    script = await client.get(f"/ui/appointments/{ids['A5']}", headers=DESK)
    assert script.status_code == 503 and script.headers["content-type"] == "application/problem+json"


async def test_shipped_settings_send_a_browser_to_the_login_page(tmp_path: Path, store: Store,
                                                                 store_url: str) -> None:
    path = tmp_path / "bare.yaml"
    path.write_text(f'store:\n  url: "{store_url}"\n')  # no ui: section, as shipped
    app = create_app(load_settings(path), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        sent = await c.get("/ui/", headers=BROWSER)
        assert sent.status_code == 303 and sent.headers["location"] == "/ui/login?next=/ui/"
        assert "www-authenticate" not in sent.headers
        login = await c.get("/ui/login?next=/ui/", headers=BROWSER)
        assert login.status_code == 200 and "no users yet" in login.text and "ui.users" in login.text
        script = await c.get("/ui/", headers=basic("desk", PASSWORD))
        assert script.status_code == 401 and script.headers["www-authenticate"].startswith("Basic realm=")


async def test_a_browser_with_wrong_basic_credentials_gets_the_login_page(desk: Desk) -> None:
    client, _ = desk
    sent = await client.get("/ui/attention", headers={**basic("desk", "wrong"), **BROWSER})
    assert sent.status_code == 303 and sent.headers["location"] == "/ui/login?next=/ui/attention"
    assert "www-authenticate" not in sent.headers
    good = await client.get("/ui/attention", headers={**DESK, **BROWSER})  # scripts' Basic still works
    assert good.status_code == 200
