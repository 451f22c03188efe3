"""What the dispatcher decides about a due message, what one notifier call came to, and the
pass's tally of them (:class:`DispatchReport`).

Enums, not bare strings: a misspelt decision is an AttributeError where it is written, not a
branch that silently never matches. StrEnum, so a value logged or compared with text reads
as it always did ("send", "fallback", ...)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import StrEnum


class Decision(StrEnum):
    """A due message judged at its own moment (``Dispatcher._check``)."""

    SEND = "send"
    SKIP = "skip"  # with the reason why (too late, cancelled, moved, ...)
    CANCEL = "cancel"  # the settings, or the visit being under way, no longer want it
    DEFER = "defer"  # moved out of quiet hours: pending again, due later


class SendOutcome(StrEnum):
    """One notifier call, recorded (``Dispatcher._send``)."""

    SENT = "sent"
    RETRY = "retry"  # a passing fault: pending again with a back-off, or failed past max_attempts
    FALLBACK = "fallback"  # this number refused for good (permanent error): the patient's next number, else channel
    # refused for good whatever the number (opted out, the message itself refused): the next channel
    NEXT_CHANNEL = "next_channel"
    UNKNOWN = "unknown"  # it may or may not have gone out: never sent again by itself


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    unknown: int = 0
    retrying: int = 0  # went back to pending after a passing fault (a retryable error)
    # went back to pending: it woke inside the quiet hours, its provider said to wait, or its
    # source is orphaned (sync/ingest/orphans.py: held)
    deferred: int = 0
    # skipped, by reason (the part before any ':'): `remind` breaks its summary down by it
    skip_reasons: dict[str, int] = field(default_factory=dict, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, outcome: str, reason: str | None = None) -> None:
        with self._lock:
            setattr(self, outcome, getattr(self, outcome) + 1)
            if outcome == "skipped" and reason:
                key = reason.split(":", 1)[0]
                self.skip_reasons[key] = self.skip_reasons.get(key, 0) + 1

    def as_dict(self) -> dict[str, int]:
        """The outcomes: each counted reminder ended in one of these states."""
        return {"sent": self.sent, "failed": self.failed, "skipped": self.skipped, "unknown": self.unknown}

    def as_report(self) -> dict[str, int]:
        """The outcomes, and the reminders put back to pending: to retry, or until quiet hours end."""
        return {**self.as_dict(), "retrying": self.retrying, "deferred": self.deferred}
