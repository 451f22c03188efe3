"""A loopback fake of Twilio's Messages API for the dispatch benchmark (W4), run in its own
process so its work does not compete with the dispatcher for the interpreter lock.

Every answer takes ``latency`` seconds (the provider's round trip). At most ``rate``
messages are accepted in any one-second window (a sliding window, stricter than a bucket
with a burst); above it the answer is HTTP 429 with Twilio's error 20429. ``GET /stats``
returns what was accepted and refused, and when the first and last were accepted.

    python -m bench.fake_sms --rate 100 --latency 0.05    # prints the port, then serves
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Provider:
    def __init__(self, rate: int, latency: float) -> None:
        self.rate, self.latency = rate, latency
        self.lock = threading.Lock()
        self.window: deque[float] = deque()
        self.accepted = self.refused = 0
        self.first: float | None = None
        self.last: float | None = None
        self.in_flight = self.peak_in_flight = 0

    def admit(self) -> bool:
        """One more message now, or a refusal when the last second already had ``rate``."""
        with self.lock:
            now = time.monotonic()
            while self.window and self.window[0] <= now - 1.0:
                self.window.popleft()
            if len(self.window) >= self.rate:
                self.refused += 1
                return False
            self.window.append(now)
            self.accepted += 1
            self.first = now if self.first is None else self.first
            self.last = now
            return True

    def stats(self) -> dict[str, Any]:
        with self.lock:
            span = (self.last - self.first) if self.first is not None and self.last is not None else 0.0
            return {"accepted": self.accepted, "refused": self.refused, "span_seconds": span,
                    "peak_in_flight": self.peak_in_flight}

    def enter(self, delta: int) -> None:
        with self.lock:
            self.in_flight += delta
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY: see tests/connectors/fhir_fake.py
    server: Server

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._reply(200, self.server.provider.stats())

    def do_POST(self) -> None:
        provider = self.server.provider
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        provider.enter(1)
        try:
            admitted = provider.admit()
            time.sleep(provider.latency)
        finally:
            provider.enter(-1)
        if not admitted:
            self._reply(429, {"code": 20429, "message": "Too Many Requests", "status": 429,
                              "more_info": "https://www.twilio.com/docs/errors/20429"})
            return
        with provider.lock:
            sid = f"SM{provider.accepted:032x}"
        account = self.path.split("/")[3] if self.path.count("/") >= 4 else "AC"
        self._reply(201, {"sid": sid, "status": "queued", "account_sid": account, "api_version": "2010-04-01",
                          "date_created": "Mon, 03 Mar 2025 12:00:00 +0000", "direction": "outbound-api"})

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    provider: Provider


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, required=True)
    parser.add_argument("--latency", type=float, required=True)
    args = parser.parse_args(argv)
    server = Server(("127.0.0.1", 0), Handler)
    server.provider = Provider(args.rate, args.latency)
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main(sys.argv[1:])
