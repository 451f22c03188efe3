"""The status page's login and logout: a form instead of the browser's
Basic dialog, whose Cancel showed raw JSON and which no one can log out of on a shared desk
PC. The password goes through the same throttles and lockouts as a Basic header
(sync/ui/auth.py ``check_login``); the form carries a CSRF token (a cookie it must match),
and a successful login starts a signed session (sync/ui/session.py), bound to the user's
password hash and role, and marks the browser a known device of that user (its later logins are
not slowed by other addresses' failures: sync/ui/auth.py)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from clinicsync.sync.ui.auth import Credentials, check_login, ui_settings
from clinicsync.sync.ui.render import redirect, render
from clinicsync.sync.ui.session import LOGIN_COOKIE, check_csrf, sessions

router = APIRouter(prefix="/ui", include_in_schema=False)
MAX_FIELD = 1024
NO_USERS = ("The status page has no users yet: ask IT to add one under ui.users in the settings "
            "(docs/status-page.md).")


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this site only (never //elsewhere or a URL)."""
    if (value and value.startswith("/") and not value.startswith("//") and "\\" not in value
            and not any(c.isspace() or ord(c) < 32 for c in value)):  # a browser drops tabs: "/\t/x" is "//x"
        return value
    return "/ui/"


def _login_page(request: Request, next_path: str, error: str | None = None, status_code: int = 200,
                retry_after: int | None = None) -> HTMLResponse:
    token = sessions(request).login_token(request)
    response = render(request, "login.html", status_code, next=next_path, error=error, login_csrf=token,
                      signed_out=request.query_params.get("out") == "1")
    sessions(request).set_login_token(response, token)
    if retry_after is not None:
        response.headers["retry-after"] = str(retry_after)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Annotated[str | None, Query(max_length=512)] = None) -> HTMLResponse:
    """The login form; already signed in: straight on."""
    if sessions(request).read(request) is not None:
        return redirect(request, safe_next(next))  # type: ignore[return-value]
    if not ui_settings(request.app.state.settings).users:
        return _login_page(request, safe_next(next), NO_USERS)
    return _login_page(request, safe_next(next))


@router.post("/login", response_model=None)
async def login(request: Request) -> Response:
    """Check the name and password (throttled like Basic), then start a session."""
    form = await request.form()
    name, password, token, next_path = (str(form.get(key) or "")[:MAX_FIELD]
                                        for key in ("user", "password", "csrf", "next"))
    expected = request.cookies.get(LOGIN_COOKIE) or ""
    if not (expected and token and hmac.compare_digest(token.encode(), expected.encode())):
        return _login_page(request, safe_next(next_path), "This form had expired; please log in again.", 403)
    ui = ui_settings(request.app.state.settings)
    if not ui.users:
        return _login_page(request, safe_next(next_path), NO_USERS, 401)
    try:
        user = await check_login(request, ui, None, Credentials("basic", name, password))
    except HTTPException as exc:
        if exc.status_code == 429:
            wait = int((exc.headers or {}).get("Retry-After", "60"))
            return _login_page(request, safe_next(next_path), f"Too many failed logins; try again in {wait} s.",
                               429, wait)
        return _login_page(request, safe_next(next_path), "Wrong user name or password.", 401)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    request.state.ui_session = sessions(request).start(response, next(u for u in ui.users if u.name == user))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    """End the session (this browser, and the cookie if it was copied), back to the login form."""
    store = sessions(request)
    session = await store.read_off_loop(request)
    form = await request.form()
    if session is None:
        return RedirectResponse("/ui/login", status_code=303)
    request.state.ui_session = session
    check_csrf(request, session.user, form.get("csrf"))
    response = RedirectResponse("/ui/login?out=1", status_code=303)
    await store.end(response, session)
    return response
