"""The status page's login defence across replicas: two apps, each with its
own engine, on one store, as two replicas behind a load balancer. On PostgreSQL they share
failed logins, lockouts and logouts (sync/ui/shared_login.py); on SQLite each keeps its own
(one host: documented). A store that cannot be reached leaves each replica on its own, never
refusing a right password."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import text
from structlog.testing import capture_logs

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.config.settings.ui import UiSettings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui.shared_login import SharedLogins, digest_key
from clinicsync.sync.ui.throttle import LocalLogins
from tests.ui.test_desk import csrf_of
from tests.ui.test_pages import HASH, PASSWORD, basic

pytestmark = pytest.mark.anyio
SECRET = "Vq3-replicas-share-this-Kp9wXz7"
BROWSER = {"Accept": "text/html,application/xhtml+xml"}
ADDRESS = "203.0.113.7"


def settings_text(store_url: str, extra: str = "", lockout: int = 600) -> str:
    return (f'clinic:\n  timezone: America/New_York\nstore:\n  url: "{store_url}"\n'
            f'ui:\n  session_secret: "{SECRET}"\n  lockout_seconds: {lockout}\n{extra}  users:\n'
            f'    - name: desk\n      password_hash: "{HASH}"\n      role: front_desk\n'
            f'    - name: manager\n      password_hash: "{HASH}"\n')


def replicas(tmp_path: Path, store_url: str, store: Store, extra: str = "") -> Iterator[tuple[FastAPI, FastAPI]]:
    path = tmp_path / "settings.yaml"
    path.write_text(settings_text(store_url, extra), encoding="utf-8")
    other = Store(make_engine(store_url))  # replica B: its own process's engine on the same store
    try:
        yield create_app(load_settings(path), store), create_app(load_settings(path), other)
    finally:
        other.close()


@pytest.fixture
def two(tmp_path: Path, store_url: str, store: Store) -> Iterator[tuple[FastAPI, FastAPI]]:
    yield from replicas(tmp_path, store_url, store)


def client(app: FastAPI, address: str = ADDRESS) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://test")


def shared(store: Store) -> bool:
    return store.engine.dialect.name == "postgresql"


async def login_form(on: httpx.AsyncClient, user: str, password: str) -> httpx.Response:
    token = csrf_of((await on.get("/ui/login")).text)
    return await on.post("/ui/login", data={"user": user, "password": password, "csrf": token})


async def test_failures_on_one_replica_lock_the_client_out_on_the_other(two: tuple[FastAPI, FastAPI],
                                                                        store: Store) -> None:
    a, b = two
    async with client(a) as on_a:
        assert [(await on_a.get("/ui/", headers=basic("desk", f"guess{i}"))).status_code for i in range(3)] == [401] * 3
    async with client(b) as on_b:  # the 4th and 5th guesses (ui.failures_allowed: 5) on the other replica
        assert [(await on_b.get("/ui/", headers=basic("desk", f"guess{i}"))).status_code for i in (3, 4)] == [401] * 2
        # The lockout (600 s) holds on B: the right password waits too, and the form says how long.
        locked = await login_form(on_b, "desk", PASSWORD)
        assert locked.status_code == (429 if shared(store) else 303)
        if shared(store):
            wait = int(locked.headers["retry-after"])
            assert 590 <= wait <= 600, wait
            assert f"Too many failed logins; try again in {wait} s." in locked.text
    async with client(a) as on_a:
        assert (await on_a.get("/ui/", headers=basic("desk", PASSWORD))).status_code == (429 if shared(store) else 200)
    if shared(store):  # no user name or address in the store: keyed digests only
        with store.engine.connect() as connection:
            keys = connection.execute(text("SELECT key FROM loginfailure")).scalars().all()
        assert len(keys) == 2 and all(re.fullmatch("[0-9a-f]{64}", key) for key in keys)  # ip, user


async def test_a_logout_on_one_replica_refuses_the_cookie_on_the_other(two: tuple[FastAPI, FastAPI],
                                                                       store: Store) -> None:
    a, b = two
    async with client(a) as on_a, client(b) as on_b:
        assert (await login_form(on_a, "desk", PASSWORD)).status_code == 303
        cookie = str(on_a.cookies.get("clinicsync_ui"))
        on_b.cookies.set("clinicsync_ui", cookie)  # copied (ui.session_secret: B accepts it)
        assert (await on_b.get("/ui/", headers=BROWSER)).status_code == 200
        home = await on_a.get("/ui/", headers=BROWSER)
        out = await on_a.post("/ui/logout", data={"csrf": csrf_of(home.text.split('action="/ui/logout"')[1])})
        assert out.status_code == 303
        on_a.cookies.set("clinicsync_ui", cookie)
        assert (await on_a.get("/ui/", headers=BROWSER)).status_code == 303  # to the login form
        on_b.cookies.set("clinicsync_ui", cookie)
        assert (await on_b.get("/ui/", headers=BROWSER)).status_code == (303 if shared(store) else 200)
    if shared(store):
        with store.engine.connect() as connection:
            rows = connection.execute(text("SELECT sid, expires_at FROM revokedsession")).all()
        assert len(rows) == 1 and re.fullmatch("[0-9a-f]{64}", rows[0].sid)
        assert rows[0].expires_at == pytest.approx(time.time() + 30 * 60, abs=60)  # ui.session_idle_minutes


async def test_the_slow_down_of_a_user_name_spans_the_replicas(two: tuple[FastAPI, FastAPI], store: Store) -> None:
    """Guesses at one user name from many addresses, alternating replicas: 5 are checked, then
    that name waits (on both replicas when they share the store); another user, and the user
    already verified, are not held back (issue 59: there is no lock over all clients)."""
    a, b = two
    async with client(a, "192.0.2.1") as desk:  # logged in before the spray, on A
        assert (await desk.get("/ui/", headers=basic("desk", PASSWORD))).status_code == 200
    codes = []
    for i in range(8):  # each guess from another address
        async with client((a, b)[i % 2], f"198.51.100.{i}") as sprayer:
            codes.append((await sprayer.get("/ui/", headers=basic("desk", "Winter2026!"))).status_code)
    assert codes == ([401] * 5 + [429] * 3 if shared(store) else [401] * 8)
    async with client(b, "192.0.2.2") as fresh:  # another user logs in on B at once
        assert (await fresh.get("/ui/", headers=basic("manager", PASSWORD))).status_code == 200
        slowed = await fresh.get("/ui/", headers=basic("desk", PASSWORD))  # the guessed name waits, a minute at most
        assert slowed.status_code == (429 if shared(store) else 200)
        if shared(store):
            assert 1 <= int(slowed.headers["retry-after"]) <= 60  # ui.max_account_delay_seconds
    async with client(a, "192.0.2.1") as desk:  # verified credentials are never held back
        assert (await desk.get("/ui/", headers=basic("desk", PASSWORD))).status_code == 200


@pytest.fixture
async def away(tmp_path: Path) -> AsyncIterator[FastAPI]:
    """A replica whose PostgreSQL store refuses connections (nothing listens on port 1)."""
    url = "postgresql://postgres@127.0.0.1:1/test"
    path = tmp_path / "settings.yaml"
    path.write_text(settings_text(url), encoding="utf-8")
    store = Store(make_engine(url))
    yield create_app(load_settings(path), store)
    store.close()


async def test_a_replica_whose_store_is_away_counts_and_logs_out_on_its_own(away: FastAPI) -> None:
    with capture_logs() as logs:
        async with client(away) as on:
            good = await login_form(on, "desk", PASSWORD)  # the right password is never refused
            assert good.status_code == 303
            assert (await on.get("/ui/login")).status_code == 303  # signed in: straight on
            cookie = str(on.cookies.get("clinicsync_ui"))
            csrf = URLSafeTimedSerializer(SECRET, salt="clinicsync-ui-session").loads(cookie)["c"]
            assert (await on.post("/ui/logout", data={"csrf": csrf})).status_code == 303
            on.cookies.set("clinicsync_ui", cookie)  # the copied cookie: logged out on this replica
            assert (await on.get("/ui/login")).status_code == 200
            codes = [(await login_form(on, "desk", f"guess{i}")).status_code for i in range(6)]
            assert codes == [401] * 5 + [429]  # this replica's own lockout (of desk's known device: it logged in)
            assert (await login_form(on, "desk", PASSWORD)).status_code == 303  # verified before: never held back
            on.cookies.delete("clinicsync_device")
            assert [(await login_form(on, "manager", f"guess{i}")).status_code for i in range(6)] == [401] * 5 + [429]
            assert (await login_form(on, "manager", PASSWORD)).status_code == 429  # from this address
        async with client(away, "192.0.2.9") as other:
            assert (await login_form(other, "desk", PASSWORD)).status_code == 303  # counted on desk's device only
        async with client(away, "192.0.2.10") as third:
            slowed = await login_form(third, "manager", PASSWORD)  # the name guessed 5 times waits, a minute at most
            assert slowed.status_code == 429 and 1 <= int(slowed.headers["retry-after"]) <= 60
    warnings = [e for e in logs if e["event"] == "login.local"]
    assert warnings and all(e["log_level"] == "warning" and "unreachable" in e["fix"] for e in warnings)
    assert not any(ADDRESS in str(e) or "desk" in str(e) for e in warnings)  # no address, no user name


def test_the_shared_count_keeps_the_throttle_contract(store: Store) -> None:
    """The store's statement does what Throttle does: counted before the check, refused while
    locked (counting nothing more), doubling, capped per kind of key, reset by a success and by
    a quiet period of 2 x the longest lockout."""
    now = [1_000_000.0]
    ui = UiSettings(failures_allowed=2, lockout_seconds=1, max_lockout_seconds=8, max_account_delay_seconds=4,
                    token="Zq8v-Nw3rT5yLp0aXk7bMd2eHs9u")
    local = LocalLogins.for_settings(ui, clock=lambda: now[0])
    for logins in ([local] + ([SharedLogins(store.engine, digest_key(ui) or b"", ui, clock=lambda: now[0])]
                             if shared(store) else [])):
        def after(seconds: float) -> None:
            now[0] += seconds

        # The user name: 2 checked, then each attempt waits, doubling, capped at 4 s; every
        # address that tried counts it (b, c, d, e below), refused or not.
        assert [logins.attempt("ip:a", "user:desk"), logins.attempt("ip:b", "user:desk")] == [None, None]
        assert logins.attempt("ip:c", "user:desk") == 1
        after(1.1)
        assert [logins.attempt("ip:c", "user:desk"), logins.attempt("ip:d", "user:desk")] == [None, 2]
        assert logins.attempt("ip:c", None) == 1  # c's 2nd attempt locked c (its 1st, refused by the name, counted)
        after(2.1)
        assert [logins.attempt("ip:d", "user:desk"), logins.attempt("ip:e", "user:desk")] == [None, 4]
        after(4.1)
        assert [logins.attempt("ip:e", "user:desk"), logins.attempt("ip:f", "user:desk")] == [None, 4]
        # An address: 2, then locked, doubling, capped at 8 s; refused attempts count nothing more.
        waits = []
        for _ in range(6):
            after(9)
            assert logins.attempt("ip:g", None) is None
            waits.append(logins.attempt("ip:g", None))
        assert waits == [None, 2, 4, 8, 8, 8]  # the 2nd of each pair is refused by the 1st's lock
        logins.succeeded(["ip:g", "user:desk"])
        assert [logins.attempt("ip:g", "user:desk"), logins.attempt("ip:g", "user:desk")] == [None, None]
        assert logins.attempt("ip:g", "user:desk") == 1  # a success started afresh: its 2nd failure locked it
        after(1.5)
        assert [logins.attempt("ip:h", None), logins.attempt("ip:h", None)] == [None, None]
        after(16.1)  # quiet for more than 2 x 8 s: the next failure starts afresh
        assert [logins.attempt("ip:h", None), logins.attempt("ip:h", None), logins.attempt("ip:h", None)] == [
            None, None, 1]
        now[0] += 100
