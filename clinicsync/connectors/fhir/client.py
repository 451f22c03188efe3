"""One pooled httpx client per connector: FHIR JSON, timeouts, HTTP/2 where the server
offers it, and tenacity backoff for passing faults (429/503 honouring Retry-After,
other 5xx, timeouts, dropped connections) up to a cap."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from clinicsync.common.http_deadline import DeadlineTransport
from clinicsync.connectors.base import FatalConnectorError, RetriableConnectorError
from clinicsync.connectors.fhir.errors import (
    FhirStatusError,
    TransientHttpError,
    json_body,
    outcome_diagnostics,
    transient_error,
)

log = structlog.get_logger("clinicsync.fhir")
FHIR_JSON = "application/fhir+json"
Params = list[tuple[str, str]]


@cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs a third of a
    second, and connectors are built anew for every run. Honours SSL_CERT_FILE/DIR."""
    return httpx.create_ssl_context()


class FhirClient:
    #: How retries wait; tests replace it so that no test sleeps for real.
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(self, connector: str, base_url: str, auth: httpx.Auth | None = None, *,
                 timeout: float = 30, http2: bool = True, attempts: int = 5, max_wait: float = 60,
                 headers: Mapping[str, str] | None = None) -> None:
        """``headers``: a server's static extra headers (``headers:`` in settings, e.g. a practice
        id), set on the client so that every request carries them, Bundle next pages included."""
        self.connector = connector
        self.base_url = base_url.rstrip("/")
        base = urlsplit(self.base_url)
        self._origin = (base.scheme, base.netloc.lower())
        self._base_path = base.path.rstrip("/")
        self.attempts = attempts
        self.max_wait = max_wait
        self.timeout = timeout
        self._backoff = wait_random_exponential(multiplier=0.5, max=max(max_wait, 0.001))
        # ``timeout`` is per read; a whole exchange (a page of a Bundle) must end within 4 x it,
        # however the server trickles (clinicsync/common/http_deadline.py).
        self.http = httpx.Client(
            auth=auth, http2=http2, follow_redirects=False, verify=tls_context(),
            transport=DeadlineTransport(timeout * 4, http2=http2, verify=tls_context()),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"User-Agent": "clinicsync-fhir/1", **(headers or {}), "Accept": FHIR_JSON})

    def close(self) -> None:
        self.http.close()

    # -- addressing ---------------------------------------------------------------------
    def url(self, target: str) -> str:
        """A base-relative path, or an absolute URL that must lie under base_url: a Bundle's
        next link is followed with our credentials, so it may not point elsewhere."""
        if not target.startswith(("http://", "https://")):
            return f"{self.base_url}/{target.lstrip('/')}"
        parts = urlsplit(target)
        path = parts.path.rstrip("/")
        inside = not self._base_path or path == self._base_path or path.startswith(self._base_path + "/")
        if (parts.scheme, parts.netloc.lower()) != self._origin or not inside:
            raise FatalConnectorError(
                f"connector {self.connector}: the server sent a link to {parts.scheme}://{parts.netloc}"
                f"{parts.path}, outside base_url {self.base_url}; refusing to send credentials there "
                "(is base_url the address the server calls itself, e.g. behind a proxy?)")
        return target

    def describe(self, method: str, url: str) -> str:
        """'GET Appointment' / 'PUT Appointment/12': the path only, never the query."""
        path = urlsplit(url).path
        relative = path[len(self._base_path):].strip("/") if path.startswith(self._base_path) else path
        return f"{method} {relative or 'search page'}"

    # -- requests -----------------------------------------------------------------------
    def send(self, method: str, target: str, *, params: Params | None = None, json: Any = None,
             headers: Mapping[str, str] | None = None, retry: bool = True,
             accept: tuple[int, ...] = (200,)) -> httpx.Response:
        """One request, retried on passing faults when ``retry``. A status outside ``accept``
        raises FhirStatusError (4xx) naming the OperationOutcome's diagnostics; passing faults
        that outlast the retries raise RetriableConnectorError."""
        url = self.url(target)
        what = self.describe(method, url)

        def attempt() -> httpx.Response:
            try:
                response = self.http.request(method, url, params=tuple(params) if params else None, json=json,
                                             headers=headers)
            except httpx.TimeoutException:
                raise TransientHttpError(f"{what} timed out (timeout_seconds: {self.timeout:g} s a read, "
                                         f"{self.timeout * 4:g} s a whole answer)") from None
            except httpx.TransportError as exc:
                raise TransientHttpError(f"{what} failed ({type(exc).__name__})") from None
            problem = transient_error(response, what)
            if problem:
                raise problem
            return response

        try:
            response = self._retrying(what)(attempt) if retry else attempt()
        except TransientHttpError as exc:
            tries = f" (gave up after {self.attempts} attempts)" if retry and self.attempts > 1 else ""
            raise RetriableConnectorError(f"connector {self.connector}: {exc.what}{tries}") from None
        if response.status_code not in accept:
            raise FhirStatusError(self.connector, method, what.split(" ", 1)[1], response.status_code,
                                  outcome_diagnostics(json_body(response)))
        return response

    def get_json(self, target: str, params: Params | None = None,
                 accept: tuple[int, ...] = (200,)) -> tuple[dict[str, Any], httpx.Response]:
        response = self.send("GET", target, params=params, accept=accept)
        return self.resource(response), response

    def resource(self, response: httpx.Response) -> dict[str, Any]:
        body = json_body(response)
        if not isinstance(body, dict) or "resourceType" not in body:
            what = self.describe(response.request.method, str(response.request.url))
            kind = response.headers.get("Content-Type", "no content type")
            raise FatalConnectorError(f"connector {self.connector}: {what} did not answer FHIR JSON ({kind}); "
                                      "is base_url a FHIR R4 endpoint?")
        return body

    def _retrying(self, what: str) -> Retrying:
        return Retrying(
            stop=stop_after_attempt(self.attempts), wait=self._wait, sleep=self._sleep,
            retry=retry_if_exception_type(TransientHttpError), reraise=True,
            before_sleep=lambda state: log.warning(
                "fhir.retry", connector=self.connector, request=what, attempt=state.attempt_number,
                problem=str(state.outcome.exception()) if state.outcome else None,
                wait_seconds=round(state.upcoming_sleep, 3)))

    def _sleep(self, seconds: float) -> None:
        type(self).sleep(seconds)

    def _wait(self, state: RetryCallState) -> float:
        problem = state.outcome.exception() if state.outcome else None
        if isinstance(problem, TransientHttpError) and problem.retry_after is not None:
            return min(problem.retry_after, self.max_wait)
        return min(float(self._backoff(state)), self.max_wait)


def server_time(response: httpx.Response) -> datetime | None:
    """The server's clock from the Date header: the same clock that stamps lastUpdated."""
    value = response.headers.get("Date")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
