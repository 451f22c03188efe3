"""Connector kind ``rest_api``: appointments that another system pushes through clinicsync's
own REST API (``/api/v1/appointments``), for booking sites and practice tools that cannot
speak FHIR.

It is a push connector: nothing is polled (``fetch`` yields nothing), and the server hands
each request's record to the same mapping → store → outbox path a polled record takes
(sync/ingest/push.py). Each connector has its own API keys, so a key can write only its own
source's appointments. Keys are stored as SHA-256 digests: they are long random tokens
(``clinicsync api key``), so a fast digest is as safe as a slow password hash and keeps
every request cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from typing import Literal

from pydantic import Field, SecretStr

from clinicsync.common.settings_base import SettingsModel
from clinicsync.connectors.base import Batch, CheckResult, Connector, ConnectorSettings, Cursor, Sample
from clinicsync.connectors.rest_callback import post_booking
from clinicsync.connectors.waitlist_booking import BookingRequest, BookingResult

KEY_PREFIX = "csk_"


class ApiKey(SettingsModel):
    name: str = Field(min_length=1, max_length=64, description="who holds it (e.g. the booking site)")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="the key's SHA-256 (`clinicsync api key` prints it)")


class WaitlistCallback(SettingsModel):
    """Where an accepted waitlist offer is booked for a source that pushes to us:
    a signed POST (docs/waitlist.md, "Booking at the source")."""

    url: str = Field(pattern=r"^https?://", description="the booking system's endpoint, e.g. "
                                                         "https://booking.example.org/hooks/clinicsync")
    secret: SecretStr = Field(min_length=16, description="shared secret of the X-Clinicsync-Signature HMAC-SHA256 "
                                                          "(or secret_file:)")
    timeout_seconds: float = Field(10, gt=0, le=120)
    attempts: int = Field(5, ge=1, le=20, description="tries per booking pass on 429/5xx/timeouts")
    max_wait_seconds: float = Field(30, ge=0, le=600, description="cap on one wait between tries")


class RestApiSettings(ConnectorSettings):
    kind: Literal["rest_api"] = "rest_api"
    mapping: str = Field("rest_api_v1", description="the preset that reads the API's JSON (or your own)")
    api_keys: list[ApiKey] = Field(min_length=1, description="keys allowed to write this source's appointments")
    rate_per_second: float = Field(10.0, gt=0, le=1000, description="requests per second per source, on average")
    burst: int = Field(20, ge=1, le=10_000, description="requests at once before the rate applies")
    waitlist_callback: WaitlistCallback | None = Field(
        None, description="book accepted waitlist offers by a signed POST to the booking system")


def new_key() -> tuple[str, str]:
    """A fresh API key and the digest to put in the settings."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key_digest(key)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def holder(settings: RestApiSettings, key: str) -> str | None:
    """The name of the key that matches, compared in constant time; None if none does."""
    digest = key_digest(key)
    found = None
    for api_key in settings.api_keys:
        if hmac.compare_digest(api_key.sha256, digest):
            found = api_key.name
    return found


class RestApiConnector(Connector):
    kind = "rest_api"
    settings_model = RestApiSettings
    polled = False
    settings: RestApiSettings

    def fetch(self, cursor: Cursor | None) -> Iterator[Batch]:
        """Nothing to poll: records arrive through the server."""
        return iter(())

    def sample(self, limit: int) -> Sample | None:
        """Nothing to sample: the records arrive through the server."""
        return None

    def check(self) -> CheckResult:
        return CheckResult(True, f"push source: receives on /api/v1/appointments with {len(self.settings.api_keys)} "
                                 "API key(s); `clinicsync serve` must be running")

    # -- waitlist booking -------------------------------------------------------------------
    def can_book(self) -> bool:
        return self.settings.waitlist_callback is not None

    def book_waitlist(self, request: BookingRequest) -> BookingResult:
        """POST the booking to ``waitlist_callback`` (connectors/rest_callback.py)."""
        assert self.settings.waitlist_callback is not None
        return post_booking(self.name, self.settings.waitlist_callback, request)
