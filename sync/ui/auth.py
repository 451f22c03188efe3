"""Who may see the status page: a bearer token or a basic-auth user from `ui:` settings.

Anything else gets 401 with a WWW-Authenticate challenge. A successful check is cached
by a keyed digest of the credentials, so each page's stylesheet does not pay for the hash again.

Under attack: failures are counted per client address and per user name (sync.ui.throttle);
past `ui.failures_allowed` the key is locked out, doubling, and answered 429 with Retry-After
before anything is hashed. The client address is the peer, or the rightmost hop that is not a
`server.trusted_proxies` entry (sync/server/serving.py), so a header cannot pick a fresh key.
Failures are also counted per credential kind (the token; passwords) over all clients, past
`ui.failures_allowed_per_kind`: guessing spread over many addresses or user names is bounded
too. That count is not reset by a success (an attacker must not get a fresh budget each time
the desk logs in), and credentials already verified (the cache) pass a locked kind, so people
who are logged in keep working while new logins wait. With a PostgreSQL store these counts
and lockouts are in the store, so replicas share them (sync/ui/shared_login.py); on SQLite and
MySQL, and while the store cannot be reached, they are this process's. At most
`ui.password_checks` hash verifications (~19 MiB each) run at once; the others wait briefly
on the event loop — holding no worker thread, so /healthz stays fast — and then get 429.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

from fastapi import HTTPException, Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from clinicsync.common.memo import kept
from clinicsync.common.passwords import DUMMY_HASH, verify_password
from clinicsync.sync.settings import Settings
from clinicsync.sync.settings.ui import UiSettings
from clinicsync.sync.ui.session import sessions
from clinicsync.sync.ui.shared_login import SharedLogins, login_state, off_loop
from clinicsync.sync.ui.throttle import LocalLogins

REALM = 'Basic realm="clinicsync status", charset="UTF-8"'
_CACHE_KEY = secrets.token_bytes(32)
_CACHE_LIMIT = 256
QUEUE_SECONDS = 2.0  # how long a password check may wait for its turn before 429


def ui_settings(settings: Settings) -> UiSettings:
    return settings.ui or UiSettings()


def _refuse(reason: str) -> HTTPException:
    return HTTPException(401, detail=reason, headers={"WWW-Authenticate": REALM})


def _too_many(reason: str, seconds: int) -> HTTPException:
    return HTTPException(429, detail=reason, headers={"Retry-After": str(seconds)})


@dataclass(frozen=True)
class Credentials:
    scheme: Literal["bearer", "basic"]
    name: str
    secret: str


def parse_credentials(ui: UiSettings, authorization: str | None) -> Credentials:
    """The credentials in an Authorization header (cheap: nothing is hashed); 401 otherwise."""
    if ui.token is None and not ui.users:
        raise _refuse("the status page has no users: add a token or users under `ui:` in settings")
    if not authorization:
        raise _refuse("authentication required")
    scheme, _, credentials = authorization.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and ui.token is not None:
        return Credentials("bearer", "token", credentials)
    if scheme.lower() != "basic" or not ui.users:
        raise _refuse("unsupported authentication scheme")
    try:
        name, sep, password = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise _refuse("malformed basic credentials") from None
    if not sep:
        raise _refuse("malformed basic credentials")
    return Credentials("basic", name, password)


def check_token(ui: UiSettings, credentials: Credentials) -> str:
    assert ui.token is not None
    if hmac.compare_digest(credentials.secret.encode(), ui.token.get_secret_value().encode()):
        return "token"
    raise _refuse("invalid credentials")


def check_password(ui: UiSettings, credentials: Credentials) -> str:
    """The user name if the password matches (one hash check, also for unknown users); 401 otherwise."""
    user = next((u for u in ui.users if hmac.compare_digest(u.name.encode(), credentials.name.encode())), None)
    ok = verify_password(credentials.secret, user.password_hash if user else DUMMY_HASH)
    if not (ok and user):
        raise _refuse("invalid credentials")
    return user.name


@dataclass
class LoginGuard:
    """Per app: the failure counts (per client and user, per kind: in the store on PostgreSQL),
    the gate on concurrent password checks, the cache of good ones (per process: it only saves a hash)."""

    logins: LocalLogins | SharedLogins
    checks: asyncio.Semaphore
    cache: dict[bytes, str] = field(default_factory=dict)

    @classmethod
    def for_settings(cls, ui: UiSettings, engine: Engine) -> LoginGuard:
        return cls(login_state(engine, ui), asyncio.Semaphore(ui.password_checks))

    @staticmethod
    def _cache_key(credentials: Credentials) -> bytes:
        return hmac.new(_CACHE_KEY, f"{credentials.name}\0{credentials.secret}".encode(), hashlib.sha256).digest()

    def known_good(self, credentials: Credentials) -> bool:
        """Credentials verified before (no hash needed to tell)."""
        return credentials.scheme == "basic" and self._cache_key(credentials) in self.cache

    async def verify(self, ui: UiSettings, credentials: Credentials) -> str:
        if credentials.scheme == "bearer":
            return check_token(ui, credentials)
        key = self._cache_key(credentials)
        if key in self.cache:
            return self.cache[key]
        try:
            await asyncio.wait_for(self.checks.acquire(), QUEUE_SECONDS)
        except TimeoutError:
            raise _too_many("too many logins at once; try again shortly", 1) from None
        try:
            name = await run_in_threadpool(check_password, ui, credentials)
        finally:
            self.checks.release()
        return kept(self.cache, key, name, _CACHE_LIMIT)


def _guard(request: Request, ui: UiSettings) -> LoginGuard:
    state = request.app.state
    guard: LoginGuard | None = getattr(state, "login_guard", None)
    if guard is None:
        guard = state.login_guard = LoginGuard.for_settings(ui, state.store.engine)
    return guard


def to_login(next_path: str) -> HTTPException:
    """A browser without a session goes to the login page (303), never to a Basic dialog
    whose Cancel shows raw JSON."""
    return HTTPException(303, "log in first", headers={"Location": f"/ui/login?next={quote(next_path, safe='/')}"})


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


async def require_user(request: Request) -> str:
    """FastAPI dependency for every /ui page: the Authorization header (scripts, dashboards,
    Basic), else the signed session cookie of a browser that logged in on /ui/login; a
    browser with neither is sent to the login page, anything else gets 401."""
    ui = ui_settings(request.app.state.settings)
    authorization = request.headers.get("authorization")
    if not authorization:
        session = await sessions(request).read_off_loop(request)
        if session is not None and any(u.name == session.user for u in ui.users):
            request.state.ui_session = session
            return session.user
        if _wants_html(request) and (ui.users or ui.token is not None):
            raise to_login(request.url.path)
    user = await check_login(request, ui, authorization)
    request.state.ui_user = user
    return user


async def check_login(request: Request, ui: UiSettings, authorization: str | None,
                      credentials: Credentials | None = None) -> str:
    """The user these credentials (an Authorization header, or the login form's) name, under
    the throttles: the same lockouts whichever way a password arrives."""
    guard = _guard(request, ui)
    logins = guard.logins
    client = request.client.host if request.client else "unknown"
    keys = [f"ip:{client}"]
    if credentials is None:
        try:
            credentials = parse_credentials(ui, authorization)
        except HTTPException:
            if authorization:  # malformed credentials count; a first visit without any does not
                await off_loop(logins, logins.failed, keys, [])
            raise
    if credentials.scheme == "basic":
        keys.append(f"user:{credentials.name[:64]}")
    kind = [f"kind:{credentials.scheme}"]
    # Verified credentials pass a locked kind; the longest lockout is the one the wait names.
    verdict = await off_loop(logins, logins.check, keys, [] if guard.known_good(credentials) else kind)
    if verdict.wait is not None:
        raise _too_many("too many failed logins; try again later", verdict.wait)
    try:
        user = await guard.verify(ui, credentials)
    except HTTPException as exc:
        if exc.status_code == 401:
            await off_loop(logins, logins.failed, keys, kind)
        raise
    if verdict.counted:
        await off_loop(logins, logins.succeeded, keys)
    return user


def role_of(ui: UiSettings, user: str) -> str:
    """A user's role (viewer: clinic IT; front_desk); the bearer token (scripts, dashboards) is a viewer."""
    found = next((u for u in ui.users if u.name == user), None)
    return found.role if found is not None else "viewer"

