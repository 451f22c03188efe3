"""kill -9 of `clinicsync serve` in the middle of concurrent REST pushes, then a restart and
the clients' retries (issue 32: a push is one transaction, its run inside it): every
appointment is stored exactly once with exactly one `created` event, no run is left
`running`, and every run in the history is a push that committed (or a retry that found it
unchanged) — nothing half-written survives the kill."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.store.db import make_engine, upgrade
from clinicsync.sync.store.model import Appointment, Event, SyncRun
from tests.server.test_replicas import _wait_ready
from tests.server.test_serve import free_port

pytestmark = pytest.mark.soak  # two server starts and a kill: ~30 s, out of the main suite (pytest -m soak)
KEY = "csk_test-push-kill-0123456789abcdefghijklmnop"
BOOKINGS = 60


def _serve(settings: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "sync.cli", "--config", str(settings), "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _booking(n: int) -> dict[str, object]:
    return {"id": f"K-{n}", "status": "booked", "start": f"2030-04-{1 + n % 28:02d}T10:00:00", "duration_minutes": 30,
            "timezone": "America/New_York", "patient": {"id": f"P-{n % 7}", "name": "Ana Ruiz"},
            "practitioner": {"id": "D-1", "name": "Dr. Amelia Hart"}}


async def _push_all(port: int, numbers: list[int], answers: dict[int, int] | None = None) -> dict[int, int]:
    """PUT each booking once, 8 at a time; the status of each (0: the connection broke), filled
    into ``answers`` as they come."""
    answers = {} if answers is None else answers
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                 headers={"Authorization": f"Bearer {KEY}"}) as client:
        async def one(n: int) -> None:
            async with gate:
                try:
                    answers[n] = (await client.put(f"/api/v1/appointments/K-{n}", json=_booking(n))).status_code
                except httpx.TransportError:
                    answers[n] = 0
        await asyncio.gather(*(one(n) for n in numbers))
    return answers


def test_kill_9_mid_push_then_retries_store_each_booking_once(tmp_path: Path, store_url: str) -> None:
    """On SQLite and PostgreSQL (where a push's transaction begins with its turns in one message,
    sync/store/db.py ``begin_first``: the killed server's sessions end, their turns with them)."""
    url = store_url
    engine = make_engine(url)
    upgrade(engine)
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        f'clinic:\n  timezone: America/New_York\n  default_region: US\nstore:\n  url: "{url}"\n'
        "connectors:\n  - name: website\n    kind: rest_api\n"
        f"    api_keys: [{{name: site, sha256: {key_digest(KEY)}}}]\n    rate_per_second: 1000\n    burst: 1000\n",
        encoding="utf-8")
    port = free_port()
    server = _serve(settings, port)
    try:
        _wait_ready(server, port)

        async def push_then_kill() -> dict[int, int]:
            answers: dict[int, int] = {}
            pushing = asyncio.ensure_future(_push_all(port, list(range(BOOKINGS)), answers))
            while len(answers) < BOOKINGS // 4:  # some committed, most still to come or in flight
                await asyncio.sleep(0.002)  # (a fixed sleep let a quiet machine finish them all first)
            os.kill(server.pid, signal.SIGKILL)
            return await pushing

        first = asyncio.run(push_then_kill())
        server.wait(timeout=30)
        assert any(status == 0 for status in first.values()), "the kill came after every push"
        server = _serve(settings, port)
        _wait_ready(server, port)
        # The clients retry what they did not see answered (and a few that were: retries are safe).
        again = [n for n, status in first.items() if status not in (200, 201)] + [0, 1]
        second = asyncio.run(_push_all(port, again))
        assert all(status in (200, 201) for status in second.values()), second
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    a, e, r = (table.__table__ for table in (Appointment, Event, SyncRun))  # type: ignore[attr-defined]
    with engine.connect() as connection:
        ids = [row[0] for row in connection.execute(select(a.c.external_id))]
        created = connection.execute(select(func.count()).select_from(e).where(e.c.kind == "created")).scalar_one()
        statuses = dict(connection.execute(select(r.c.status, func.count()).group_by(r.c.status)).all())
    engine.dispose()
    assert sorted(ids) == sorted(f"K-{n}" for n in range(BOOKINGS))  # each once
    assert created == BOOKINGS
    assert set(statuses) == {"ok"}, statuses  # none left running, none half-written
    assert statuses["ok"] >= BOOKINGS
