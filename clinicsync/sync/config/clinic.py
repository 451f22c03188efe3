"""The `clinic:` section: who the clinic is to its patients (name, zone, phone, address,
logo) and where its visits happen (`places`), so the answer page and the messages can say
where to go or how to join without the sources having to carry addresses."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.languages import get_official_languages
from pydantic import AnyHttpUrl, Field, ValidationInfo, field_validator, model_validator

from clinicsync.common.phone_regions import PHONE_REGIONS
from clinicsync.common.settings_base import SettingsModel, resolve_path
from clinicsync.mappings.window import DEFAULT_WINDOW, PlausibleWindow

LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml",
              ".webp": "image/webp"}


def validate_timezone(value: str) -> str:
    shown = value if len(value) <= 64 else value[:64] + "…"
    try:
        if len(value) > 255:  # longer than any file name: the zone lookup would fail with OSError
            raise ValueError
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown IANA time zone {shown!r} (e.g. America/New_York)") from None
    return value


EVERY_LOCATION = "*"  # a `places` key for every location not listed (a clinic with one building)


def known_language(tag: str) -> bool:
    """A BCP 47 tag babel knows (es, es-MX, en_US)."""
    try:
        Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return False
    return True


def in_language(texts: dict[str, str], language: str | None) -> str | None:
    """The text for ``language`` (BCP 47, either separator): that tag, else its base language."""
    by_tag = {key.lower().replace("_", "-"): text for key, text in texts.items()}
    tag = (language or "en").lower().replace("_", "-")
    return by_tag.get(tag) or by_tag.get(tag.split("-")[0])


def validate_language(value: str) -> str:
    """A BCP 47 tag babel knows, or ValueError naming the value (the clinic's and a site's)."""
    if not known_language(value):
        raise ValueError(f"unknown language or locale {value[:35]!r} (a BCP 47 tag such as es-ES or en-US)")
    return value


def validate_region(value: str) -> str:
    """An ISO 3166 region phonenumbers knows, upper-cased (the clinic's and a site's)."""
    value = value.upper()
    if value not in PHONE_REGIONS:  # phonenumbers' own set, without importing it on every start
        raise ValueError(f"unknown phone region {value!r} (an ISO 3166 code such as US, GB, DE)")
    return value


def validate_logo(value: Path, info: ValidationInfo) -> Path:
    """A logo file that exists, of a type the answer page can serve (the clinic's and a site's)."""
    path = resolve_path(value, info)
    if path.suffix.lower() not in LOGO_TYPES:
        raise ValueError(f"logo_file must be one of {', '.join(LOGO_TYPES)} (got {path.suffix or 'no suffix'})")
    if not path.is_file():
        raise ValueError(f"logo_file {path} does not exist")
    return path


class Place(SettingsModel):
    """Where a visit happens as patients are told it: an address (with a map link), or how
    to join a video or phone visit. ``instructions`` is one text, or one per language
    (``{en: …, es: …}``) so a Spanish page carries no English."""

    address: str | None = Field(None, max_length=300, description="street address, one line")
    map_url: AnyHttpUrl | None = Field(None, description="a map link; unset: an OpenStreetMap search of the address")
    timezone: str | None = Field(
        None, description="IANA zone of the visits here, e.g. America/Denver: for a source with stored_times: utc "
                          "whose records carry no zone (unset: the connector's timezone, else clinic.timezone)")
    instructions: str | dict[str, str] | None = Field(
        None, description="how to find the room or join (no personal links): one text, or {language: text} "
                          "(en, es, es-MX …)")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else validate_timezone(value)

    @field_validator("instructions")
    @classmethod
    def _instructions(cls, value: str | dict[str, str] | None) -> str | dict[str, str] | None:
        texts = [value] if isinstance(value, str) else list((value or {}).values())
        if any(len(text) > 500 for text in texts):
            raise ValueError("an instructions text is longer than 500 characters")
        for language in value if isinstance(value, dict) else ():
            if not known_language(language):
                raise ValueError(f"instructions: unknown language {language[:35]!r} (e.g. en, es, es-MX)")
        return value

    def instructions_in(self, language: str | None) -> str | None:
        """The instructions for a reader of ``language`` (BCP 47): that tag, its base language,
        else English, else the first text given. One plain text serves every language."""
        if self.instructions is None or isinstance(self.instructions, str):
            return self.instructions
        return (in_language(self.instructions, language) or in_language(self.instructions, "en")
                or next(iter(self.instructions.values()), None))

    def map_link(self) -> str | None:
        if self.map_url is not None:
            return str(self.map_url)
        return f"https://www.openstreetmap.org/search?query={quote_plus(self.address)}" if self.address else None


class PlausibleDates(SettingsModel):
    """The window appointment starts and ends must fall in: outside it a date is a source's
    "no date" (0001-01-01) or a broken export, refused at mapping with the field named."""

    earliest: date = Field(DEFAULT_WINDOW.earliest, description="first plausible appointment date")
    latest: date = Field(DEFAULT_WINDOW.latest, description="first date past the plausible window")

    @model_validator(mode="after")
    def _ordered(self) -> PlausibleDates:
        if self.latest <= self.earliest:
            raise ValueError(f"latest ({self.latest}) must be after earliest ({self.earliest})")
        return self

    def window(self) -> PlausibleWindow:
        return PlausibleWindow(self.earliest, self.latest)


class ClinicSettings(SettingsModel):
    name: str = "clinic"
    timezone: str = Field("UTC", description="IANA zone for sources that give local times")
    default_region: str = Field("US", description="ISO 3166 region for phone numbers without +")
    phone: str | None = Field(None, max_length=32, description="the number patients call; shown on the answer "
                                                               "page and in messages")
    address: str | None = Field(None, max_length=300, description="the clinic's street address (the default place)")
    logo_file: Path | None = Field(None, description="PNG, JPEG, SVG or WebP shown on the patients' answer page")
    language: str | None = Field(
        None, max_length=35, description="the clinic's language and locale (BCP 47, e.g. es-ES, en-US): doctors' "
                                         "agendas and notices, patients whose source gives no language; unset: "
                                         "the main language of default_region")
    plausible_dates: PlausibleDates = Field(
        default_factory=PlausibleDates, description="appointments outside [earliest, latest) are refused at mapping "
                                                    "(a source's empty date such as 0001-01-01)")
    places: dict[str, Place] = Field(
        default_factory=dict, description="location id or name (as the source sends it) -> address, map link or "
                                          "video/phone instructions")
    default_visit_minutes: int | None = Field(
        None, ge=1, le=1440, description="the length of a visit whose source gives neither an end nor a length "
                                         "(the clinic's usual slot); unset: such a visit is quarantined "
                                         "('end: missing')")
    visit_types: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="visit type as the source sends it -> {language: text} for patients' "
                                          "pages (e.g. Follow-up: {es: Revisión}); unlisted: shown as sent")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return validate_timezone(value)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return None if value is None else validate_language(value)

    def speaks(self, language: str | None) -> str:
        """The language to write to someone in: their own when known, else the clinic's. A
        clinic in Spain whose export carries no language column writes to its patients, and
        reads their "Sí", in Spanish, not in English."""
        return language or self.locale_tag()

    def locale_tag(self) -> str:
        """The clinic's locale as a BCP 47 tag: ``language``, else the first official language
        of ``default_region`` there (ES: es-ES, a 24-hour clock; US: en-US, a 12-hour one)."""
        if self.language:
            return self.language
        official = get_official_languages(self.default_region, de_facto=True)
        return f"{official[0]}-{self.default_region}" if official else "en"

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        return validate_region(value)

    @field_validator("logo_file")
    @classmethod
    def _logo(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else validate_logo(value, info)

    def place(self, location_ref: str | None, location_name: str | None) -> Place | None:
        """What patients are told about a location: its entry in ``places`` by id, then by name
        (then the ``"*"`` entry). The clinic's own address only for a visit with no location
        at all: a location the settings do not list gets None, never the main building, which
        may be the wrong one. Pages then tell the patient to ask the clinic."""
        if not location_ref and not location_name:
            return Place(address=self.address) if self.address else None
        for key in (location_ref, location_name):
            if key and key in self.places:
                return self.places[key]
        return self.places.get(EVERY_LOCATION)

    def place_zones(self) -> tuple[tuple[str, str | None], ...]:
        """Each ``places`` key with its ``timezone`` (None where unset), for the mapping of a
        source that stores UTC (mappings/engine.py ``place_zone``: looked up as ``place`` looks
        a location up, by the name the source sends, then the ``"*"`` entry)."""
        return tuple(sorted((key, place.timezone) for key, place in self.places.items()))

    def place_known(self, location_ref: str | None, location_name: str | None) -> bool:
        """False for a location ``places`` does not list (nobody can be told where it is);
        True for a listed one and for a visit without a location."""
        return self.place(location_ref, location_name) is not None or not (location_ref or location_name)

    def visit_type_in(self, visit_type: str | None, language: str | None) -> str | None:
        """The visit type for a reader of ``language`` (that tag, then its base language), else
        as the source sent it."""
        return in_language(self.visit_types.get(visit_type or "", {}), language) or visit_type

    def phone_display(self) -> tuple[str, str] | None:
        """(as written for people, tel: URI) of the clinic's phone; None when unset."""
        if not self.phone:
            return None
        import phonenumbers  # here, not with the settings: `status` validates them on every start

        try:
            number = phonenumbers.parse(self.phone, self.default_region)
        except phonenumbers.NumberParseException:
            return self.phone, "tel:" + "".join(c for c in self.phone if c.isdigit() or c == "+")
        return (phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
                "tel:" + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def locations_without_place(clinic: ClinicSettings,
                            locations: Iterable[tuple[str | None, str | None]]) -> list[tuple[str | None, str | None]]:
    """The (id, name) pairs of source locations that ``clinic.places`` does not list, in the
    order given, once each: what `check` warns about, since their patients are told to ask
    the clinic where to go. Pure: the caller reads the locations (the store's ``location``
    table, a source's sample)."""
    missing: list[tuple[str | None, str | None]] = []
    for ref, name in locations:
        if not clinic.place_known(ref, name) and (ref, name) not in missing:
            missing.append((ref, name))
    return missing
