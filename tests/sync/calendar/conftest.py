"""Fixtures for the calendar tests: a service-account key generated here, the loopback
fake of Google, and settings that point the real client at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from clinicsync.sync.config.settings.calendar import CalendarSettings
from tests.sync.calendar.fake_google import FakeGoogle

FAST_RETRY = {"attempts": 4, "initial_seconds": 0.001, "max_seconds": 0.005}


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """A CLI test configures structlog to print to the runner's captured stderr, which is
    closed afterwards; these tests log outside the CLI, so start from structlog's defaults."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def rsa_key() -> tuple[bytes, bytes]:
    """A fresh RSA key pair (private PEM, public PEM) for the fake service account."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


@pytest.fixture
def fake_google(rsa_key: tuple[bytes, bytes]) -> Iterator[FakeGoogle]:
    fake = FakeGoogle(rsa_key[1]).start()
    yield fake
    fake.stop()


@pytest.fixture
def key_file(fake_google: FakeGoogle, rsa_key: tuple[bytes, bytes], tmp_path: Path) -> Path:
    return fake_google.key_file(tmp_path, rsa_key[0])


@pytest.fixture
def google_calendar_settings(fake_google: FakeGoogle, key_file: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """CalendarSettings for provider google against the fake; keyword overrides merge in."""

    def make(**overrides: Any) -> CalendarSettings:
        google = {"key_file": str(key_file), "api_root": fake_google.url, "retry": FAST_RETRY,
                  **overrides.pop("google", {})}
        return CalendarSettings.model_validate({"provider": "google", "google": google, **overrides},
                                               context={"base_dir": tmp_path})

    return make
