"""The `calendar:` section of settings.yaml: which provider, which doctor's calendar,
what an event says (privacy by default), and how hard to push."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Self
from urllib.parse import urlparse

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from clinicsync.common.settings_base import SettingsModel, resolve_path
from clinicsync.common.timeutil import parse_duration

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

GOOGLE_API_ROOT = "https://www.googleapis.com/"

# Privacy by default: the visit type and the patient's initials; no phone, no email. A video
# or phone visit says so first (the doctor must not walk to a room for it), and its body
# carries what the doctor needs to start it: the join link, or the number to call. Initials
# end in their own period ("J.W."), so the sentence adds none after them (obs 14: "L.R..").
DEFAULT_SUMMARY = (
    "{% if cancelled %}Cancelled: {% elif noshow %}No-show: {% endif %}"
    "{% if visit_mode == 'video' %}Video visit: {% elif visit_mode == 'phone' %}Phone visit: {% endif %}"
    "{{ type or 'Appointment' }}{% if patient_initials %} ({{ patient_initials }}){% endif %}")
DEFAULT_DESCRIPTION = (
    "{% if visit_mode == 'video' %}Video visit. {% elif visit_mode == 'phone' %}Phone visit. {% endif %}"
    "{{ type or 'Appointment' }}{% if patient_initials %} with {{ patient_initials }}{% else %}.{% endif %}"
    "{% if visit_mode == 'video' %}\n{% if join_url %}Join: {{ join_url }}"
    "{% else %}The join link is in the clinic's system.{% endif %}{% endif %}"
    "{% if visit_mode == 'phone' %}\n{% if dial_in %}Phone: the patient calls you at {{ dial_in }}"
    "{% else %}Phone: you call the patient at the number in the clinic's system.{% endif %}{% endif %}"
    "\nManaged by clinicsync: edit the appointment in the clinic's system, not here.")
# With `sites:`, the default body names the visit's practice ("in North Dental's system"): a
# doctor working in two practices must know whose system holds the visit. A file without sites
# keeps DEFAULT_DESCRIPTION itself, so its events (and what they are keyed on) stay as they were.
DEFAULT_SITE_DESCRIPTION = DEFAULT_DESCRIPTION.replace("the clinic's system", "{{ site_name }}'s system")

# What a template may use. Contact details are offered, never used by the defaults.
TEMPLATE_SAMPLE: dict[str, Any] = {
    "type": "Follow-up", "status": "booked", "cancelled": False, "noshow": False,
    "patient_initials": "J.D.", "patient_name": "Jane Doe", "patient_phone": "+12125550100",
    "practitioner_name": "Dr. Who", "location": "Main Street Clinic", "timezone": "America/New_York",
    "start_local": "2026-01-05 09:00", "end_local": "2026-01-05 09:30", "connector": "demo-csv",
    "appointment_id": "A1001", "visit_mode": "video", "join_url": "https://meet.example.org/v/4821937765",
    "dial_in": None, "patient_cancelled": False, "source": "demo-csv",
    "site": "north", "site_name": "North Dental", "site_phone": "+13125550100",
}
# The names of the visit's practice (groups of practices): its `sites:` key (None without sites), its name
# and phone (without sites: the clinic's).
SITE_NAMES = frozenset({"site", "site_name", "site_phone"})


class CalendarSite(NamedTuple):
    """What a doctor's event may say about the practice a visit belongs to: worked out once per
    settings load (``Settings.clinic_for``), since the calendar stage is handed `calendar:` alone."""

    key: str | None  # the `sites:` key; None: the clinic of a file without sites
    name: str
    phone: str | None
    address: str | None  # where an in-person visit without a location is (with sites only)


CLINIC = CalendarSite(None, "clinic", None, None)  # `clinic:`'s defaults: CalendarSettings built alone (tests)


def template_environment() -> SandboxedEnvironment:
    """Sandboxed (templates come from settings) and strict (a misspelt name is an error).
    jinja2 is imported here, when a template is checked or rendered, not with the settings:
    `status` and `--help` load settings and never render one."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


