"""RFC 9457 problem details: the one shape of every error answer the server gives
(``application/problem+json``), whether a route refuses a request, the framework cannot
parse a body, or the ASGI guards answer before any route runs (413, 431, 400, 503).

One helper for all of them, so a client (and the OpenAPI document) meets one contract: a
``status`` equal to the HTTP status, a ``title``, a ``detail`` that never echoes the input,
and ``errors`` naming each field where there is one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope, Send

PROBLEM = "application/problem+json"
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          409: "Conflict", 413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
          429: "Too Many Requests", 431: "Request Header Fields Too Large", 503: "Service Unavailable"}


class FieldProblem(BaseModel):
    field: str
    detail: str


class ProblemOut(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldProblem] = Field(default_factory=list)


class Problem(Exception):
    """An RFC 9457 answer; ``headers`` e.g. Retry-After or WWW-Authenticate."""

    def __init__(self, status: int, title: str | None = None, detail: str | None = None,
                 errors: list[FieldProblem] | None = None, headers: dict[str, str] | None = None) -> None:
        title = title or TITLES.get(status, "Error")
        super().__init__(title)
        self.body = ProblemOut(title=title, status=status, detail=detail, errors=errors or [])
        self.headers = headers or {}

    def content(self) -> dict[str, Any]:
        return self.body.model_dump(exclude_none=True)

    def response(self) -> JSONResponse:
        return JSONResponse(self.content(), status_code=self.body.status, media_type=PROBLEM, headers=self.headers)

    async def send(self, send: Send) -> None:
        """The same answer written straight to ASGI, for guards that run before any route."""
        body = self.response().body
        headers = [(b"content-type", PROBLEM.encode()), (b"content-length", str(len(body)).encode()),
                   *((name.lower().encode(), value.encode()) for name, value in self.headers.items())]
        await send({"type": "http.response.start", "status": self.body.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def from_http_exception(exc: HTTPException) -> Problem:
    """The framework's own refusals (an unparsable body, no such route, a wrong method) as
    problems; their ``detail`` is the framework's fixed text, never the input."""
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        return Problem(400, detail="the body could not be read (not JSON in UTF-8, nested too deep, or a number "
                       "too long); nothing was stored", errors=[FieldProblem(field="(body)", detail="unreadable")],
                       headers=dict(exc.headers or {}))
    return Problem(exc.status_code, detail=detail, headers=dict(exc.headers or {}))


# The status page's own error page (sync/ui/errors.py, wired in sync/server/app.py): a person in
# a browser under /ui reads a sentence in the page's layout, never problem+JSON; every other
# client, and every other path, keeps the problem details above.
HtmlErrorPage = Callable[[Request, int, "str | None"], Response]


def install_html_errors(app: FastAPI, page: HtmlErrorPage) -> None:
    """Answer a browser's failed /ui request with ``page`` (the app's state holds it)."""
    app.state.html_error_page = page


def _html_page(scope: Scope) -> HtmlErrorPage | None:
    """The HTML error page, when this request is a browser's (Accept: text/html) under /ui."""
    path: str = scope.get("path", "")
    if not (path == "/ui" or path.startswith("/ui/")) or path.startswith("/ui/static/"):
        return None
    accept = next((v for k, v in scope.get("headers", ()) if k == b"accept"), b"")
    if b"text/html" not in accept:
        return None
    app = scope.get("app")
    page: HtmlErrorPage | None = getattr(getattr(app, "state", None), "html_error_page", None)
    return page


def answer(request: Request, problem: Problem) -> Response:
    """``problem`` as this client reads it: an HTML page for a browser under /ui (a redirect or
    any other non-error status stays as it is), problem+JSON for everyone else."""
    page = _html_page(request.scope) if problem.body.status >= 400 else None
    if page is None:
        return problem.response()
    return _with_headers(page(request, problem.body.status, problem.body.detail), problem)


def _with_headers(response: Response, problem: Problem) -> Response:
    """The problem's headers (Retry-After) on its page; never a Basic-auth challenge, which
    would open the browser's dialog."""
    if response.status_code == problem.body.status:
        for name, value in problem.headers.items():
            if name.lower() != "www-authenticate":
                response.headers[name] = value
    return response


async def send_answer(scope: Scope, send: Send, problem: Problem) -> None:
    """``answer`` written straight to ASGI, for the guards that run outside the routes."""
    page = _html_page(scope)
    if page is None:
        await problem.send(send)
        return
    response = _with_headers(page(Request(scope), problem.body.status, problem.body.detail), problem)

    async def no_body() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    await response(scope, no_body, send)
