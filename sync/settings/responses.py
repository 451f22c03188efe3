"""The `responses:` section: what a patient's answer does."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from clinicsync.common.settings_base import SettingsModel

Choice = Literal["confirm", "decline", "reschedule"]


class ResponsesSettings(SettingsModel):
    enabled: bool = Field(True, description="act on replies (off: replies are stored for staff only)")
    notify_practitioner: bool = Field(True, description="tell the doctor by email when a patient declines")
    cancel_reminders_on_decline: bool = Field(True, description="cancel the pending reminders of a declined visit")
    decline_cancels: bool = Field(False, description="also write Appointment.status=cancelled back on a decline")
    writeback: bool = Field(True, description="write answers back to the source through its connector")
    writeback_backoff: str = Field("1m", description="first retry delay of a failed write-back; doubles per try")
    writeback_backoff_max: str = Field("1h", description="longest retry delay")
    sendgrid_verification_key: SecretStr | None = Field(
        None, description="SendGrid Event Webhook verification key (base64 public key); unset refuses its events")
    webhook_max_age_seconds: int = Field(300, ge=30, description="a signed SendGrid request older than this is "
                                                                 "refused as a replay")
    choices: list[Choice] = Field(
        default_factory=lambda: list[Choice](["confirm", "decline", "reschedule"]),
        description="what the answer page offers: confirm, decline (cancel) and reschedule (ask for another time)")
    link_max_age: str = Field("30d", description="how long an answer link in an email stays valid")
    join_link_opens: str = Field("15m", description="how long before a video visit's start its answer page shows "
                                                    "the join link (before: the time it appears)")
