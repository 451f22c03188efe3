"""Fixtures for connector tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.fhir.client import FhirClient
from tests.connectors.fhir_fake import FakeFhir, rsa_key


@pytest.fixture
def retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the FHIR client's retries would sleep, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(FhirClient, "sleep", staticmethod(waited.append))
    return waited


@pytest.fixture
def fhir_server(retry_sleeps: list[float]) -> Iterator[FakeFhir]:
    """A loopback FHIR server whose token endpoint trusts the test RSA key (kid test-key)."""
    with FakeFhir(public_key=rsa_key().public_key(), client_id="clinicsync", kid="test-key") as server:
        yield server
