"""SIGTERM/SIGINT for the service, through a self-pipe.

A signal handler must not take locks (``Event.set`` does, and would deadlock if the
signal landed while the main thread held that same lock), so the handler only writes a
byte to a pipe; the main thread sleeps reading it and stops the service from ordinary
code. A second signal while stopping exits at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Wakeup:
    """The main thread sleeps in ``wait()`` until a signal or ``wake()`` from any thread."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        self.signals: list[str] = []

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._write, b"\0")

    def wait(self) -> None:
        os.read(self._read, 1)

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signals.append(signal.Signals(signum).name)
        if len(self.signals) > 1:
            raise SystemExit(1)  # asked twice: stop waiting for the work in flight
        self.wake()


@contextlib.contextmanager
def stop_signals() -> Iterator[Wakeup]:
    """Route SIGTERM/SIGINT to a Wakeup for the block (main thread only), then restore."""
    wakeup = Wakeup()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, wakeup._on_signal) for sig in STOP_SIGNALS}
    try:
        yield wakeup
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        wakeup.close()
