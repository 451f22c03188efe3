"""A uvicorn server in a thread of the test process, on a loopback port: for tests that need a
real HTTP server (a browser, a client library that does not use httpx) without a browser
being installed. Kept apart from tests/ui/chromium.py, which skips its whole module where
Chromium is missing: a test that only needs the server must not be skipped with it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn


@contextmanager
def running(config: uvicorn.Config) -> Iterator[str]:
    """A uvicorn server of ``config`` (host and port set) in a thread; yields its base URL."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # a bound, not a speed check
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://{config.host}:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
