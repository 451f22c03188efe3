"""No outsider can lock the clinic out of its status page, and a changed password ends its
sessions (issue 59). Two replicas (two apps, each with its own engine, on one store) as behind a
load balancer; the clients' addresses are the ASGI peer, as uvicorn sets it from
X-Forwarded-For for ``server.trusted_proxies`` (tests/ui/test_login_attack.py drives that path).

The login defence's clock is injected (no real sleeps): an attacker's pace and a user's wait
are moves of that clock. Passwords here are hashed with a cheap scrypt (the throttle, not the
hash, is under test): 1,000 argon2 checks would take over a minute."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.config.settings.ui import UiSettings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui import auth
from clinicsync.sync.ui.auth import LoginGuard
from clinicsync.sync.ui.session import Sessions
from clinicsync.sync.ui.shared_login import login_state
from clinicsync.sync.ui.throttle import LocalLogins
from tests.ui.test_desk import csrf_of
from tests.ui.test_pages import HASH, PASSWORD, basic

pytestmark = pytest.mark.anyio
SECRET = "Vq3-replicas-share-this-Kp9wXz7"
TOKEN = "Zq8v-Nw3rT5yLp0aXk7bMd2eHs9u"
BROWSER = {"Accept": "text/html,application/xhtml+xml"}
MAX_DELAY = 60  # ui.max_account_delay_seconds, its default: the documented longest wait of a user name


def cheap_hash(password: str) -> str:
    """A valid (legacy scrypt) hash at the lowest cost the format accepts."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=1024, r=1, p=1, dklen=32)
    return f"scrypt$1024$1$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def settings_text(store_url: str, users: dict[str, tuple[str, str]]) -> str:
    listed = "".join(f'    - name: {name}\n      password_hash: "{hashed}"\n      role: {role}\n'
                     for name, (hashed, role) in users.items())
    return (f'clinic:\n  timezone: America/New_York\nstore:\n  url: "{store_url}"\n'
            f'ui:\n  token: "{TOKEN}"\n  session_secret: "{SECRET}"\n  users:\n{listed}')


class Replicas:
    """Two apps on one store, restartable with other settings (the product reads them at start)."""

    def __init__(self, tmp_path: Path, store_url: str, store: Store, clock: Callable[[], float]) -> None:
        self.path, self.url, self.clock = tmp_path / "settings.yaml", store_url, clock
        self.stores = [store, Store(make_engine(store_url))]  # replica B: its own process's engine
        self.apps: list[FastAPI] = []

    def start(self, users: dict[str, tuple[str, str]], which: tuple[int, ...] = (0, 1)) -> None:
        self.path.write_text(settings_text(self.url, users), encoding="utf-8")
        for n in which:
            app = create_app(load_settings(self.path), self.stores[n])
            ui = app.state.settings.ui or UiSettings()
            logins = login_state(self.stores[n].engine, ui)
            if isinstance(logins, LocalLogins):
                logins = LocalLogins.for_settings(ui, self.clock)
            else:
                logins.clock = self.clock
            app.state.login_guard = LoginGuard(logins, asyncio.Semaphore(ui.password_checks))
            if len(self.apps) > n:
                self.apps[n] = app
            else:
                self.apps.append(app)

    def close(self) -> None:
        self.stores[1].close()


@pytest.fixture
def now() -> list[float]:
    return [time.time()]


@pytest.fixture
def two(tmp_path: Path, store_url: str, store: Store, now: list[float]) -> Iterator[Replicas]:
    replicas = Replicas(tmp_path, store_url, store, lambda: now[0])
    yield replicas
    replicas.close()


def client(app: FastAPI, address: str, cookies: httpx.Cookies | None = None) -> httpx.AsyncClient:
    """A browser (or script) at ``address`` on one replica, with the cookies it kept."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://test",
                             cookies=cookies)


def sessions_of(app: FastAPI) -> Sessions:
    """The replica's session store, made as its first page would."""
    settings = app.state.settings
    found = Sessions.for_settings(settings, settings.ui, app.state.store.engine)
    app.state.ui_sessions = found
    return found


