"""``waitlist.booking:`` — what happens once an accepted waitlist offer is booked (issue 33).

It attaches to the ``waitlist:`` section (sync/settings/waitlist.py) as its ``booking`` key:
``booking: WaitlistBookingSettings = WaitlistBookingSettings()``. Until it does,
``booking_settings`` hands the defaults, so the booking stage runs with or without it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from clinicsync.common.settings_base import SettingsModel

ReleaseLater = Literal["ask", "auto", "keep"]


class WaitlistBookingSettings(SettingsModel):
    release_later: ReleaseLater = Field(
        "ask", description="when a patient who took an earlier slot still has their later appointment: "
                           "ask (a front-desk task: release the later appointment), auto (cancel it at a source "
                           "that takes write-back, through the write-back outbox; else a desk task), "
                           "keep (leave it)")
    max_attempts: int = Field(
        8, ge=1, le=100, description="booking passes for one slot while its source is unreachable; after that "
                                     "it becomes a front-desk task (booking_status failed)")


def booking_settings(settings: Any) -> WaitlistBookingSettings:
    """``settings.waitlist.booking`` if the waitlist section has it, else the defaults."""
    found = getattr(getattr(settings, "waitlist", None), "booking", None)
    return found if isinstance(found, WaitlistBookingSettings) else WaitlistBookingSettings()
