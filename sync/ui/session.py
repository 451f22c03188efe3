"""Browser sessions for the status page: a signed cookie (itsdangerous) holding the user,
a random session id and its CSRF token, re-signed on every page so it expires after
``ui.session_idle_minutes`` without use. HttpOnly, SameSite=Strict, Secure when served over
https (``ui.secure_cookie``, else ``server.public_url``). Logging out revokes the session
id (kept until it would have expired anyway), so a copied cookie does not outlive the logout:
in the store on PostgreSQL, so the logout holds on every replica that shares it
(sync/ui/shared_login.py); in this process on SQLite and MySQL (one host), and while the
store cannot be reached.

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
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine

from clinicsync.sync.settings import Settings
from clinicsync.sync.settings.server import ServerSettings
from clinicsync.sync.settings.ui import UiSettings
from clinicsync.sync.ui.shared_login import LocalRevocations, SharedRevocations, off_loop, revocations

COOKIE = "clinicsync_ui"
LOGIN_COOKIE = "clinicsync_login"  # the login form's own CSRF token, before there is a session
PATH = "/"  # also /openapi.json, which takes the same logins


@dataclass(frozen=True)
class Session:
    user: str
    sid: str
    csrf: str


@dataclass
class Sessions:
    """Per app: the signing key, the idle limit and the ids logged out (shared on PostgreSQL)."""

    serializer: URLSafeTimedSerializer
    idle_seconds: int
    secure: bool
    key: bytes
    revoked: LocalRevocations | SharedRevocations

    @classmethod
    def for_settings(cls, settings: Settings, ui: UiSettings, engine: Engine | None = None) -> Sessions:
        key = ui.session_secret.get_secret_value() if ui.session_secret else secrets.token_urlsafe(32)
        server = settings.server or ServerSettings()
        https = bool(server.public_url and server.public_url.scheme == "https")
        secure = ui.secure_cookie if ui.secure_cookie is not None else https
        return cls(URLSafeTimedSerializer(key, salt="clinicsync-ui-session"), ui.session_idle_minutes * 60,
                   secure, key.encode(), revocations(engine, key.encode()))

    def read(self, request: Request) -> Session | None:
        """The request's session if its cookie is genuine, unexpired and not logged out."""
        session = self._signed(request)
        return None if session is None or self.revoked.revoked(session.sid) else session

    async def read_off_loop(self, request: Request) -> Session | None:
        """``read`` from a coroutine: a lookup in the store runs in the thread pool."""
        session = self._signed(request)
        if session is None or await off_loop(self.revoked, self.revoked.revoked, session.sid):
            return None
        return session

    def _signed(self, request: Request) -> Session | None:
        """The session in the request's cookie if it is genuine and unexpired."""
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data: Any = self.serializer.loads(raw, max_age=self.idle_seconds)
        except BadSignature:  # SignatureExpired is one: idle too long
            return None
        if not (isinstance(data, dict) and all(isinstance(data.get(k), str) for k in ("u", "s", "c"))):
            return None
        return Session(data["u"], data["s"], data["c"])

    def start(self, response: Response, user: str) -> Session:
        session = Session(user, secrets.token_urlsafe(16), secrets.token_urlsafe(24))
        self.renew(response, session)
        return session

    def renew(self, response: Response, session: Session) -> None:
        """Sign the cookie again: the idle clock starts over."""
        response.set_cookie(COOKIE, self.serializer.dumps({"u": session.user, "s": session.sid, "c": session.csrf}),
                            max_age=self.idle_seconds, path=PATH, secure=self.secure, httponly=True,
                            samesite="strict")

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
