"""Providers at their network boundary for the rehearsal tests: moto's server (AWS), aiosmtpd
(SMTP) and a loopback vendor API (Twilio, SendGrid), shared with tests/notifiers."""

from pathlib import Path

import pytest

from tests.notifiers.aws_fake import aws_credentials, moto_sns  # noqa: F401  (fixtures)
from tests.notifiers.conftest import closed_port_url, fake_api, smtp_server  # noqa: F401  (fixtures)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """These tests rehearse sources, providers and replies; the store is SQLite (the store's
    own tests cover PostgreSQL)."""
    return f"sqlite:///{tmp_path / 'store.db'}"
