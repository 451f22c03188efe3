"""The `sites:` section: one deployment serving several practices.

A dental group with 60 offices, a network of 40 clinics: each practice has its own name,
phone, zone, places, language, sender identities and quiet hours, and its patients must hear
from *their* practice, not from the group. A site is a `clinic:` for the sources that belong
to it (each connector's ``site:``): what a site leaves unset it takes from `clinic:` (and
`reminders:` for quiet hours and templates), so a group writes what differs, not everything.

A settings file without `sites:` is one site, the clinic itself: ``Settings.site_of`` answers
None and ``Settings.clinic_for`` the `clinic:` section, so nothing changes for it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from clinicsync.common.settings_base import SettingsModel
from clinicsync.sync.config.clinic import (
    ClinicSettings,
    Place,
    validate_language,
    validate_logo,
    validate_region,
    validate_timezone,
)
from clinicsync.sync.config.settings.reminders import QuietHours

SITE_KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class SiteSettings(SettingsModel):
    """One practice of the deployment. Unset keys are the `clinic:` section's (the site's
    ``name`` is required: patients must never be told the group's name by accident)."""

    name: str = Field(min_length=1, max_length=120, description="the practice's name as its patients know it")
    phone: str | None = Field(None, max_length=32, description="the number this practice's patients call "
                                                              "(unset: clinic.phone)")
    address: str | None = Field(None, max_length=300, description="the practice's street address (unset: "
                                                                  "clinic.address)")
    timezone: str | None = Field(None, description="IANA zone of this practice's visits (unset: clinic.timezone)")
    language: str | None = Field(None, max_length=35, description="BCP 47 language of this practice's messages and "
                                                                  "agendas (unset: clinic.language)")
    default_region: str | None = Field(None, description="ISO 3166 region for this practice's phone numbers "
                                                          "without + (unset: clinic.default_region)")
    logo_file: Path | None = Field(None, description="the practice's logo on its answer pages (unset: "
                                                     "clinic.logo_file)")
    places: dict[str, Place] | None = Field(
        None, description="this practice's locations (as `clinic.places`); unset: clinic.places")
    sms_from: str | None = Field(
        None, max_length=32, description="the number this practice's SMS and WhatsApp messages are sent from, "
                                         "E.164 (unset: the notifier's from_number)")
    email_from: str | None = Field(
        None, max_length=200, description="From: of this practice's emails, e.g. 'North Dental "
                                          "<reminders@north.example>' (unset: the notifier's sender)")
    templates: str | None = Field(
        None, description="a folder of templates overriding the shipped ones (and reminders.templates) for this "
                          "practice")
    quiet_hours: QuietHours | None = Field(
        None, description="this practice's quiet hours (unset: reminders.quiet_hours)")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else validate_timezone(value)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return None if value is None else validate_language(value)

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        return None if value is None else validate_region(value)

    @field_validator("logo_file")
    @classmethod
    def _logo(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else validate_logo(value, info)

    @field_validator("sms_from")
    @classmethod
    def _sms_from(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("+") and value[1:].isdigit() and 8 <= len(value) <= 16):
            raise ValueError("sms_from must be an E.164 number such as +13125550100")
        return value

    def as_clinic(self, clinic: ClinicSettings) -> ClinicSettings:
        """The `clinic:` section as this site's patients see it: the site's keys over the
        clinic's (each key was checked as the clinic's own is, above)."""
        own = {key: value for key, value in {
            "name": self.name, "phone": self.phone, "address": self.address, "timezone": self.timezone,
            "language": self.language, "default_region": self.default_region, "logo_file": self.logo_file,
            "places": self.places}.items() if value is not None}
        return clinic.model_copy(update=own)
