"""The look-back/look-ahead window that date-bounded connectors (FHIR, SQL) share: two
durations, validated when settings load and read as timedeltas at run time."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from clinicsync.common.settings_base import SettingsModel
from clinicsync.common.timeutil import parse_duration


class LookWindow(SettingsModel):
    """``back`` and ``ahead`` as durations (``7d``, ``12h``); subclasses set their defaults."""

    back: str = Field("7d", description="how far into the past to look, e.g. 7d or 12h")
    ahead: str = Field("365d", description="how far into the future to look, e.g. 180d")

    @field_validator("back", "ahead")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def back_delta(self) -> timedelta:
        return parse_duration(self.back)

    @property
    def ahead_delta(self) -> timedelta:
        return parse_duration(self.ahead)
