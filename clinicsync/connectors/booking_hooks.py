"""What the booking-tool webhook kinds (calcom, easyappointments, acuity) share: their
settings, the answers a webhook can get before anything is stored, and constant-time
comparisons of signatures and tokens.

These connectors are push sources: the server (sync/server/booking_hooks.py) verifies each
request with the kind's module *before* parsing the body, then hands the record to the
push contract (sync/ingest/push.py), the same mapping → store → outbox path a polled record takes.
Nothing here touches the store."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import httpx
from pydantic import Field, SecretStr
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from clinicsync.connectors.base import (
    Batch,
    CheckResult,
    Connector,
    ConnectorSettings,
    Cursor,
    FatalConnectorError,
    RetriableConnectorError,
    Sample,
)


class WebhookRefused(Exception):
    """Not authenticated (401: no credential) or not authentic (403: a wrong signature or
    token, a stale body): nothing is read further and nothing is stored. The reason names
    the header or the rule, never the secret or the body."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class WebhookMalformed(Exception):
    """An authentic body that is not the vendor's documented shape (answered 400, nothing
    stored): ``field`` names where, the reason says what was expected."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class BookingHookSettings(ConnectorSettings):
    """Keys every booking webhook has; each kind adds its secret and vendor options."""

    rate_per_second: float = Field(5.0, gt=0, le=1000, description="webhooks per second from this source, "
                                   "on average (past the burst: 429 with Retry-After)")
    burst: int = Field(20, ge=1, le=10_000, description="webhooks at once before the rate applies")


def secret_given(value: SecretStr) -> SecretStr:
    """A secret setting must not be empty: an empty HMAC key signs for anyone who knows that."""
    if not value.get_secret_value().strip():
        raise ValueError("is empty (is the environment variable or the file empty?)")
    return value


def digest(body: bytes) -> str:
    """The body's hex SHA-256: how a replayed body is recognised."""
    return hashlib.sha256(body).hexdigest()


def hmac_sha256(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()


def hex_signature_matches(secret: str, body: bytes, given: str) -> bool:
    """Lowercase hex HMAC-SHA256 of the raw body, compared in constant time."""
    expected = hmac_sha256(secret, body).hex()
    return hmac.compare_digest(expected.encode("ascii"), given.strip().lower().encode("utf-8", "replace"))


def base64_signature_matches(secret: str, body: bytes, given: str) -> bool:
    """Base64 HMAC-SHA256 of the raw body, compared in constant time."""
    expected = base64.b64encode(hmac_sha256(secret, body))
    return hmac.compare_digest(expected, given.strip().encode("utf-8", "replace"))


def token_matches(expected: str, given: str) -> bool:
    """A static shared token, compared in constant time (as bytes: any text is comparable)."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "replace"))


class PushOnlyConnector(Connector):
    """A push source: nothing to poll or sample; records arrive through the server."""

    polled = False
    route = "/webhooks/{kind}/{name}"

    def fetch(self, cursor: Cursor | None) -> Iterator[Batch]:
        return iter(())

    def sample(self, limit: int) -> Sample | None:
        return None

    def check(self) -> CheckResult:
        path = self.route.format(kind=self.kind, name=self.name)
        return CheckResult(True, f"push source: receives {self.kind} webhooks on POST {path}; "
                                 "`clinicsync serve` must be running and reachable from the vendor")


class _Transient(Exception):
    pass


def fetch_json(connector: str, what: str, url: str, *, auth: httpx.Auth | None = None,
               headers: dict[str, str] | None = None, timeout: float = 10.0, attempts: int = 3,
               max_wait: float = 5.0) -> dict[str, Any] | None:
    """GET a JSON object from the vendor's API, retried with backoff on passing faults (5xx,
    429, timeouts, dropped connections); None on 404. Raises RetriableConnectorError after
    the tries, FatalConnectorError on refused credentials or an answer that is not an
    object. ``what`` names the request in errors without the id (e.g. "GET customers/{id}")."""

    def attempt() -> httpx.Response:
        try:
            response = httpx.get(url, auth=auth, timeout=timeout, headers={"Accept": "application/json",
                                                                           **(headers or {})})
        except httpx.TransportError as exc:
            raise _Transient(type(exc).__name__) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise _Transient(f"HTTP {response.status_code}")
        return response

    retrying = Retrying(stop=stop_after_attempt(attempts), reraise=True,
                        wait=wait_random_exponential(multiplier=0.5, max=max_wait),
                        retry=retry_if_exception_type(_Transient))
    try:
        response = retrying(attempt)
    except _Transient as exc:
        raise RetriableConnectorError(f"connector {connector}: {what} failed ({exc}) after {attempts} "
                                      "tries") from None
    if response.status_code == 404:
        return None
    if response.status_code in (401, 403):
        raise FatalConnectorError(f"connector {connector}: {what} was refused (HTTP {response.status_code}); "
                                  "check the credentials in the settings")
    if response.status_code != 200:
        raise FatalConnectorError(f"connector {connector}: {what} answered HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise FatalConnectorError(f"connector {connector}: {what} did not answer a JSON object")
    return data
