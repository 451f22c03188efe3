"""The smoke run's PostgreSQL variants use the suite's own PostgreSQL fixture
(tests/conftest.py: CLINICSYNC_TEST_POSTGRES, skipped or failed like every other
PostgreSQL test when the server is down), not the bench's CLINICSYNC_BENCH_POSTGRES."""

from __future__ import annotations

import pytest

from bench import harness
from tests.conftest import postgres_schema


@pytest.fixture(autouse=True)
def suite_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "SCHEMAS", postgres_schema)
