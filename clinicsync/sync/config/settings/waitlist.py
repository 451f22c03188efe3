"""The `waitlist:` section of settings.yaml: when a freed slot is offered to waiting
patients, to whom, and how many at a time. Off by default: offering a slot is a message to a
patient, so a clinic turns it on knowingly."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from clinicsync.common.settings_base import SettingsModel
from clinicsync.common.timeutil import parse_duration
from clinicsync.sync.config.settings.waitlist_booking import WaitlistBookingSettings


class WaitlistSettings(SettingsModel):
    enabled: bool = Field(False, description="offer freed slots to waiting patients")
    lead_time: str = Field(
        "4h", description="never offer a slot that starts sooner than this (a cancellation closer than this "
                          "frees no slot, and an open slot expires when its start comes this close)")
    strategy: Literal["sequential", "batch"] = Field(
        "sequential", description="sequential: one patient at a time, each held `hold`; batch: `batch_size` "
                                  "patients at once, the first to accept takes it")
    hold: str = Field("30m", description="how long an offer is held for its patient before it expires and the "
                                         "next patient (sequential) or the next batch is offered the slot")
    batch_size: int = Field(3, ge=1, le=50, description="batch: how many patients are offered a slot at once")
    match: Literal["same_doctor", "same_type"] = Field(
        "same_doctor", description="same_doctor: only patients waiting for the slot's doctor (or for any doctor); "
                                   "same_type: also patients waiting for another doctor when the visit type is "
                                   "the same")
    max_offers_per_slot: int = Field(10, ge=1, le=500, description="offers one slot may make in all, then it "
                                                                   "waits unfilled")
    booking: WaitlistBookingSettings = Field(
        default_factory=WaitlistBookingSettings,
        description="after an offer is accepted: the later appointment, booking retries (waitlist.md)")

    @field_validator("lead_time", "hold")
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_duration(value) <= timedelta(0):
            raise ValueError(f"must be longer than zero (e.g. 4h, 30m), not {value!r}")
        return value

    def lead(self) -> timedelta:
        return parse_duration(self.lead_time)

    def hold_for(self) -> timedelta:
        return parse_duration(self.hold)

    def at_once(self) -> int:
        """How many offers of one slot may be out at a time."""
        return 1 if self.strategy == "sequential" else self.batch_size
