"""Settings of the ``fhir`` connector (a FHIR R4 server's Appointment API)."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from clinicsync.common.schedule import Schedule
from clinicsync.common.settings_base import SettingsModel
from clinicsync.connectors.base import ConnectorSettings, delete_sweep_value, min_delete_stop_field, source_zone
from clinicsync.connectors.fhir.keys import load_private_key
from clinicsync.connectors.window import LookWindow

AuthKind = Literal["none", "basic", "bearer", "smart_backend"]
Include = Literal["patient", "practitioner", "location"]
INCLUDES: tuple[Include, ...] = ("patient", "practitioner", "location")
# Search parameters the connector sets itself; configuring them would break the cursor.
RESERVED_SEARCH = frozenset({"_count", "_lastUpdated", "date", "_sort"})
DEFAULT_SCOPE = "system/Appointment.read system/Patient.read system/Practitioner.read system/Location.read"
_AUTH_KEYS: dict[str, tuple[str, ...]] = {
    "none": (),
    "basic": ("username", "password"),
    "bearer": ("token",),
    "smart_backend": ("client_id", "private_key", "kid"),
}
# A sweep pages through the whole window (ids only): rarer than SQL's hourly one by default.
DEFAULT_SWEEP = Schedule(interval="6h")
_OPTIONAL_KEYS: dict[str, tuple[str, ...]] = {"smart_backend": ("token_url",)}
# Headers the connector or its auth sets, or HTTP itself: an extra header may not replace them.
RESERVED_HEADERS = frozenset({"authorization", "proxy-authorization", "content-type", "content-length", "accept",
                              "host", "connection", "transfer-encoding", "te", "upgrade", "keep-alive", "cookie",
                              "if-none-exist", "if-match", "prefer"})
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token


def _http_url(value: str, key: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{key} must be an http(s) URL, e.g. https://ehr.example.org/fhir/r4")
    if parts.query or parts.fragment:
        raise ValueError(f"{key} must not carry a query or fragment (use `search:` for parameters)")
    return value.rstrip("/")


class FhirAuthSettings(SettingsModel):
    """How to authenticate. Secrets come from ``${VAR}`` or ``<key>_file:``, never the repo."""

    kind: AuthKind = Field("none", description="none | basic | bearer | smart_backend")
    username: str | None = Field(None, description="basic")
    password: SecretStr | None = Field(None, description="basic (or password_file)")
    token: SecretStr | None = Field(None, description="bearer: a static access token (or token_file)")
    client_id: str | None = Field(None, description="smart_backend: the client id the EHR registered")
    private_key: SecretStr | None = Field(
        None, description="smart_backend: PEM private key (or private_key_file); its public key is "
                          "registered with the EHR (JWKS)")
    algorithm: Literal["RS384", "ES384"] = Field("RS384", description="smart_backend: RS384 (RSA) or ES384 (P-384)")
    kid: str | None = Field(None, description="smart_backend: the key id in the registered JWKS")
    token_url: str | None = Field(
        None, description="smart_backend: token endpoint; discovered from .well-known/smart-configuration if unset")
    scope: str = Field(DEFAULT_SCOPE, description="smart_backend: scopes to request (add Appointment write "
                                                  "scope for write-back)")

    @field_validator("token_url")
    @classmethod
    def _token_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value, "token_url")

    @model_validator(mode="after")
    def _keys_fit_kind(self) -> FhirAuthSettings:
        needed = _AUTH_KEYS[self.kind]
        missing = [key for key in needed if getattr(self, key) is None]
        if missing:
            raise ValueError(f"auth kind {self.kind} needs {', '.join(missing)}")
        allowed = set(needed) | set(_OPTIONAL_KEYS.get(self.kind, ()))
        stray = [key for keys in _AUTH_KEYS.values() for key in keys
                 if key not in allowed and getattr(self, key) is not None]
        if self.kind != "smart_backend" and self.token_url is not None:
            stray.append("token_url")
        if stray:
            raise ValueError(f"auth kind {self.kind} does not use {', '.join(sorted(set(stray)))}")
        if self.private_key is not None:
            load_private_key(self.private_key.get_secret_value(), self.algorithm)
        return self


class WindowSettings(LookWindow):
    back: str = Field("7d", description="how far into the past to look (first run; every run in date-window)")
    ahead: str = Field("365d", description="how far into the future to look (first run; every run in date-window)")


class RetrySettings(SettingsModel):
    attempts: int = Field(5, ge=1, le=20, description="tries per request for 429/5xx/timeouts")
    max_wait_seconds: float = Field(60, ge=0, le=3600, description="cap on one wait (Retry-After included)")


FanOutBy = Literal["practitioner", "location", "patient"]


class FanOutSettings(SettingsModel):
    """One Appointment search per actor, for servers that only search per practitioner,
    location or patient (Oracle Health, Epic): each actor has its own date-window listing."""

    by: FanOutBy = Field(description="the search parameter each search sets: practitioner | location | patient")
    ids: list[str] = Field(default_factory=list, description="the actors' ids, e.g. [593923, 4122622]")
    discover: str | None = Field(
        None, description="or a search whose results are the actors, read every run, e.g. "
                          "'Practitioner?active=true' or 'Location'")
    concurrency: int = Field(4, ge=1, le=16, description="actors' first pages read at once")

    @model_validator(mode="after")
    def _one_source(self) -> FanOutSettings:
        if bool(self.ids) == bool(self.discover):
            raise ValueError("give the actors as `ids:` or as a `discover:` search, one of the two")
        if self.discover is not None:
            kind = self.discover.split("?", 1)[0]
            if kind not in ("Practitioner", "Location", "Patient", "PractitionerRole", "Schedule"):
                raise ValueError(f"discover: {kind!r} is no resource type to fan out over "
                                 "(Practitioner, Location, Patient, PractitionerRole or Schedule)")
        return self


PayloadContent = Literal["empty", "id-only", "full-resource"]


class SubscriptionSettings(SettingsModel):
    """A FHIR Subscription that pushes changes to clinicsync (`clinicsync fhir subscribe`):
    an R4 rest-hook on ``criteria``, or a topic-based one (the R5 Backport IG) when
    ``topic`` is set. The regular poll keeps running beside it and catches what a lost
    notification missed (docs/connectors/fhir_subscriptions.md)."""

    endpoint: str | None = Field(
        None, description="the URL the FHIR server calls (default: server.public_url + /hooks/fhir/<connector>)")
    secret: SecretStr = Field(
        description="the bearer token the server sends back (Authorization: Bearer …); ${VAR} or secret_file")
    payload: PayloadContent = Field(
        "full-resource", description="empty | id-only (topic only) | full-resource: what a notification carries")
    criteria: str = Field(
        "Appointment?", description="R4 rest-hook: the Appointment search that triggers a notification")
    topic: str | None = Field(
        None, description="a SubscriptionTopic canonical URL: a topic-based (Backport IG) subscription instead")
    filters: list[str] = Field(
        default_factory=list, description="topic: backport filter criteria, e.g. 'Appointment?location=Location/1'")
    heartbeat_seconds: int | None = Field(
        3600, ge=60, le=86_400 * 7, description="topic: how often the server should send a heartbeat")
    rate_per_second: float = Field(20.0, gt=0, le=1000, description="notifications per second, on average (429 "
                                   "beyond; the server retries or the poll catches up)")
    burst: int = Field(100, ge=1, le=10_000, description="notifications at once before the rate applies")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value, "subscription.endpoint")

    @field_validator("criteria")
    @classmethod
    def _criteria(cls, value: str) -> str:
        if not value.startswith("Appointment?"):
            raise ValueError("subscription.criteria must be an Appointment search, e.g. 'Appointment?status=booked'")
        return value

    @model_validator(mode="after")
    def _content_fits_kind(self) -> SubscriptionSettings:
        if self.topic is None and self.payload == "id-only":
            raise ValueError("subscription.payload id-only needs a topic (R4 rest-hook sends the resource or "
                             "nothing): set topic, or payload full-resource or empty")
        if len(self.secret.get_secret_value()) < 16:
            raise ValueError("subscription.secret is too short: use at least 16 random characters "
                             "(e.g. `openssl rand -hex 32`)")
        return self


class FhirSettings(ConnectorSettings):
    kind: Literal["fhir"] = "fhir"
    mapping: str = Field("fhir_r4", description="a preset name from mappings/ or a path to a mapping YAML file")
    base_url: str = Field(description="the FHIR R4 base, e.g. https://ehr.example.org/fhir/r4")
    auth: FhirAuthSettings = FhirAuthSettings()
    page_size: int = Field(100, ge=1, le=1000, description="_count: Appointments per Bundle page")
    include: list[Include] = Field(
        default_factory=lambda: list(INCLUDES),
        description="_include these references (the rest are read one by one, once per run)")
    search: dict[str, str | list[str]] = Field(
        default_factory=dict, description="extra search parameters, e.g. {status: 'booked,cancelled'}")
    cursor: Literal["last-updated", "date-window"] = Field(
        "last-updated", description="last-updated: _lastUpdated=gt…; date-window: every run reads the window")
    window: WindowSettings = WindowSettings()
    overlap_seconds: float = Field(
        60, ge=0, le=86_400, description="re-read this much before the cursor (late commits, clock skew)")
    timezone: str | None = Field(None, description="IANA zone of the appointments (default: clinic.timezone)")
    timeout_seconds: float = Field(30, gt=0, le=600)
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="static headers sent on every request to the server (searches, pages, "
                                          "reads, writes; SMART token and discovery calls too when they are at "
                                          "base_url's origin), e.g. {nx-practice-id: '${PRACTICE_ID}'}: values "
                                          "from the environment, never logged; Authorization, Content-Type, "
                                          "Accept and HTTP's own headers are refused")
    http2: bool = Field(True, description="use HTTP/2 where the server offers it (TLS)")
    retry: RetrySettings = RetrySettings()
    writeback: bool = Field(False, description="write patients' answers back (needs an Appointment write scope)")
    waitlist_book: bool = Field(
        False, description="book accepted waitlist offers here: a conditional Appointment create (POST with "
                           "If-None-Exist; needs system/Appointment.c), docs/waitlist.md")
    fan_out: FanOutSettings | None = Field(
        None, description="search per actor (servers that refuse a search without a practitioner, location or "
                          "patient): needs cursor: date-window")
    subscription: SubscriptionSettings | None = Field(
        None, description="also take pushed notifications (a FHIR Subscription) beside the poll")
    delete_sweep: Schedule | None = Field(
        DEFAULT_SWEEP, description="how often to list the window's Appointment ids (_elements=id) and delete "
                                   "what was hard-deleted at the server: `every 6h` (default), "
                                   "{cron: '0 3 * * *'} or `off`")
    max_delete_share: float = Field(
        0.2, ge=0, le=1, description="the delete sweep's safety stop: when a larger share of the window's "
                                     "future appointments would be deleted, nothing is")
    min_delete_stop: int = min_delete_stop_field()
    waitlist: bool = Field(
        False, description="also read the waiting list each run (Appointment?status=waitlist, docs/waitlist.md); "
                           "Appointments with status waitlist are never stored as appointments either way")
    waitlist_mapping: str = Field("fhir_r4_waitlist", description="the waitlist mapping (record: waitlist)")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _http_url(value, "base_url")

    zone_is_valid = field_validator("timezone")(source_zone)
    sweep_is_valid = field_validator("delete_sweep", mode="before")(delete_sweep_value)

    @model_validator(mode="after")
    def _fan_out_reads_windows(self) -> FhirSettings:
        if self.fan_out is not None:
            if self.cursor != "date-window":
                raise ValueError("fan_out needs cursor: date-window (per-actor searches must carry a date)")
            if self.fan_out.by in self.search:
                raise ValueError(f"search: {self.fan_out.by} is set per actor by fan_out; remove it from search")
        return self

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, given in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"headers: {name!r} is not a header name (letters, digits and - . _ ~ ! # $ % & ' "
                                 "* + ^ ` |)")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"headers: {name} is set by the connector (auth: for credentials); an extra "
                                 "header may not replace it")
            text = given.get_secret_value()
            if not text.strip() or any(c in text for c in "\r\n\0"):
                raise ValueError(f"headers: the value of {name} is empty or holds a line break (is its "
                                 "environment variable set?)")
        return value

    def header_values(self) -> dict[str, str]:
        """The extra headers as sent (their values only here, never in a log)."""
        return {name: value.get_secret_value() for name, value in self.headers.items()}

    @field_validator("search")
    @classmethod
    def _search(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        clash = sorted(k for k in value if k.split(":")[0] in RESERVED_SEARCH)
        if clash:
            raise ValueError(f"{', '.join(clash)} are set by the connector (use page_size, cursor and window)")
        return value
