"""ASGI middleware: request bounds (header and body sizes), security headers on every
answer (413, 431 and errors included), an access log without PHI, and hostile input that
slipped past a parser answered 400 instead of 500 — each as problem details (sync/server/problems.py).

The access log names the route *template* (`/r/{token}`), never the concrete path, so
tokens and identifiers in URLs stay out of logs. No traceback is logged at default level:
a crafted request must not be able to flood the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinicsync.common.logs import emits
from clinicsync.sync.server.metrics import Metrics
from clinicsync.sync.server.problems import FieldProblem, Problem, send_answer

log = structlog.get_logger("clinicsync.http")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
     b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    (b"cache-control", b"no-store"),
]


MAX_HEADER_VALUE_BYTES = 8 * 1024
MAX_HEADER_BYTES = 32 * 1024
# What a parser raises on input it cannot take (deep nesting, huge numbers, bad bytes).
INPUT_ERRORS = (ValueError, OverflowError, RecursionError, UnicodeError, LookupError)


class BodyTooLarge(Exception):
    pass


class RequestBounds:
    """431 for a header value over ``max_value`` bytes (or all headers over ``max_total``),
    413 for a body over ``limit`` bytes, by Content-Length or as it streams in — before
    any route reads or parses a byte of it."""

    def __init__(self, app: ASGIApp, limit: int, max_value: int = MAX_HEADER_VALUE_BYTES,
                 max_total: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.limit = limit
        self.max_value = max_value
        self.max_total = max_total

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fits, declared = _headers_fit(scope["headers"], self.max_value, self.max_total)
        if not fits:
            await Problem(431, detail="a request header, or all of them, is too large").send(send)
            return
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _too_large(send, self.limit)


def _headers_fit(headers: Iterable[tuple[bytes, bytes]], max_value: int, max_total: int) -> tuple[bool, bytes | None]:
    """Whether every header value and all headers together are within bounds, and the
    Content-Length (the last one sent, as a dict of the headers keeps): one pass, no dict or
    generators built per request."""
    total = 0
    declared = None
    for name, value in headers:
        if len(value) > max_value:
            return False, None
        total += len(name) + len(value)
        if name == b"content-length":
            declared = value
    return total <= max_total, declared


async def _too_large(send: Send, limit: int) -> None:
    await Problem(413, detail=f"the body is over {limit} bytes (server.max_body_bytes); nothing was stored",
                  errors=[FieldProblem(field="(body)", detail="too large")]).send(send)


class SecurityAndAccessLog:
    """Adds strict security headers to every response; logs and counts each request."""

    def __init__(self, app: ASGIApp, metrics: Metrics, https: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.headers = SECURITY_HEADERS + (
            [(b"strict-transport-security", b"max-age=31536000; includeSubDomains")] if https else [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                existing = {name for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in self.headers if h[0] not in existing]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            self.metrics.request_done(route, scope["method"], status, elapsed)
            if emits(logging.INFO):  # logging warnings only (as W8 does): no event to build
                log.info("http.request", method=scope["method"], route=route, status=status,
                         ms=round(elapsed * 1000, 1))


class InputErrorsAs4xx:
    """An exception that escapes a route is answered here, logged in one line (its type,
    never its text, which may quote the input) with the traceback at debug level only:
    input a parser choked on is a 400; anything else is a 503 with Retry-After, so a
    webhook sender retries later instead of dropping the event."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except BodyTooLarge:
            raise  # answered 413 by RequestBounds, around this one
        except INPUT_ERRORS as exc:
            log.warning("http.bad_input", route=_route_template(scope), error=type(exc).__name__)
            log.debug("http.bad_input.traceback", exc_info=True)
            if not started:
                await send_answer(scope, send, Problem(400, detail="the request could not be read; nothing was stored"))
        except Exception as exc:
            log.error("http.failed", route=_route_template(scope), error=type(exc).__name__)
            log.debug("http.failed.traceback", exc_info=True)
            if not started:
                await send_answer(scope, send, Problem(
                    503, detail="temporarily unavailable (e.g. the store cannot be reached); nothing was stored, try "
                    "again later", headers={"Retry-After": "30"}))


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"
