"""Who may see the status page: a bearer token or a basic-auth user from `ui:` settings.

Anything else gets 401 with a WWW-Authenticate challenge. A successful check is cached
by a keyed digest of the credentials, so each page's stylesheet does not pay for the hash again.

Under attack (OWASP's authentication guidance; sync/ui/throttle.py): failures are
counted per client address and per user name. An address past ``ui.failures_allowed`` is locked
out, doubling up to ``ui.max_lockout_seconds``; a user name past it is slowed down, each further
attempt waiting twice as long, up to ``ui.max_account_delay_seconds`` (a minute): the longest
the real user waits however many addresses guess their password. A browser that logged in
before (a known device, sync/ui/session.py) has its user's logins counted on the device alone,
and the bearer token, an open session and credentials already verified here (the cache) are
never held back by anyone's failures: the right token is compared before anything is counted
(it is long and random: no lockout is needed to keep it from being guessed), wrong ones count
on their address. There is no budget over all clients: one let anyone who could reach the port
lock every user out with 30 failures. Each attempt is counted *before* its password is checked,
atomically, so parallel guesses get exactly the allowance. The client address is the peer, or
the rightmost hop that is not a ``server.trusted_proxies`` entry (sync/server/serving.py), so a
header cannot pick a fresh key. With a PostgreSQL store these counts are in the store, so
replicas share them (sync/ui/shared_login.py); on SQLite and MySQL, and while the store cannot
be reached, they are this process's. At most ``ui.password_checks`` hash verifications (~19 MiB
each) run at once; the others wait briefly on the event loop — holding no worker thread, so
/healthz stays fast — and then get 429.
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
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.ui import UiSettings
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
    """Per app: the failure counts (per client and user: in the store on PostgreSQL), the gate
    on concurrent password checks, the cache of good ones (per process: it only saves a hash)."""

    logins: LocalLogins | SharedLogins
    checks: asyncio.Semaphore
    cache: dict[bytes, tuple[str, str]] = field(default_factory=dict)  # key -> (user, its password hash)

    @classmethod
    def for_settings(cls, ui: UiSettings, engine: Engine) -> LoginGuard:
        return cls(login_state(engine, ui), asyncio.Semaphore(ui.password_checks))

    @staticmethod
    def _cache_key(credentials: Credentials) -> bytes:
        return hmac.new(_CACHE_KEY, f"{credentials.name}\0{credentials.secret}".encode(), hashlib.sha256).digest()

    def known_good(self, ui: UiSettings, credentials: Credentials) -> str | None:
        """The user, when these credentials were verified before against the password hash the
        settings still give that user (no hash needed to tell); None otherwise."""
        if credentials.scheme != "basic":
            return None
        key = self._cache_key(credentials)
        found = self.cache.get(key)
        if found is None:
            return None
        name, password_hash = found
        if any(u.name == name and u.password_hash == password_hash for u in ui.users):
            return name
        self.cache.pop(key, None)  # the password changed or the user is gone
        return None

    async def verify(self, ui: UiSettings, credentials: Credentials) -> str:
        """One password check (the caller has counted the attempt), gated by ``ui.password_checks``."""
        try:
            await asyncio.wait_for(self.checks.acquire(), QUEUE_SECONDS)
        except TimeoutError:
            raise _too_many("too many logins at once; try again shortly", 1) from None
        try:
            name = await run_in_threadpool(check_password, ui, credentials)
        finally:
            self.checks.release()
        password_hash = next(u.password_hash for u in ui.users if u.name == name)
        return kept(self.cache, self._cache_key(credentials), (name, password_hash), _CACHE_LIMIT)[0]


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
        if _wants_html(request):  # with no users yet too: the login page says so (no Basic dialog)
            raise to_login(request.url.path)
    user = await check_login(request, ui, authorization)
    request.state.ui_user = user
    return user


def client_address(request: Request) -> str:
    """The client as the lockout keys it: the ASGI peer, which uvicorn sets from
    X-Forwarded-For only for ``server.trusted_proxies`` (sync/server/serving.py)."""
    return request.client.host if request.client else "unknown"


async def check_login(request: Request, ui: UiSettings, authorization: str | None,
                      credentials: Credentials | None = None) -> str:
    """The user these credentials (an Authorization header, or the login form's) name, under
    the throttles: the same counts whichever way a password arrives."""
    guard = _guard(request, ui)
    logins = guard.logins
    client = f"ip:{client_address(request)}"
    if credentials is None:
        try:
            credentials = parse_credentials(ui, authorization)
        except HTTPException:
            if authorization:  # malformed credentials count on the address; a first visit without any does not
                await _counted(logins, client, None)
            raise
    if credentials.scheme == "bearer":
        try:
            return check_token(ui, credentials)  # the right token is never held back
        except HTTPException:
            await _counted(logins, client, None)  # 429 once the address is locked, else this 401
            raise
    known = guard.known_good(ui, credentials)
    if known is not None:
        return known
    device = sessions(request).device(request, credentials.name)
    keys = [f"device:{device}"] if device else [client, f"user:{credentials.name[:64]}"]
    await _counted(logins, keys[0], keys[1] if len(keys) > 1 else None)
    user = await guard.verify(ui, credentials)  # a 401 stays counted
    await off_loop(logins, logins.succeeded, keys)
    return user


async def _counted(logins: LocalLogins | SharedLogins, client: str, account: str | None) -> None:
    """Count this attempt (before its check: sync/ui/throttle.py), or 429 if it must wait."""
    wait = await off_loop(logins, logins.attempt, client, account)
    if wait is not None:
        raise _too_many("too many failed logins; try again later", wait)


def role_of(ui: UiSettings, user: str) -> str:
    """A user's role (viewer: clinic IT; front_desk); the bearer token (scripts, dashboards) is a viewer."""
    found = next((u for u in ui.users if u.name == user), None)
    return found.role if found is not None else "viewer"

