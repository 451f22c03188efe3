"""A notifier plugin for tests: its outcome per address is scripted in its settings,
and every message it accepts is appended to a JSON-lines file (so several processes
can be counted). Registered through a real entry point by the `scripted` fixture."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Literal

from clinicsync.notifiers.base import (
    CHANNELS,
    Message,
    Notifier,
    NotifierSettings,
    OptedOutError,
    PermanentError,
    Receipt,
    RetryableError,
)

BARRIERS: dict[str, threading.Barrier] = {}
THROTTLED_RETRY_AFTER = 120.0  # seconds: the "throttled" outcome's Retry-After
_BARRIERS_LOCK = threading.Lock()


class ScriptedSettings(NotifierSettings):
    kind: Literal["scripted"] = "scripted"
    log: Path
    # address -> ok | retryable | throttled | permanent | opted_out | abort | kill | crash | barrier
    outcomes: dict[str, str] = {}
    barrier_parties: int = 0  # "barrier": wait until this many sends are in flight at once
    rendezvous: Path | None = None  # every process waits here until `parties` processes send
    parties: int = 2


class ScriptedNotifier(Notifier):
    kind = "scripted"
    channels = frozenset(CHANNELS)
    settings_model = ScriptedSettings
    settings: ScriptedSettings
    _met = False

    def _record(self, message: Message, refused: str | None = None) -> None:
        line = json.dumps({"key": message.idempotency_key, "channel": message.channel, "to": message.recipient,
                           "pid": os.getpid(), "notifier": self.name, "subject": message.subject,
                           "template_id": message.template_id, "body": message.body_text,
                           **({"refused": refused} if refused else {}),
                           **({"from": message.sender} if message.sender else {})}) + "\n"
        fd = os.open(self.settings.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def _rendezvous(self) -> None:
        folder = self.settings.rendezvous
        if folder is None or ScriptedNotifier._met:
            return
        folder.mkdir(parents=True, exist_ok=True)
        (folder / str(os.getpid())).touch()
        deadline = time.monotonic() + 120
        while len(list(folder.iterdir())) < self.settings.parties and time.monotonic() < deadline:
            time.sleep(0.05)
        ScriptedNotifier._met = True

    def send(self, message: Message) -> Receipt:
        self._rendezvous()
        outcome = self.settings.outcomes.get(message.recipient, "ok")
        if outcome == "retryable":
            raise RetryableError("fake provider answered 503")
        if outcome == "throttled":  # logged as a request the provider refused
            self._record(message, refused="429")
            raise RetryableError("fake provider answered 429", retry_after=THROTTLED_RETRY_AFTER)
        if outcome == "permanent":
            raise PermanentError("fake provider: invalid number (21211)")
        if outcome == "opted_out":
            raise OptedOutError("fake provider: recipient unsubscribed (21610)")
        if outcome == "crash":
            raise RuntimeError("a bug in the notifier")
        if outcome == "barrier":
            with _BARRIERS_LOCK:
                barrier = BARRIERS.setdefault(self.name, threading.Barrier(self.settings.barrier_parties))
            barrier.wait(timeout=60)
        self._record(message)  # accepted by the "provider"
        if outcome == "abort":
            raise KeyboardInterrupt  # the process is interrupted before we hear back
        if outcome == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        return Receipt(provider=self.kind, provider_id=f"fake-{message.idempotency_key}")


def read_log(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
