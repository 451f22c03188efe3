"""The `service:` section of settings.yaml: how `clinicsync run` behaves."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from clinicsync.common.settings_base import SettingsModel
from clinicsync.common.timeutil import parse_duration


class ServiceSettings(SettingsModel):
    shutdown_grace: str = Field(
        "25s", description="on SIGTERM/SIGINT, how long work in flight may take to finish or release "
                           "before the process exits anyway (keep it below Kubernetes' "
                           "terminationGracePeriodSeconds, 30s by default)")
    stall_after: str = Field(
        "15m", description="when a wait becomes a stall that `status`, the status page and the metrics show: "
                           "the oldest outbox event a stage has not consumed, or a source silent past its "
                           "schedule (or its expected_interval), for longer than this")

    poll_workers: int = Field(
        4, ge=1, le=64,
        description="how many polls one `clinicsync run` process runs at once, whatever the number of "
                    "sources: the workers sharing a store claim the due sources from the store's poll "
                    "schedule, each up to this many at a time (docs/operations.md, \"How work is shared\"). "
                    "A source that hangs holds one until its timeout cuts it")

    @field_validator("shutdown_grace", "stall_after")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    def grace(self) -> timedelta:
        return parse_duration(self.shutdown_grace)

    def stall(self) -> timedelta:
        return parse_duration(self.stall_after)
