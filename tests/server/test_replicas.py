"""Two `clinicsync serve` replicas (real processes under uvicorn, on loopback) on one
PostgreSQL schema, as the shipped Deployment runs them: concurrent pushes that name the
same new doctor and patient, one to each replica, are all stored and none is answered
503 (issue 29: the person insert used to collide, failing one push of the pair)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.model import Appointment, Practitioner
from tests.conftest import migrate
from tests.server.test_serve import free_port

pytestmark = pytest.mark.postgres
KEY = "csk_test-replicas-0123456789abcdefghijklmnopqrs"
PAIRS = 40


def _wait_ready(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "replica did not start"
        time.sleep(0.2)


@pytest.fixture
def replicas(tmp_path: Path, postgres_url: str, request: pytest.FixtureRequest) -> Iterator[list[int]]:
    engine = make_engine(postgres_url)
    # At head before either replica starts, as a deployment's init job (`clinicsync db upgrade`)
    # leaves it: the replay of the worker's pg_dump of a migrated schema (tests/conftest.migrate),
    # where running every migration here again cost ~5 s.
    migrate(engine, request)
    engine.dispose()
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        f'clinic:\n  timezone: America/New_York\n  default_region: US\nstore:\n  url: "{postgres_url}"\n'
        "connectors:\n  - name: website\n    kind: rest_api\n"
        f"    api_keys: [{{name: site, sha256: {key_digest(KEY)}}}]\n    rate_per_second: 1000\n    burst: 1000\n",
        encoding="utf-8")
    ports = [free_port(), free_port()]
    processes = [subprocess.Popen([sys.executable, "-m", "sync.cli", "--config", str(settings), "serve",
                                   "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for port in ports]
    try:
        for process, port in zip(processes, ports, strict=True):
            _wait_ready(process, port)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def _booking(pair: int, side: int) -> dict[str, object]:
    return {"id": f"B-{pair}-{side}", "status": "booked", "start": f"2030-03-{1 + pair % 28:02d}T09:{side * 30:02d}:00",
            "duration_minutes": 30, "timezone": "America/New_York",
            "patient": {"id": f"P-{pair}", "name": "Ana Ruiz", "phone": "(212) 555-0101"},
            "practitioner": {"id": f"D-{pair}", "name": "Dr. Amelia Hart"}}


def test_paired_pushes_naming_one_new_doctor_are_all_stored(replicas: list[int], postgres_url: str) -> None:
    async def push_all() -> list[int]:
        clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                     headers={"Authorization": f"Bearer {KEY}"}) for port in replicas]
        try:
            statuses: list[int] = []
            for pair in range(PAIRS):  # each pair at once, one booking to each replica
                answers = await asyncio.gather(*(client.post("/api/v1/appointments", json=_booking(pair, side))
                                                 for side, client in enumerate(clients)))
                statuses.extend(answer.status_code for answer in answers)
            return statuses
        finally:
            for client in clients:
                await client.aclose()

    statuses = asyncio.run(push_all())
    assert statuses.count(503) == 0 and statuses == [201] * (2 * PAIRS)
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as connection:
            appointments = connection.execute(select(func.count()).select_from(Appointment)).scalar_one()
            doctors = connection.execute(select(func.count()).select_from(Practitioner)).scalar_one()
    finally:
        engine.dispose()
    assert (appointments, doctors) == (2 * PAIRS, PAIRS)
