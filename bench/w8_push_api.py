"""W8 push path: the REST API (``POST /api/v1/appointments``) and one Cal.com webhook
(``BOOKING_CREATED``), at 1 and 8 clients, against a minimal FastAPI app on the same store.

Both servers are real ``uvicorn`` processes on loopback with the same server options
(sync/server/serving.py ``uvicorn_config``, ServerSettings defaults), logging warnings only.
The baseline app (bench/push_baseline.py) takes the same request: the REST body validated by
the same pydantic model (sync/server/api.py ``AppointmentCreate``), the webhook's HMAC
checked on the raw body and the JSON parsed, then one ``INSERT`` of one row in one
transaction, in a sync endpoint (FastAPI's thread pool, as clinicsync's ``run_in_threadpool``).
clinicsync does its whole push contract: the key, the rate bucket, the mapping, change
detection, the outbox event, the run history, the receipt (webhook), committed before the 2xx.

Every request creates a new appointment (a fresh id, a new patient, one of five doctors):
the most a push writes. Clients are asyncio connections that send pre-rendered HTTP/1.1
requests on one kept-alive connection each, in the measuring process, so the client costs
little next to the server; ``cpu_ms_per_req`` is the server process's own CPU per request
(steadier than requests/s on a shared machine). Servers are measured in turn (clinicsync,
then the baseline) for each endpoint and client count, both up all along.

Goal: clinicsync >= 0.5 x the baseline's requests/s, on SQLite and PostgreSQL,
and 8 clients faster than 1.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import ROOT, Table, child_env, common_arguments, emit, postgres_schema, ratio, run_case

GOAL = 0.5
KEY = "csk_bench-w8-0123456789abcdefghijklmnopqrstuv"
SECRET = "bench-w8-cal-secret"
CALCOM_FIXTURE = ROOT / "tests" / "fixtures" / "calcom" / "booking_created.json"  # Cal.com's documented example
ENDPOINTS = ("rest", "calcom")
CLIENTS = (1, 8)


# -- the two servers (each its own process: python -m bench.w8_push_api serve …) --------------
def clinicsync_app(url: str, folder: Path) -> Any:
    """clinicsync's own app (create_app) with one rest_api and one calcom connector."""
    from clinicsync.connectors.rest_api import key_digest
    from clinicsync.sync.config.settings import settings_model
    from clinicsync.sync.server.app import create_app
    from clinicsync.sync.store.db import make_engine, upgrade
    from clinicsync.sync.store.store import Store

    (folder / "cal.secret").write_text(SECRET + "\n", encoding="utf-8")
    data = {"clinic": {"timezone": "America/New_York", "default_region": "US"}, "store": {"url": url},
            "connectors": [
                {"name": "website", "kind": "rest_api", "api_keys": [{"name": "bench", "sha256": key_digest(KEY)}],
                 "rate_per_second": 1000, "burst": 10_000},
                {"name": "booking", "kind": "calcom", "secret_file": "cal.secret", "rate_per_second": 1000,
                 "burst": 10_000}]}
    settings = settings_model().model_validate(data, context={"base_dir": folder})
    engine = make_engine(url)
    upgrade(engine)  # `clinicsync db upgrade`, as a deployment's init job does
    engine.dispose()
    return create_app(settings, Store.open(settings.store))


def serve(variant: str, url: str, port: int, folder: str) -> None:
    """Run one server until killed (the measuring process starts and stops it)."""
    import structlog
    import uvicorn

    from bench import push_baseline
    from clinicsync.sync.config.settings.server import ServerSettings
    from clinicsync.sync.server.serving import settle_heap, uvicorn_config

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    app = clinicsync_app(url, Path(folder)) if variant == "clinicsync" else push_baseline.app(url, KEY, SECRET)
    config = uvicorn_config(app, ServerSettings(), host="127.0.0.1", port=port)
    config.log_level = "warning"
    if variant == "clinicsync":  # as `clinicsync serve` starts it (sync/cli/serve.py)
        settle_heap()
    uvicorn.Server(config).run()


