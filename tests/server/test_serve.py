"""`clinicsync serve` really serves, under uvicorn on loopback."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text(f"store:\n  url: sqlite:///{tmp_path / 'db.sqlite'}\n")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sync.cli", "--config", str(tmp_path / "settings.yaml"), "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:  # wait until it listens (bounded), then ask it
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert response.status_code == 200 and response.json()["status"] == "ready"
        assert "server" not in response.headers
    finally:
        process.terminate()
        # uvicorn shuts down gracefully, then re-raises the signal it captured.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
