"""What the dispatcher decides about a due message, and what one notifier call came to.

Enums, not bare strings: a misspelt decision is an AttributeError where it is written, not a
branch that silently never matches. StrEnum, so a value logged or compared with text reads
as it always did ("send", "fallback", ...)."""

from __future__ import annotations

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
    FALLBACK = "fallback"  # refused for good on this channel (permanent error, opted out): try the next
    UNKNOWN = "unknown"  # it may or may not have gone out: never sent again by itself
