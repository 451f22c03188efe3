"""Setting types the notifier kinds share: vendor API roots, phone numbers, email addresses."""

from __future__ import annotations

from email.utils import formataddr, parseaddr
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, SecretStr

from clinicsync.notifiers.phone import e164


def _api_root(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("must be an http(s) URL such as https://api.example.com (no query)")
    return value.rstrip("/")


def split_address(value: str) -> tuple[str, str]:
    """'Clinic <a@b.org>' -> ('Clinic', 'a@b.org'); a bare address has an empty name."""
    return parseaddr(value)


def _email_address(value: str) -> str:
    name, address = split_address(value)
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain or " " in address:
        raise ValueError("not an email address (e.g. reminders@clinic.example or 'Clinic <reminders@clinic.example>')")
    return formataddr((name, address))


ApiRoot = Annotated[str, AfterValidator(_api_root)]
"""A vendor's API root (scheme and host, optionally a path prefix): a test double or an egress proxy."""

PhoneNumber = Annotated[str, AfterValidator(e164)]
EmailAddress = Annotated[str, AfterValidator(_email_address)]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


def _secret_given(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("is empty (is the environment variable or the file empty?)")
    return value


Secret = Annotated[SecretStr, AfterValidator(_secret_given)]
"""A required secret. An empty one is an error here: the vendors' clients would otherwise
quietly fall back to their own environment variables."""
