"""Who may see the status page: a bearer token or a basic-auth user from `ui:` settings.

Anything else gets 401 with a WWW-Authenticate challenge. A successful check is cached
by a keyed digest of the credentials, so each page's stylesheet does not pay for scrypt again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from fastapi import HTTPException, Request

from sync.settings import Settings
from sync.ui.passwords import DUMMY_HASH, verify_password
from sync.ui.settings import UiSettings

REALM = 'Basic realm="clinicsync status", charset="UTF-8"'
_CACHE_KEY = secrets.token_bytes(32)
_CACHE_LIMIT = 256


def ui_settings(settings: Settings) -> UiSettings:
    return settings.ui or UiSettings()


def _refuse(reason: str) -> HTTPException:
    return HTTPException(401, detail=reason, headers={"WWW-Authenticate": REALM})


def authenticate(ui: UiSettings, authorization: str | None, cache: dict[bytes, str]) -> str:
    """The user (or "token") these credentials belong to; HTTPException 401 otherwise."""
    if ui.token is None and not ui.users:
        raise _refuse("the status page has no users: add a token or users under `ui:` in settings")
    if not authorization:
        raise _refuse("authentication required")
    scheme, _, credentials = authorization.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and ui.token is not None:
        if hmac.compare_digest(credentials.encode(), ui.token.get_secret_value().encode()):
            return "token"
        raise _refuse("invalid credentials")
    if scheme.lower() != "basic" or not ui.users:
        raise _refuse("unsupported authentication scheme")
    try:
        name, sep, password = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise _refuse("malformed basic credentials") from None
    if not sep:
        raise _refuse("malformed basic credentials")
    key = hmac.new(_CACHE_KEY, f"{name}\0{password}".encode(), hashlib.sha256).digest()
    if key in cache:
        return cache[key]
    user = next((u for u in ui.users if hmac.compare_digest(u.name.encode(), name.encode())), None)
    ok = verify_password(password, user.password_hash if user else DUMMY_HASH)
    if not (ok and user):
        raise _refuse("invalid credentials")
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = user.name
    return user.name


def require_user(request: Request) -> str:
    """FastAPI dependency for every /ui page."""
    state = request.app.state
    if not hasattr(state, "ui_auth_cache"):
        state.ui_auth_cache = {}
    return authenticate(ui_settings(state.settings), request.headers.get("authorization"), state.ui_auth_cache)


def role_of(ui: UiSettings, user: str) -> str:
    """A user's role; the bearer token (scripts, dashboards) is a viewer."""
    found = next((u for u in ui.users if u.name == user), None)
    return found.role if found is not None else "viewer"
