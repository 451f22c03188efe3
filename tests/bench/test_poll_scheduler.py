"""bench/poll_scheduler.py at a tiny size: it runs the real poll pool on a PostgreSQL store,
counts what it measures, and drops its schema; an idle poll sends the store at most two
statements (the claim with its wake-up, the release), fewer when one claim takes several."""

from __future__ import annotations

import psycopg
import pytest

from bench.harness import POSTGRES_ADMIN_URL
from bench.poll_scheduler import measure

pytestmark = pytest.mark.postgres


def _schemas() -> set[str]:
    with psycopg.connect(POSTGRES_ADMIN_URL) as admin:
        rows = admin.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench_sched_%'").fetchall()
    return {row[0] for row in rows}


def test_the_scheduler_bench_measures_an_idle_poll_in_two_statements_at_most() -> None:
    before = _schemas()
    result = measure(sources=6, interval=1, seconds=3.0, slots=2)
    assert result["polls"] >= 6, result
    assert 0 < result["statements_per_poll"] <= 2, result
    assert result["cpu_per_poll_ms"] > 0, result
    assert _schemas() == before
