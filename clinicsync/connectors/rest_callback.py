"""The REST API source's waitlist booking callback: one signed POST per booking.

Signature: ``X-Clinicsync-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``
over the raw body (the scheme Stripe and others use: the timestamp is signed too, so a receiver
can refuse a stale replay). ``Idempotency-Key: waitlist-slot-<slot id>`` is the same on every
retry of one slot, so a receiver that keeps the keys it has seen books once even when an answer
was lost on the way back and we POST again. Passing faults (429, 5xx, timeouts, dropped
connections) are retried with exponential backoff (tenacity), Retry-After honoured; a 4xx is a
refusal and is never retried.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from clinicsync.common.http_deadline import DeadlineTransport
from clinicsync.common.retry_after import retry_after
from clinicsync.common.timeutil import iso_z
from clinicsync.connectors.base import RetriableConnectorError
from clinicsync.connectors.waitlist_booking import IDENTIFIER_SYSTEM, BookingRefused, BookingRequest, BookingResult

log = structlog.get_logger("clinicsync.rest_api")
SIGNATURE_HEADER = "X-Clinicsync-Signature"


class _Passing(Exception):
    def __init__(self, what: str, wait: float | None = None) -> None:
        super().__init__(what)
        self.what, self.wait = what, wait


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for ``body`` sent at ``timestamp`` (receivers recompute and compare)."""
    mac = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def booking_body(request: BookingRequest) -> dict[str, Any]:
    return {"type": "waitlist.booking", "idempotency_key": request.key,
            "identifier": {"system": IDENTIFIER_SYSTEM, "value": request.key},
            "slot_id": request.slot_id, "patient_id": request.patient_ref, "doctor_id": request.practitioner_ref,
            "location": request.location_ref, "visit_type": request.visit_type, "visit_mode": request.visit_mode,
            "start": iso_z(request.start_utc), "end": iso_z(request.end_utc), "timezone": request.timezone,
            "waitlist_entry": {"source": request.entry_connector, "id": request.entry_external_id}}


class Callback:
    #: How retries wait; tests replace it so that no test sleeps for real.
    sleep: Callable[[float], None] = staticmethod(time.sleep)
    clock: Callable[[], float] = staticmethod(time.time)


def post_booking(connector: str, config: Any, request: BookingRequest) -> BookingResult:
    """One booking, retried on passing faults up to ``config.attempts``; a 2xx answer's JSON
    ``id`` (if any) is the source's id for the new appointment."""
    body = json.dumps(booking_body(request), separators=(",", ":")).encode("utf-8")
    secret = config.secret.get_secret_value()
    backoff = wait_random_exponential(multiplier=0.5, max=max(config.max_wait_seconds, 0.001))

    def attempt(client: httpx.Client) -> httpx.Response:
        headers = {"Content-Type": "application/json", "Idempotency-Key": request.key,
                   SIGNATURE_HEADER: signature(secret, int(Callback.clock()), body),
                   "User-Agent": "clinicsync-waitlist/1"}
        try:
            response = client.post(config.url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise _Passing("timed out") from None
        except httpx.TransportError as exc:
            raise _Passing(f"failed ({type(exc).__name__})") from None
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise _Passing(f"answered HTTP {response.status_code}", retry_after(response.headers.get("Retry-After")))
        return response

    def wait(state: RetryCallState) -> float:
        problem = state.outcome.exception() if state.outcome else None
        if isinstance(problem, _Passing) and problem.wait is not None:
            return float(min(problem.wait, config.max_wait_seconds))
        return float(min(backoff(state), config.max_wait_seconds))

    retrying = Retrying(stop=stop_after_attempt(config.attempts), wait=wait, sleep=lambda s: Callback.sleep(s),
                        retry=retry_if_exception_type(_Passing), reraise=True,
                        before_sleep=lambda state: log.warning(
                            "rest_api.waitlist_callback.retry", connector=connector, slot=request.slot_id,
                            attempt=state.attempt_number))
    # per read, and the whole exchange within 4 x that however the clinic's system trickles
    with httpx.Client(timeout=httpx.Timeout(config.timeout_seconds), follow_redirects=False,
                      transport=DeadlineTransport(config.timeout_seconds * 4)) as client:
        try:
            response = retrying(attempt, client)
        except _Passing as exc:
            raise RetriableConnectorError(f"connector {connector}: waitlist callback {exc.what} "
                                          f"(gave up after {config.attempts} attempts)") from None
    if not 200 <= response.status_code < 300:
        raise BookingRefused(f"connector {connector}: waitlist callback answered HTTP {response.status_code}")
    external_id = None
    try:
        answer = response.json()
        if isinstance(answer, dict) and isinstance(answer.get("id"), str | int):
            external_id = str(answer["id"])
    except ValueError:
        pass
    log.info("rest_api.waitlist_callback.booked", connector=connector, slot=request.slot_id)
    return BookingResult(external_id)