async def login_form(on: httpx.AsyncClient, user: str, password: str) -> httpx.Response:
    token = csrf_of((await on.get("/ui/login")).text)
    return await on.post("/ui/login", data={"user": user, "password": password, "csrf": token})


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
async def test_a_thousand_failed_logins_from_200_addresses_lock_no_user_out(
        two: Replicas, now: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "DUMMY_HASH", cheap_hash("nobody"))  # unknown names cost a hash too
    users = {name: (cheap_hash(PASSWORD), role) for name, role in
             (("desk1", "front_desk"), ("desk2", "front_desk"), ("manager", "viewer"))}
    two.start(users)
    a, b = two.apps
    async with client(a, "192.0.2.20") as browser:  # desk2 logged in from this browser before: a known device
        assert (await login_form(browser, "desk2", PASSWORD)).status_code == 303
        device = httpx.Cookies({"clinicsync_device": str(browser.cookies.get("clinicsync_device"))})
    async with client(b, "192.0.2.21") as browser:  # desk1 is logged in during the attack
        assert (await login_form(browser, "desk1", PASSWORD)).status_code == 303
        open_session = httpx.Cookies({"clinicsync_ui": str(browser.cookies.get("clinicsync_ui"))})
    bearer = {"Authorization": f"Bearer {TOKEN}"}

    answers: Counter[int] = Counter()
    checked: Counter[str] = Counter()
    for i in range(200):  # 200 addresses x 5 wrong passwords, alternating replicas, one second apart
        address = f"198.51.{100 + i // 100}.{i % 100 + 1}"
        names = ["desk1", "desk2", "manager", "admin", f"user{i}"]
        for j, name in enumerate(names):
            async with client((a, b)[(i + j) % 2], address) as attacker:
                code = (await attacker.get("/ui/", headers=basic(name, f"Winter{i}-{j}!"))).status_code
            answers[code] += 1
            if code == 401:
                checked[name] += 1
        async with client((b, a)[i % 2], address) as attacker:  # each attacking address is slowed
            sixth = await attacker.get("/ui/", headers=basic(f"other{i}", "guess"))
            assert sixth.status_code == 429 and int(sixth.headers["retry-after"]) >= 1, address
            if i % 20 == 0:  # the bearer token keeps working, from an attacking address too (a cheap page)
                assert (await attacker.get("/openapi.json", headers=bearer)).status_code == 200
        if i % 50 == 25:  # mid-attack: the open session, the known device and the token work on both
            for app in (a, b):
                async with client(app, "192.0.2.21", open_session) as browser:
                    assert (await browser.get("/ui/", headers=BROWSER)).status_code == 200
                async with client(app, "192.0.2.20", device) as browser:
                    assert (await login_form(browser, "desk2", PASSWORD)).status_code == 303
                async with client(app, "203.0.113.99") as script:
                    assert (await script.get("/ui/", headers=bearer)).status_code == 200
        now[0] += 1.0
    assert sum(answers.values()) == 1000 and set(answers) == {401, 429}
    # Guessing each real name from 200 addresses checked a handful of passwords, not hundreds.
    assert all(checked[name] <= 15 for name in ("desk1", "desk2", "manager")), checked

    for app in (a, b):
        app.state.login_guard.cache.clear()  # no verified credentials to lean on: the throttle's path
    for n, name in enumerate(("desk1", "desk2", "manager")):  # each from a fresh browser, on either replica
        async with client((a, b)[n % 2], f"192.0.2.{40 + n}") as fresh:
            waited = 0
            answer = await login_form(fresh, name, PASSWORD)
            while answer.status_code == 429:
                wait = int(answer.headers["retry-after"])
                assert f"try again in {wait} s" in answer.text
                waited += wait
                assert waited <= MAX_DELAY, f"{name} waited {waited} s"
                now[0] += wait
                answer = await login_form(fresh, name, PASSWORD)
            assert answer.status_code == 303, name


