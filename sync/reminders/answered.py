"""A confirmation request to a patient who already answered is not sent: the answer may
have come from the source (a desk confirmation) or from a reply, after it was planned."""

from __future__ import annotations

from typing import Any

ASKING_KINDS = frozenset({"confirmation"})  # messages whose purpose is to ask for the answer


def answered_skip(kind: str, recipient: str, appointment: Any) -> str | None:
    """The skip reason for a reminder row of ``kind`` to ``recipient``, or None to go on."""
    answer = getattr(appointment, "participation", None)
    if recipient == "patient" and kind in ASKING_KINDS and answer in ("accepted", "declined"):
        return f"already answered ({answer})"
    return None
