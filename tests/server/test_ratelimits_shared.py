"""The push endpoints' rate limit is shared by replicas on one PostgreSQL store (issue 29:
N replicas used to allow N times the rate), and per process on SQLite (documented)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.server.ratelimits import SharedBuckets
from clinicsync.sync.store.store import Store
from tests.server.test_api import BOOKING

pytestmark = pytest.mark.anyio
KEY = "csk_test-shared-0123456789abcdefghijklmnopqrs"


async def test_two_replicas_share_one_bucket_per_source(write_settings: Callable[..., Path], store: Store) -> None:
    settings = load_settings(write_settings(connectors=f"""
- name: slow
  kind: rest_api
  api_keys: [{{name: tool, sha256: {key_digest(KEY)}}}]
  rate_per_second: 0.01
  burst: 3
"""))
    replicas = [create_app(settings, store) for _ in range(2)]
    statuses = []
    for n in range(8):  # alternating between the replicas, as a load balancer does
        transport = httpx.ASGITransport(app=replicas[n % 2])
        async with httpx.AsyncClient(transport=transport, base_url="http://internal",
                                     headers={"Authorization": f"Bearer {KEY}"}) as client:
            body = {k: v for k, v in BOOKING.items() if k != "id"}
            answer = await client.put(f"/api/v1/appointments/B-{n}", json=body)
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                assert int(answer.headers["Retry-After"]) >= 1
    shared = store.engine.dialect.name == "postgresql"
    assert statuses.count(429) == (5 if shared else 2), statuses  # burst 3 in all, or 3 per replica


def test_a_shared_bucket_refills_at_its_rate(store: Store) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("shared buckets are PostgreSQL's")
    now = [time.time()]
    buckets = SharedBuckets(store.engine, clock=lambda: now[0])
    assert [buckets.try_acquire("k", 2.0, 2) for _ in range(2)] == [0.0, 0.0]
    assert buckets.try_acquire("k", 2.0, 2) == pytest.approx(0.5)
    now[0] += 0.5  # one token back
    assert buckets.try_acquire("k", 2.0, 2) == 0.0
    assert buckets.try_acquire("k", 2.0, 2) > 0


def test_a_bucket_commits_without_waiting_for_its_flush_and_only_its_own(store: Store) -> None:
    """The token's statement, alone in autocommit as SharedBuckets runs it, turns
    ``synchronous_commit`` off for its own implicit transaction (a bucket is no record); the
    setting ends with it and never reaches a push on the same connection."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("shared buckets are PostgreSQL's")
    from sqlalchemy import event

    from clinicsync.sync.server.ratelimits import _TAKE

    # Sessions as a deployment has them (commits wait for their flush), not as the test
    # stores' sessions are made (tests/conftest.py TEST_SESSION_OPTIONS): else "on" below
    # could not tell the setting's end from a leak.
    store.engine.dispose()
    def deployed_default(dbapi: Any, _record: object) -> None:
        dbapi.execute("SET synchronous_commit = on")
        dbapi.commit()

    event.listen(store.engine, "connect", deployed_default)
    with store.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        taken = connection.exec_driver_sql(_TAKE + ", current_setting('synchronous_commit')",
                                           {"key": "k", "rate": 1.0, "capacity": 2.0, "now": time.time()}).one()
        assert taken[1] == "off"
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
    SharedBuckets(store.engine).try_acquire("k", 1.0, 2)
    with store.engine.begin() as connection:  # the bucket's connection, back in the pool
        assert connection.connection.driver_connection.autocommit is False  # type: ignore[union-attr]
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
