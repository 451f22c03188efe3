"""Fixtures for connector tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clinicsync.connectors.fhir.client import FhirClient
from tests.connectors.csv_support import Run
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


@pytest.fixture
def sync(write_settings: Callable[..., Path], drop_dir: Path, cli: Any) -> Callable[[str], Run]:
    """``sync(options)`` configures a CSV connector `clinic` on ``drop_dir`` (YAML lines
    indented under it) and returns a function running `clinicsync sync --once --json`
    that answers the connector's report (``.cli`` runs other commands)."""
    def configure(options: str = "") -> Run:
        config = write_settings(
            f"- name: clinic\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop_dir}\n  batch_size: 7\n{options}")
        runner = cli(config)

        def run(*extra: str, expect: int = 0) -> dict[str, Any]:
            _, out, _ = runner("sync", "--once", "--json", *extra, expect=expect)
            report = json.loads(out)
            return report["connectors"]["clinic"]  # type: ignore[no-any-return]

        run.cli = runner  # type: ignore[attr-defined]
        return run

    return configure
