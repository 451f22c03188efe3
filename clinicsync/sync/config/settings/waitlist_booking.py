"""``waitlist.booking:`` — what happens once an accepted waitlist offer is booked.

It is the ``booking`` key of the ``waitlist:`` section (sync/config/settings/waitlist.py).
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
    """``settings.waitlist.booking``."""
    booking: WaitlistBookingSettings = settings.waitlist.booking
    return booking
