"""The `ui:` section: who may open the status page."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from sync.settings_base import SettingsModel
from sync.ui.passwords import check_hash_format


class UiUser(SettingsModel):
    name: str = Field(min_length=1, max_length=64, description="basic-auth user name")
    password_hash: str = Field(description="from `clinicsync ui hash-password`; never the password itself")
    role: Literal["viewer", "front_desk"] = Field(
        "viewer", description="viewer: patients masked; front_desk: names and phones in the work list (each view "
                              "is written to the access log)")

    @field_validator("password_hash")
    @classmethod
    def _format(cls, value: str) -> str:
        check_hash_format(value)
        return value


class UiSettings(SettingsModel):
    token: SecretStr | None = Field(
        None, description="a bearer token for scripts and dashboards; give it via ${VAR} or token_file")
    users: list[UiUser] = Field(default_factory=list, description="basic-auth users (hashed passwords)")
    days: int = Field(7, ge=1, le=60, description="how many days of upcoming appointments the page lists")
    chart_weeks: int = Field(8, ge=1, le=104, description="how many weeks the charts look back")

    @field_validator("users")
    @classmethod
    def _unique(cls, value: list[UiUser]) -> list[UiUser]:
        names = [u.name for u in value]
        if len(set(names)) != len(names):
            raise ValueError("two ui users share a name; names must be unique")
        return value