class CalendarRule(SettingsModel):
    """Sends one practitioner's appointments to a calendar (or nowhere). The first matching rule wins."""

    email: str | None = Field(None, description="the practitioner's email (case-insensitive)")
    practitioner: str | None = Field(None, description="or the practitioner's id in the source")
    connector: str | None = Field(None, description="limits `practitioner` to one connector")
    calendar_id: str | None = Field(
        None, description="google: a shared calendar's id (default: the user's primary calendar); "
                          "ics: the file's name")
    user: str | None = Field(
        None, description="google: the Workspace user to act as (domain-wide delegation). Default: the "
                          "practitioner's email for their primary calendar, the service account itself "
                          "for a shared calendar_id")
    skip: bool = Field(False, description="never push this practitioner's appointments")

    @model_validator(mode="after")
    def _one_match(self) -> Self:
        if (self.email is None) == (self.practitioner is None):
            raise ValueError("give exactly one of `email` or `practitioner` to match")
        if self.connector is not None and self.practitioner is None:
            raise ValueError("`connector` only narrows a `practitioner` id")
        return self

    def matches(self, connector: str, practitioner_id: str | None, email: str | None) -> bool:
        if self.email is not None:
            return email is not None and email.strip().lower() == self.email.strip().lower()
        return practitioner_id == self.practitioner and self.connector in (None, connector)


class RetrySettings(SettingsModel):
    attempts: int = Field(6, ge=1, le=20, description="tries per call before it waits for the next run")
    initial_seconds: float = Field(1.0, gt=0, description="first backoff (exponential, with jitter)")
    max_seconds: float = Field(64.0, gt=0, description="longest single backoff")


