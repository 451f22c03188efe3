"""Browser sessions for the status page: a signed cookie (itsdangerous) holding the user,
a random session id and its CSRF token, re-signed on every page so it expires after
``ui.session_idle_minutes`` without use. HttpOnly, SameSite=Strict, Secure when served over
https (``ui.secure_cookie``, else ``server.public_url``). Logging out revokes the session
id (kept until it would have expired anyway), so a copied cookie does not outlive the logout:
in the store on PostgreSQL, so the logout holds on every replica that shares it
(sync/ui/shared_login.py); in this process on SQLite and MySQL (one host), and while the
store cannot be reached.

A session is bound to its user's credentials: the cookie carries a keyed digest of
the user's password hash, role and sites (the *generation*) and the time of its login. A page whose
settings give that user another hash or role, or no longer name the user, refuses it and logs
its id out (shared on PostgreSQL, so a replica not yet restarted on the new settings refuses it
too); a session older than ``ui.session_max_hours`` is refused however often it was used.

A browser that logged in also gets a *known device* cookie (``clinicsync_device``, signed,
``ui.known_device_days``): its user's later logins from it are counted on that device alone
(sync/ui/auth.py), so failures from other addresses never slow them down.

Why signed rather than a table: a session is three short values, and a cookie signed with
the process's key needs no write per page view (on PostgreSQL a page reads whether its id was
logged out: one primary-key lookup); a clinic running several replicas sets
``ui.session_secret`` so they all accept it.

CSRF: every form carries the session's token (a Basic-auth user, with no session, gets one
derived from the user name with the same key). A post without the right token is refused
403 before it does anything; SameSite=Strict already keeps other sites' posts from carrying
the cookie, the token covers the Basic path and older browsers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.server import ServerSettings
from clinicsync.sync.config.settings.ui import UiSettings, UiUser
from clinicsync.sync.ui.shared_login import LocalRevocations, SharedRevocations, off_loop, revocations

COOKIE = "clinicsync_ui"
DEVICE_COOKIE = "clinicsync_device"  # a browser that logged in before (sync/ui/auth.py: its logins are not slowed)
LOGIN_COOKIE = "clinicsync_login"  # the login form's own CSRF token, before there is a session
PATH = "/"  # also /openapi.json, which takes the same logins


@dataclass(frozen=True)
class Session:
    user: str
    sid: str
    csrf: str
    generation: str = ""  # a keyed digest of the user's password hash and role when the session began
    started: float = 0.0  # epoch seconds of the login: the absolute lifetime counts from here


def generation(key: bytes, user: UiUser) -> str:
    """What a session of ``user`` is bound to: their password hash, role and sites, digested under the
    cookies' key (the cookie is signed, not encrypted: it never shows the hash itself)."""
    material = f"{user.name}\0{user.password_hash}\0{user.role}".encode()
    if user.sites:  # only then: sessions of users of every site, begun before sites existed, stay valid
        material += f"\0sites:{','.join(user.sites)}".encode()
    return hmac.new(key, b"clinicsync session generation\0" + material, hashlib.sha256).hexdigest()[:22]


