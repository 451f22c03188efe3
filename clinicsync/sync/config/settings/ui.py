"""The `ui:` section: who may open the status page."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from clinicsync.common.settings_base import SettingsModel

MIN_TOKEN_LENGTH = 24
MIN_TOKEN_DISTINCT = 10


def check_token_strength(token: str) -> None:
    """ValueError unless the token is long and varied enough to resist guessing (never echoing it)."""
    if len(token.strip()) < MIN_TOKEN_LENGTH or len(set(token)) < MIN_TOKEN_DISTINCT:
        raise ValueError(f"too weak: a token needs at least {MIN_TOKEN_LENGTH} characters with at least "
                         f"{MIN_TOKEN_DISTINCT} different ones (make one with "
                         "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")


class UiUser(SettingsModel):
    name: str = Field(min_length=1, max_length=64, description="basic-auth user name")
    password_hash: str = Field(description="from `clinicsync ui hash-password`; never the password itself")
    role: Literal["viewer", "front_desk"] = Field(
        "viewer", description="viewer (clinic IT): opens on the health page, patients masked; front_desk: opens on "
                              "today's and tomorrow's work list, sees names and phones (each such view is written "
                              "to the access log) and records actions on appointments")
    sites: list[str] = Field(
        default_factory=list, description="the `sites:` keys whose visits, waitlist and set-aside items this user "
                                          "sees and acts on; empty or unset: every site. Each must be a "
                                          "key of `sites:`; a change of a user's sites ends their sessions")

    @field_validator("password_hash")
    @classmethod
    def _format(cls, value: str) -> str:
        from clinicsync.common.passwords import check_hash_format  # argon2: only for a file with users (obs 6)

        check_hash_format(value)
        return value

    @field_validator("sites")
    @classmethod
    def _distinct_sites(cls, value: list[str]) -> list[str]:
        """Sorted and without repeats: the session binds to this list, so its order must not matter."""
        return sorted(set(value))


class UiSettings(SettingsModel):
    token: SecretStr | None = Field(
        None, description="a bearer token for scripts and dashboards (at least 24 characters, 10 different; "
                          "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`); "
                          "give it via ${VAR} or token_file")
    users: list[UiUser] = Field(default_factory=list, description="basic-auth users (hashed passwords)")
    days: int = Field(7, ge=1, le=60, description="how many days of upcoming appointments the page lists")
    chart_weeks: int = Field(8, ge=1, le=104, description="how many weeks the charts look back")
    failures_allowed: int = Field(
        5, ge=1, le=100, description="failed logins per client address, per user name and per known device before "
                                     "that address is locked out or that user name slowed down")
    failures_allowed_per_kind: int | None = Field(
        None, ge=1, le=10_000,
        description="no longer used: a budget over all clients let anyone who could reach the port "
                    "lock every user out; guessing spread over many addresses is now slowed per user name "
                    "(max_account_delay_seconds). Accepted so that older settings files still load")
    lockout_seconds: float = Field(
        2.0, gt=0, le=3600, description="the first lockout of an address and the first delay of a user name; each "
                                        "further failure doubles it")
    max_lockout_seconds: float = Field(900.0, gt=0, le=86400, description="the longest lockout of one client address")
    max_account_delay_seconds: float = Field(
        60.0, gt=0, le=3600,
        description="the longest a user name is slowed down however many addresses guess it: the most the real user "
                    "waits (from a browser that logged in before, not at all)")
    known_device_days: int = Field(
        30, ge=1, le=400, description="a browser that logged in is a known device for this many days: its user's "
                                      "logins are counted on it alone, so other addresses' failures never slow them")
    session_idle_minutes: int = Field(
        30, ge=1, le=24 * 60, description="a signed-in browser is signed out after this many minutes without a page")
    session_max_hours: float = Field(
        12.0, gt=0, le=24 * 30, description="a session ends this many hours after its login however often it is "
                                            "used; a changed password or role, or a removed user, ends it at once")
    session_secret: SecretStr | None = Field(
        None, description="the key that signs session cookies (at least 24 characters; give it via ${VAR}); unset: a "
                          "new key per process, so a restart signs everyone out and replicas do not share sessions")
    secure_cookie: bool | None = Field(
        None, description="mark the session cookie Secure (sent over https only); unset: when server.public_url is "
                          "https")
    password_checks: int = Field(
        2, ge=1, le=64, description="password hashes verified at once (each costs about 19 MiB); others wait briefly, "
                                    "then get 429")

    @field_validator("token", "session_secret")
    @classmethod
    def _strong(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_token_strength(value.get_secret_value())
        return value

    @field_validator("users")
    @classmethod
    def _unique(cls, value: list[UiUser]) -> list[UiUser]:
        names = [u.name for u in value]
        if len(set(names)) != len(names):
            raise ValueError("two ui users share a name; names must be unique")
        return value
