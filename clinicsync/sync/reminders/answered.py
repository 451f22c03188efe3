"""What the patient's answer means for a message about to go.

A confirmation request to a patient who already answered is not sent: the answer may have
come from the source (a desk confirmation) or from a reply, after it was planned. A reminder
to a patient who cancelled is not sent either (``responses.cancel_reminders_on_decline``):
the decline cancels the reminders pending at that moment, but rows planned afterwards — an
offset added by a settings change, a second worker's plan of the same tick — would otherwise
remind someone who said they will not come while the source still lists the visit."""

from __future__ import annotations

from typing import Any

ASKING_KINDS = frozenset({"confirmation"})  # messages whose purpose is to ask for the answer
DECLINED_REASON = "the patient declined"  # as the decline's own cancellation says (responses/record.py)


def answered_skip(kind: str, recipient: str, appointment: Any, *, declined_stops_reminders: bool = True) -> str | None:
    """The skip reason for a reminder row of ``kind`` to ``recipient``, or None to go on."""
    answer = getattr(appointment, "participation", None)
    if recipient != "patient":
        return None
    if kind in ASKING_KINDS and answer in ("accepted", "declined"):
        return f"already answered ({answer})"
    if kind == "reminder" and answer == "declined" and declined_stops_reminders:
        return DECLINED_REASON
    return None