class GoogleSettings(SettingsModel):
    key_file: Path | None = Field(
        None, description="the service account's JSON key (mount it as a secret; never commit it)")
    api_root: str = Field(GOOGLE_API_ROOT, description="Google's API root; a test double's URL in tests")
    batch_size: int = Field(50, ge=1, le=50, description="calls per batch request (Google allows 50)")
    user_calls_per_minute: int = Field(
        600, ge=1, description="per-user quota: calls for one calendar user are paced below this")
    timeout_seconds: float = Field(30.0, gt=0)
    retry: RetrySettings = RetrySettings()
    create_meet: bool = Field(
        False, description="a video visit whose source gives no join link gets a Google Meet link "
                           "(conferenceData.createRequest); a source's own link is always used as it is")

    @field_validator("key_file")
    @classmethod
    def _key_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = resolve_path(value, info)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"cannot read {path}: {exc.strerror}") from None
        except ValueError:
            raise ValueError(f"{path} is not JSON (download the key as JSON in the Cloud console)") from None
        missing = [k for k in ("client_email", "private_key", "token_uri") if not data.get(k)]
        if not isinstance(data, dict) or data.get("type") != "service_account" or missing:
            raise ValueError(f"{path} is not a service-account key (missing {missing or ['type']})")
        return path

    @field_validator("api_root")
    @classmethod
    def _root(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value if value.endswith("/") else value + "/"


class IcsSettings(SettingsModel):
    directory: Path = Field(Path(".clinicsync/calendars"), validate_default=True,
                            description="one <doctor>.ics file per calendar")
    keep_past_days: int = Field(
        90, ge=0, description="an event whose visit ended longer ago leaves its .ics file (and the store) at the "
                              "file's next write, or within a day; at least calendar.past_days")

    @field_validator("directory")
    @classmethod
    def _relative(cls, value: Path, info: ValidationInfo) -> Path:
        return resolve_path(value, info)


class CalendarSettings(SettingsModel):
    provider: Literal["google", "ics", "none"] = Field(
        "none", description="google (Calendar API), ics (files), or none")
    calendars: list[CalendarRule] = Field(default_factory=list, description="practitioner → calendar rules")
    default: Literal["delegate", "skip"] = Field(
        "delegate", description="practitioners no rule matches: delegate = their own email's calendar")
    cancelled_action: Literal["delete", "mark_cancelled"] = Field(
        "delete", description="a cancelled or deleted appointment: remove the event, or keep it marked")
    patient_cancelled: Literal["mark", "cancel", "keep"] = Field(
        "mark", description="a visit the patient declined or cancelled (SMS reply, answer link) that the source "
                            "still holds booked (its write-back is unsupported or not done yet): mark = keep the "
                            "event, its title starting 'Cancelled by patient:' and its body saying it is still "
                            "booked in the source (status tentative); cancel = cancel the event as a source "
                            "cancellation does (cancelled_action); keep = show it as booked")
    summary: str = Field(DEFAULT_SUMMARY, description="Jinja2 template of the event title")
    description: str = Field(DEFAULT_DESCRIPTION, description="Jinja2 template of the event body")
    invite_patient: bool = Field(False, description="add the patient as an attendee (Google emails them)")
    front_desk_email: str | None = Field(
        None, max_length=320, description="where to email a doctor's decline read from Google Calendar "
                                          "(`calendar reconcile`); unset: recorded and shown, not emailed")
    past_days: int = Field(30, ge=0, description="appointments that ended longer ago are left alone")
    stage_hung_after: str = Field(
        "30m", description="how long one worker may hold the calendar stage (its lock) before `status`, the status "
                           "page and the metrics show it as hung, naming its host and pid: every other run skips "
                           "the stage meanwhile. A run takes seconds for .ics files and a few minutes for Google "
                           "(its largest, 5,000 re-rendered events paced at one user's 600 calls a minute: ~8 min)")
    google: GoogleSettings = GoogleSettings()
    ics: IcsSettings = IcsSettings()
    # Not settings keys: each source's practice, told by the whole settings (learn_sites).
    _clinic: CalendarSite = PrivateAttr(default=CLINIC)
    _sites: dict[str, CalendarSite] = PrivateAttr(default_factory=dict)
    _systems: dict[str, str] = PrivateAttr(default_factory=dict)

    def learn_sites(self, clinic: CalendarSite, sites: dict[str, CalendarSite],
                    systems: dict[str, str] | None = None) -> None:
        """Take the clinic, each source's site and the clinic's name for each labelled source's
        system (its ``label:``), worked out by the whole settings when they are validated
        (``Settings._calendar_sites``): push, status and the CLI are handed this section alone,
        and all of them must render and key an event alike."""
        self._clinic = clinic
        self._sites = dict(sites)
        self._systems = dict(systems or {})

    @property
    def systems(self) -> dict[str, str]:
        """Connector name → the clinic's name for its system (its ``label:``), labelled ones only."""
        return self._systems

    def system_name(self, connector: str) -> str:
        """What a doctor reads for the system a visit is booked in: its ``label:``, else the
        connector's name."""
        return self._systems.get(connector, connector)

    @property
    def clinic_site(self) -> CalendarSite:
        """The practice of a file without sites (and of a source no site names)."""
        return self._clinic

    @property
    def sites(self) -> dict[str, CalendarSite]:
        """Connector name → its site; empty without `sites:`."""
        return self._sites

    @field_validator("stage_hung_after")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    def hung_after(self) -> timedelta:
        return parse_duration(self.stage_hung_after)

    @field_validator("summary", "description")
    @classmethod
    def _template(cls, value: str, info: ValidationInfo) -> str:
        from jinja2 import TemplateError

        try:
            template_environment().from_string(value).render(TEMPLATE_SAMPLE)
        except TemplateError as exc:
            known = ", ".join(sorted(TEMPLATE_SAMPLE))
            raise ValueError(f"template error: {exc.message} (names you can use: {known})") from None
        return value

    @model_validator(mode="after")
    def _provider_needs(self) -> Self:
        if self.provider == "google" and self.google.key_file is None:
            raise ValueError("provider google needs google.key_file (the service account's JSON key)")
        if self.provider == "ics" and self.ics.keep_past_days < self.past_days:
            # Else an event retired from the file while its visit is still in the stage's window
            # would be written again by the next run, and retired again: it would flap.
            raise ValueError(f"calendar.ics.keep_past_days ({self.ics.keep_past_days}) is smaller than "
                             f"calendar.past_days ({self.past_days}): set keep_past_days to at least "
                             f"{self.past_days}, or lower past_days")
        return self