# -- requests ---------------------------------------------------------------------------------
def _http(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def rest_request(tag: str, n: int) -> bytes:
    body = {"id": f"{tag}-{n}", "status": "booked", "start": f"2031-{1 + n % 12:02d}-{1 + n % 28:02d}T09:30:00",
            "duration_minutes": 30, "timezone": "America/New_York", "type": "Follow-up",
            "patient": {"id": f"P-{tag}-{n}", "name": "Ana Ruiz", "phone": "(212) 555-0101",
                        "email": "ana@example.org", "language": "es"},
            "practitioner": {"id": f"D-{n % 5}", "name": "Dr. Amelia Hart", "email": "hart@clinic.example.org"}}
    return _http("/api/v1/appointments", json.dumps(body, separators=(",", ":")).encode(),
                 {"Authorization": f"Bearer {KEY}"})


def calcom_request(tag: str, n: int, template: dict[str, Any], now: str) -> bytes:
    data = {**template, "createdAt": now, "payload": {**template["payload"], "uid": f"{tag}-{n}",
                                                      "startTime": "2031-01-01T10:00:00Z",
                                                      "endTime": "2031-01-01T10:30:00Z"}}
    raw = json.dumps(data, separators=(",", ":")).encode()
    signature = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return _http("/webhooks/calcom/booking", raw, {"X-Cal-Signature-256": signature})


def requests_for(endpoint: str, tag: str, count: int) -> list[bytes]:
    if endpoint == "rest":
        return [rest_request(tag, n) for n in range(count)]
    template = json.loads(CALCOM_FIXTURE.read_bytes())
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return [calcom_request(tag, n, template, now) for n in range(count)]


async def _one_client(port: int, requests: list[bytes], deadline: float, latencies: list[float],
                      failures: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for raw in requests:
            if time.perf_counter() >= deadline:
                break
            began = time.perf_counter()
            writer.write(raw)
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - began)
            if status not in (200, 201):
                failures.append(status)
    finally:
        writer.close()


def load(port: int, per_client: list[list[bytes]], seconds: float) -> dict[str, Any]:
    """Every client sends its requests one after the other until ``seconds`` have passed
    (or it has none left); requests per second over the wall time, latency percentiles."""
    latencies: list[float] = []
    failures: list[int] = []

    async def run() -> float:
        began = time.perf_counter()
        await asyncio.gather(*(_one_client(port, requests, began + seconds, latencies, failures)
                               for requests in per_client))
        return time.perf_counter() - began

    elapsed = asyncio.run(run())
    latencies.sort()
    done = len(latencies)
    return {"requests": done, "failures": len(failures), "first_failure": failures[0] if failures else None,
            "per_s": done / elapsed if elapsed else 0.0,
            "p50_ms": latencies[done // 2] * 1000 if done else None,
            "p95_ms": latencies[min(done - 1, int(done * 0.95))] * 1000 if done else None}


# -- the case: both servers on one store, every endpoint and client count ----------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_ready(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stdout.read().decode()[-3000:]}")  # type: ignore[union-attr]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def store_case(url: str | None, seconds: float, clients: list[int], per_client: int) -> dict[str, Any]:
    """Start clinicsync and the baseline on one store; measure each endpoint at each client count."""
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="w8-") as work:
        url = url or f"sqlite:///{work}/store.db"
        servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        try:
            for variant in ("clinicsync", "baseline"):  # clinicsync first: it migrates the store
                port = _free_port()
                process = subprocess.Popen(
                    [sys.executable, "-m", "bench.w8_push_api", "serve", variant, url, str(port), work],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, env=child_env())
                servers[variant] = (process, port)
                _wait_ready(process, port)
            for variant, (_process, port) in servers.items():  # warm: imports, caches, first connection
                for endpoint in ENDPOINTS:
                    load(port, [requests_for(endpoint, f"warm-{variant}", 5)], 30)
            for endpoint in ENDPOINTS:
                for count in clients:
                    for variant, (process, port) in servers.items():
                        tag = f"{endpoint}-{count}"
                        batches = [requests_for(endpoint, f"{tag}-c{c}", per_client) for c in range(count)]
                        cpu = _cpu_seconds(process.pid)
                        result = load(port, batches, seconds)
                        result["cpu_ms_per_req"] = ((_cpu_seconds(process.pid) - cpu) * 1000 / result["requests"]
                                                    if result["requests"] else None)
                        figures[f"{variant}:{endpoint}:{count}"] = result
        finally:
            for process, _port in servers.values():
                process.terminate()
            for process, _port in servers.values():
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
    return figures


# -- the table ----------------------------------------------------------------------------------
PURPOSE = "the REST API and a Cal.com webhook at 1 and 8 clients, against a minimal FastAPI app on the same store"


def arguments() -> argparse.ArgumentParser:
    """This workload's options (``python -m bench`` lists them without running anything)."""
    parser = common_arguments(__doc__ or "")
    parser.add_argument("--seconds", type=float, default=4.0, help="measuring time per server, endpoint and "
                        "client count (default 4)")
    parser.add_argument("--clients", default="1,8", help="comma-separated client counts (default 1,8)")
    return parser


def main(argv: list[str]) -> list[Table]:
    args = arguments().parse_args(argv)
    clients = [int(c) for c in args.clients.split(",")]
    seconds, per_client = (0.5, 6) if args.smoke else (args.seconds, 4_000)
    table = Table("W8 push path: REST API and Cal.com webhook against a minimal FastAPI app on the same store",
                  ["case", "store", "clients", "requests", "per_s", "baseline_per_s", "ratio", "goal", "p50_ms",
                   "baseline_p50_ms", "cpu_ms_per_req", "baseline_cpu_ms_per_req", "failures"])
    stores: list[tuple[str, str | None]] = [("sqlite", None)] + ([("postgres", "pg")] if args.postgres else [])
    for name, kind in stores:
        if kind == "pg":
            with postgres_schema() as url:
                figures = run_case("bench.w8_push_api:store_case", url=url, seconds=seconds, clients=clients,
                                   per_client=per_client)
        else:
            figures = run_case("bench.w8_push_api:store_case", url=None, seconds=seconds, clients=clients,
                               per_client=per_client)
        for endpoint in ENDPOINTS:
            for count in clients:
                ours, base = figures[f"clinicsync:{endpoint}:{count}"], figures[f"baseline:{endpoint}:{count}"]
                share = ratio(ours["per_s"], base["per_s"])
                table.add(case="REST API POST" if endpoint == "rest" else "Cal.com BOOKING_CREATED", store=name,
                          clients=count, requests=ours["requests"], per_s=ours["per_s"],
                          baseline_per_s=base["per_s"], ratio=share,
                          goal=f">= {GOAL}: " + ("met" if share is not None and share >= GOAL else "NOT met"),
                          p50_ms=ours["p50_ms"], baseline_p50_ms=base["p50_ms"],
                          cpu_ms_per_req=ours["cpu_ms_per_req"], baseline_cpu_ms_per_req=base["cpu_ms_per_req"],
                          failures=ours["failures"] + base["failures"])
    table.notes += [
        "per_s = requests answered 2xx per wall second (each creates an appointment); ratio = per_s / baseline_per_s",
        "cpu_ms_per_req = the server process's CPU per request (user + system); the clients run in the measuring "
        "process on the same 2 cores, so per_s at 8 clients is bounded by both",
        "goal: ratio >= 0.5 on each store, and per_s at 8 clients > at 1",
    ]
    return emit([table], args)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        main(sys.argv[1:])