@dataclass
class Sessions:
    """Per app: the signing key, the idle and absolute limits and the ids logged out (shared on PostgreSQL)."""

    serializer: URLSafeTimedSerializer
    idle_seconds: int
    secure: bool
    key: bytes
    revoked: LocalRevocations | SharedRevocations
    max_seconds: float = 12 * 3600
    device_seconds: int = 30 * 86400
    clock: Callable[[], float] = time.time

    @classmethod
    def for_settings(cls, settings: Settings, ui: UiSettings, engine: Engine | None = None) -> Sessions:
        key = ui.session_secret.get_secret_value() if ui.session_secret else secrets.token_urlsafe(32)
        server = settings.server or ServerSettings()
        https = bool(server.public_url and server.public_url.scheme == "https")
        secure = ui.secure_cookie if ui.secure_cookie is not None else https
        return cls(URLSafeTimedSerializer(key, salt="clinicsync-ui-session"), ui.session_idle_minutes * 60,
                   secure, key.encode(), revocations(engine, key.encode()), ui.session_max_hours * 3600,
                   ui.known_device_days * 86400)

    def read(self, request: Request) -> Session | None:
        """The request's session if its cookie is genuine, unexpired, not logged out and its
        user's credentials are those it began with."""
        session = self._signed(request)
        if session is None or self.revoked.revoked(session.sid):
            return None
        if not self._current(request, session):
            self.revoked.revoke(session.sid, self.clock() + self.idle_seconds)
            return None
        return session

    async def read_off_loop(self, request: Request) -> Session | None:
        """``read`` from a coroutine: a lookup in the store runs in the thread pool."""
        session = self._signed(request)
        if session is None or await off_loop(self.revoked, self.revoked.revoked, session.sid):
            return None
        if not self._current(request, session):
            await off_loop(self.revoked, self.revoked.revoke, session.sid, self.clock() + self.idle_seconds)
            return None
        return session

    def _current(self, request: Request, session: Session) -> bool:
        """The session's user is still in the settings with the password hash and role it logged
        in with, and it began less than ``ui.session_max_hours`` ago. A stale one is logged out
        (``read``): shared on PostgreSQL, so replicas still on the old settings refuse it too."""
        ui = request.app.state.settings.ui or UiSettings()
        user = next((u for u in ui.users if u.name == session.user), None)
        if user is None or not hmac.compare_digest(generation(self.key, user), session.generation):
            return False
        return 0 <= self.clock() - session.started <= self.max_seconds

    def _signed(self, request: Request) -> Session | None:
        """The session in the request's cookie if it is genuine and unexpired."""
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data: Any = self.serializer.loads(raw, max_age=self.idle_seconds)
        except BadSignature:  # SignatureExpired is one: idle too long
            return None
        if not (isinstance(data, dict) and all(isinstance(data.get(k), str) for k in ("u", "s", "c", "g"))
                and isinstance(data.get("t"), int | float)):
            return None  # a cookie from before sessions were bound to credentials: log in again
        return Session(data["u"], data["s"], data["c"], data["g"], float(data["t"]))

    def start(self, response: Response, user: UiUser) -> Session:
        session = Session(user.name, secrets.token_urlsafe(16), secrets.token_urlsafe(24),
                          generation(self.key, user), self.clock())
        self.renew(response, session)
        self.remember_device(response, user.name)
        return session

    def renew(self, response: Response, session: Session) -> None:
        """Sign the cookie again: the idle clock starts over (the absolute one does not)."""
        value = {"u": session.user, "s": session.sid, "c": session.csrf, "g": session.generation,
                 "t": session.started}
        response.set_cookie(COOKIE, self.serializer.dumps(value), max_age=self.idle_seconds, path=PATH,
                            secure=self.secure, httponly=True, samesite="strict")

    def remember_device(self, response: Response, user: str) -> None:
        """Mark this browser a known device of ``user`` (sync/ui/auth.py counts its logins apart)."""
        value = self._devices().dumps({"u": user, "d": secrets.token_urlsafe(16)})
        response.set_cookie(DEVICE_COOKIE, value, max_age=self.device_seconds, path=PATH, secure=self.secure,
                            httponly=True, samesite="strict")

    def device(self, request: Request, user: str) -> str | None:
        """The id of this browser if it is a known device of ``user`` (a genuine, unexpired cookie)."""
        raw = request.cookies.get(DEVICE_COOKIE)
        if not raw:
            return None
        try:
            data: Any = self._devices().loads(raw, max_age=self.device_seconds)
        except BadSignature:
            return None
        if not (isinstance(data, dict) and data.get("u") == user and isinstance(data.get("d"), str)):
            return None
        return str(data["d"])

    def _devices(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.key, salt="clinicsync-ui-device")

    async def end(self, response: Response, session: Session | None) -> None:
        """Log ``session`` out (here and, on PostgreSQL, on every replica) and drop the cookie."""
        if session is not None:
            await off_loop(self.revoked, self.revoked.revoke, session.sid, time.time() + self.idle_seconds)
        response.delete_cookie(COOKIE, path=PATH, secure=self.secure, httponly=True, samesite="strict")

    def basic_csrf(self, user: str) -> str:
        """The CSRF token of a Basic-auth user (no session): keyed by this process's key."""
        return hmac.new(self.key, f"basic-csrf\0{user}".encode(), hashlib.sha256).hexdigest()

    def login_token(self, request: Request) -> str:
        """The login form's token: the one in its cookie, else a new random one."""
        return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)

    def set_login_token(self, response: Response, token: str) -> None:
        """The form echoes the token; the cookie holds it (another site can set neither)."""
        response.set_cookie(LOGIN_COOKIE, token, max_age=3600, path=PATH, secure=self.secure, httponly=True,
                            samesite="strict")


def sessions(request: Request) -> Sessions:
    state = request.app.state
    found: Sessions | None = getattr(state, "ui_sessions", None)
    if found is None:
        settings: Settings = state.settings
        found = state.ui_sessions = Sessions.for_settings(settings, settings.ui or UiSettings(), state.store.engine)
    return found


def csrf_token(request: Request, user: str) -> str:
    """The token this user's forms carry."""
    session: Session | None = getattr(request.state, "ui_session", None)
    return session.csrf if session is not None else sessions(request).basic_csrf(user)


def check_csrf(request: Request, user: str, sent: object) -> None:
    """403 unless ``sent`` is this user's token."""
    expected = csrf_token(request, user)
    if not (isinstance(sent, str) and hmac.compare_digest(sent.encode(), expected.encode())):
        raise HTTPException(403, "this form is out of date or did not come from the status page; reload the page "
                                 "and try again")
