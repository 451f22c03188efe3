"""The `responses:` section: what a patient's answer does."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator

from clinicsync.common.settings_base import SettingsModel

Choice = Literal["confirm", "decline", "reschedule"]
REHEARSAL_FLAG = "CLINICSYNC_REHEARSAL"  # must be "1" in the environment for the rehearsal-only key


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
    link_max_age: str = Field("30d", description="an answer link works until its visit is over; this bounds "
                                                 "its age only when its appointment cannot be found")
    join_link_opens: str = Field("15m", description="how long before a video visit's start its answer page shows "
                                                    "the join link (before: the time it appears)")
    insecure_sns_signing_certs_from_local_server_for_rehearsal: AnyHttpUrl | None = Field(
        None, description=(
            "REHEARSAL ONLY, NEVER IN PRODUCTION: fetch the SNS signing certificate from this local server "
            "(moto's, e.g. http://127.0.0.1:5000) instead of sns.<region>.amazonaws.com, so a local SNS can "
            f"deliver replies to `serve`. Refused unless the environment sets {REHEARSAL_FLAG}=1 "
            "(docs/responses.md, 'Rehearse replies on one machine')"))

    @field_validator("insecure_sns_signing_certs_from_local_server_for_rehearsal")
    @classmethod
    def _rehearsal_only(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        """A settings file alone cannot turn signature checks into trust in any local server:
        the process must also be started with the rehearsal flag."""
        if value is not None and os.environ.get(REHEARSAL_FLAG) != "1":
            raise ValueError(f"a rehearsal-only key: refused unless the environment sets {REHEARSAL_FLAG}=1 "
                             "(production settings must not carry it)")
        return value
