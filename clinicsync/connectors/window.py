"""The look-back/look-ahead window that date-bounded connectors (FHIR, SQL) share: two
durations, validated when settings load and read as timedeltas at run time."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field, field_validator

from clinicsync.common.settings_base import SettingsModel
from clinicsync.common.timeutil import parse_duration

#: how far inside the window's end a delete sweep stops comparing: a source may bound its window by
#: date (SQL: DATE(start) <= DATE(:window_end); a FHIR server comparing at the precision of a start
#: written without seconds or zone) or in another zone than the store's UTC, and an appointment at
#: the edge must never be taken for a deleted one.
SWEEP_EDGE = timedelta(days=1)


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

    def sweep_until(self, now: datetime) -> datetime:
        """A delete sweep's comparison end for a listing of the window read at ``now``
        (``IdListing.until``): the window's end less SWEEP_EDGE."""
        return now + self.ahead_delta - SWEEP_EDGE