@pytest.mark.parametrize("replicas", [1, 2])
async def test_sixty_parallel_wrong_passwords_from_one_address_check_exactly_the_allowance(
        two: Replicas, store: Store, replicas: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted before the check, atomically: 5 (ui.failures_allowed) are checked, not 19. With
    two replicas only when they share the store (PostgreSQL)."""
    if replicas == 2 and store.engine.dialect.name != "postgresql":
        pytest.skip("replicas share the login counts on PostgreSQL only (docs/status-page.md)")
    calls = Counter[str]()
    lock = threading.Lock()
    real = auth.verify_password

    def counted(password: str, stored: str) -> bool:
        with lock:
            calls["checked"] += 1
        return real(password, stored)

    monkeypatch.setattr(auth, "verify_password", counted)
    two.start({"desk": (HASH, "front_desk")})  # argon2: each check takes long enough for the race to show
    apps = two.apps[:replicas]

    async def guess(n: int) -> int:
        async with client(apps[n % replicas], "203.0.113.7") as attacker:
            return (await attacker.get("/ui/", headers=basic("desk", f"guess{n}"))).status_code

    codes = Counter(await asyncio.gather(*(guess(n) for n in range(60))))
    assert calls["checked"] == 5 and codes == Counter({401: 5, 429: 55}), (calls, codes)


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
async def test_a_changed_password_or_role_ends_the_session_on_both_replicas(two: Replicas) -> None:
    users = {"desk1": (cheap_hash(PASSWORD), "front_desk"), "manager": (cheap_hash(PASSWORD), "front_desk")}
    two.start(users)
    a, b = two.apps
    cookies = {}
    for name in users:
        async with client(a, "192.0.2.30") as browser:
            assert (await login_form(browser, name, PASSWORD)).status_code == 303
            cookies[name] = str(browser.cookies.get("clinicsync_ui"))

    async def opens(app: FastAPI, name: str) -> int:
        async with client(app, "192.0.2.30") as browser:
            browser.cookies.set("clinicsync_ui", cookies[name])
            return (await browser.get("/ui/", headers=BROWSER)).status_code

    assert [await opens(app, name) for app in (a, b) for name in users] == [200] * 4
    # IT replaces desk1's hash and makes the manager a viewer; replica A restarts first.
    changed = {"desk1": (cheap_hash("a new passphrase"), "front_desk"), "manager": (users["manager"][0], "viewer")}
    two.start(changed, which=(0,))
    a = two.apps[0]
    assert await opens(a, "desk1") == 303 and await opens(a, "manager") == 303  # to the login form
    # B still runs the old settings: the sessions A refused are logged out in the shared store.
    assert await opens(b, "desk1") == 303 and await opens(b, "manager") == 303
    two.start(changed, which=(1,))
    assert await opens(two.apps[1], "desk1") == 303
    async with client(two.apps[1], "192.0.2.30") as browser:  # the new password opens a new session
        assert (await login_form(browser, "desk1", "a new passphrase")).status_code == 303
        assert (await browser.get("/ui/", headers=BROWSER)).status_code == 200
        cookies["desk1"] = str(browser.cookies.get("clinicsync_ui"))
    assert await opens(two.apps[0], "desk1") == 200
    two.start({"manager": changed["manager"]}, which=(0,))  # desk1 removed
    assert await opens(two.apps[0], "desk1") == 303


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
async def test_a_session_older_than_its_absolute_lifetime_is_refused(two: Replicas) -> None:
    """A browser that keeps polling stays signed in for ui.session_max_hours (12), not forever."""
    two.start({"desk1": (cheap_hash(PASSWORD), "front_desk")})
    a, b = two.apps
    clocks = [sessions_of(a), sessions_of(b)]
    async with client(a, "192.0.2.30") as browser:
        assert (await login_form(browser, "desk1", PASSWORD)).status_code == 303
        kept = httpx.Cookies({"clinicsync_ui": str(browser.cookies.get("clinicsync_ui"))})
    started = time.time()
    codes = []
    for hour in range(1, 14):  # a page every hour (the idle limit is never reached), on either replica
        for sessions in clocks:
            sessions.clock = lambda hour=hour: started + hour * 3600 - 30  # type: ignore[misc]
        async with client((a, b)[hour % 2], "192.0.2.30", kept) as browser:
            codes.append((await browser.get("/ui/", headers=BROWSER)).status_code)
    assert codes == [200] * 12 + [303]  # past 12 h: refused, however recently used
