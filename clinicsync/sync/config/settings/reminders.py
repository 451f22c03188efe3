"""The `reminders:` section of settings.yaml: when, how and through which notifier
patients and doctors are told about appointments."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from clinicsync.common.settings_base import SettingsModel
from clinicsync.notifiers.base import CHANNELS

KINDS = ("confirmation", "reminder", "rescheduled", "cancelled", "confirmed", "followup", "agenda")
_OFFSET = re.compile(r"^(\d+)([dhm])$")


@dataclass(frozen=True, order=True)
class Offset:
    """How long before the appointment a reminder goes out.

    ``d`` counts calendar days at the same local wall-clock time (across a DST change
    that is 23 or 25 hours per day); ``h`` and ``m`` are elapsed time.
    """

    amount: int
    unit: str  # d | h | m

    @classmethod
    def parse(cls, text: str) -> Offset:
        match = _OFFSET.match(text.strip().lower())
        if not match:
            raise ValueError(f"bad offset {text!r} (use one number and one unit: 3d, 24h, 90m)")
        return cls(int(match.group(1)), match.group(2))

    @property
    def label(self) -> str:
        return f"{self.amount}{self.unit}"

    @property
    def elapsed(self) -> timedelta | None:
        """The elapsed time, or None for calendar days."""
        if self.unit == "h":
            return timedelta(hours=self.amount)
        if self.unit == "m":
            return timedelta(minutes=self.amount)
        return None


def _offsets(values: list[str]) -> list[str]:
    labels = [Offset.parse(v).label for v in values]
    if len(set(labels)) != len(labels):
        raise ValueError("an offset is listed twice")
    return labels


def _duration(text: str) -> timedelta:
    from clinicsync.common.timeutil import parse_duration

    return parse_duration(text)


def _clock(value: object) -> object:
    """YAML reads an unquoted 07:00 as the number 420 (base 60): ask for quotes instead of guessing."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("write the time in quotes, e.g. \"07:00\" (unquoted YAML reads 07:00 as a number)")
    return value


class QuietHours(SettingsModel):
    """Local wall-clock hours in which no patient message goes out (start inclusive,
    end exclusive; may wrap midnight). Equal start and end switch them off."""

    start: time = Field(time(21, 0), description="e.g. 21:00")
    end: time = Field(time(8, 0), description="e.g. 08:00")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _quoted(cls, value: object) -> object:
        return _clock(value)


class TypeOverride(SettingsModel):
    offsets: list[str] | None = Field(None, description="reminder offsets for this appointment type")
    confirmation: bool | None = Field(None, description="send a booking confirmation for this type")

    @field_validator("offsets")
    @classmethod
    def _check(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _offsets(value)


class AgendaSettings(SettingsModel):
    """Doctors' daily agenda by email, and optional immediate notices of same-day changes."""

    enabled: bool = True
    at: time = Field(time(7, 0), description="local time (clinic.timezone) the agenda goes out")
    same_day_changes: bool = Field(False, description="tell the doctor at once when today's schedule changes")
    language: str | None = Field(None, max_length=35, description="the agenda's language and locale (BCP 47, e.g. "
                                                                  "es or es-MX); unset: the clinic's (clinic.language)")
    max_lateness: str = Field("2h", description="an agenda not sent this long after `at` is skipped as `too late` "
                                                "(a morning agenda at night lists visits already past)")

    @field_validator("at", mode="before")
    @classmethod
    def _quoted(cls, value: object) -> object:
        return _clock(value)

    @field_validator("max_lateness")
    @classmethod
    def _check_duration(cls, value: str) -> str:
        _duration(value)
        return value


class FollowupSettings(SettingsModel):
    """An optional message after a completed visit (the source marks it fulfilled), e.g. a
    survey link. Off by default: not every clinic wants to write to patients after a visit."""

    enabled: bool = False
    after: str = Field("2h", description="how long after the visit's end it goes out (then outside quiet hours)")
    within: str = Field("3d", description="a follow-up not sent this long after the visit's end is skipped as "
                                          "`too late` (a fulfilled status that arrives late says nothing)")
    url: str | None = Field(None, max_length=500, description="a link shown in the message, e.g. a survey")
    message: dict[str, str] = Field(
        default_factory=dict, description="language -> one sentence shown instead of the template's default "
                                          "thanks (keep SMS short: `templates check` counts it)")

    @field_validator("after", "within")
    @classmethod
    def _check_duration(cls, value: str) -> str:
        _duration(value)
        return value

    @field_validator("message")
    @classmethod
    def _one_line(cls, value: dict[str, str]) -> dict[str, str]:
        for language, text in value.items():
            if "\n" in text.strip():
                raise ValueError(f"followup.message.{language}: one line, please (it goes into an SMS)")
        return {language.lower(): text.strip() for language, text in value.items()}


class NoticesSettings(SettingsModel):
    """What a patient is told when the clinic changes an appointment's status."""

    confirmed: bool = Field(True, description="tell the patient when the clinic confirms a proposed or pending "
                                              "appointment (it becomes booked)")
    cancel_reasons: dict[str, str | dict[str, str]] = Field(
        default_factory=dict,
        description="cancellation reasons that may be shown to the patient, as the source gives them (e.g. FHIR "
                    "cancelationReason text or display; case-insensitive) -> the words shown: one text, or "
                    "language -> text; a list shows the listed reasons as the source words them. Any other "
                    "reason is never shown (it may be clinical). Default: none shown")
    followup: FollowupSettings = FollowupSettings()
    max_lateness: str = Field("1d", description="a status notice (confirmation, rescheduled, confirmed, cancelled) "
                                                "not sent this long after it was due is skipped as `too late`; one "
                                                "whose visit has begun is never sent")

    @field_validator("max_lateness")
    @classmethod
    def _check_duration(cls, value: str) -> str:
        _duration(value)
        return value

    @field_validator("cancel_reasons", mode="before")
    @classmethod
    def _listed(cls, value: object) -> object:
        """A list of reasons shows each as the source words it."""
        if isinstance(value, list):
            return {str(reason): str(reason) for reason in value}
        return value

    @field_validator("cancel_reasons")
    @classmethod
    def _plain(cls, value: dict[str, str | dict[str, str]]) -> dict[str, str | dict[str, str]]:
        out: dict[str, str | dict[str, str]] = {}
        for reason, shown in value.items():
            texts = shown.values() if isinstance(shown, dict) else [shown]
            if not texts or any("\n" in text.strip() or not text.strip() for text in texts):
                raise ValueError(f"cancel_reasons.{reason}: one line of text, please (it goes into an SMS)")
            out[reason.strip().casefold()] = ({k.lower(): v.strip() for k, v in shown.items()}
                                              if isinstance(shown, dict) else shown.strip())
        return out

    def shown_reason(self, reason: str | None, language: str = "en") -> str | None:
        """The words a patient is shown for a cancellation ``reason`` (in ``language``, a
        BCP 47 tag: es-MX, then es, then the first given), or None: no reason, or one the
        clinic did not list."""
        if not reason:
            return None
        shown = self.cancel_reasons.get(reason.strip().casefold())
        if shown is None or isinstance(shown, str):
            return shown
        tag = language.replace("_", "-").lower()
        return shown.get(tag) or shown.get(tag.split("-")[0]) or next(iter(shown.values()), None)

    def longest_reason(self) -> str | None:
        """The listed reason whose words are the longest (what `templates check` sizes an SMS with)."""
        def length(reason: str) -> int:
            shown = self.cancel_reasons[reason]
            return max(len(t) for t in (shown.values() if isinstance(shown, dict) else [shown]))
        return max(self.cancel_reasons, key=length) if self.cancel_reasons else None


class RemindersSettings(SettingsModel):
    enabled: bool = True
    offsets: list[str] = Field(default_factory=lambda: ["3d", "1d", "1h"],
                               description="d = calendar days at the same local time; h and m = elapsed time")
    types: dict[str, TypeOverride] = Field(default_factory=dict,
                                           description="per appointment type (as stored) overrides")
    confirmation: bool = Field(True, description="confirm each booking (and each reactivation)")
    quiet_hours: QuietHours | None = Field(default_factory=QuietHours,
                                           description="in the appointment's local time; null switches off")
    min_lead: str = Field("15m", description="a reminder that cannot go out this long before the visit is "
                                             "skipped as `too late`")
    max_lateness: dict[str, str] = Field(
        default_factory=dict,
        description="offset (or `default`) -> how late a reminder may still go out, e.g. {1h: 20m}; "
                    "unset: a quarter of the offset (3d: 18h, 1d: 6h, 1h: 15m)")
    channels: list[str] = Field(default_factory=lambda: ["sms", "email"],
                                description="patient channels in order, after the patient's own preference")
    routes: dict[str, str] = Field(default_factory=dict,
                                   description="channel -> notifier name; unset: the first notifier that "
                                               "handles the channel")
    agenda: AgendaSettings = AgendaSettings()
    notices: NoticesSettings = NoticesSettings()
    templates: str | None = Field(None, description="a folder of templates overriding the shipped ones")
    sms_accents: Literal["plain", "keep"] = Field(
        "plain", description="plain: an SMS drops accents the GSM-7 alphabet lacks (sáb -> sab, Lucía -> Lucia) when "
                             "that keeps it GSM-7, 160 characters a segment; keep: accents stay (UCS-2, 70 a segment)")
    clinic_phone: str | None = Field(None, description="shown in messages as the number to call")
    confirm_url: str | None = Field(None, description="link with {key}; a placeholder until replies exist")
    decline_url: str | None = Field(None, description="link with {key}; a placeholder until replies exist")
    whatsapp_content: dict[str, str] = Field(
        default_factory=dict, description="kind -> approved WhatsApp Content SID (variables 1..5: first name, "
                                          "date, time, doctor, location)")
    workers: int = Field(8, ge=1, le=64, description="messages in flight at once")
    lease_seconds: int = Field(
        300, ge=2, description="a claim older than this is presumed crashed; below the notifiers' timeout a slow "
                               "send can be reported unknown while still under way (the crash tests use 2)")
    max_attempts: int | None = Field(
        None, ge=1, le=50, description="sends of a retryable failure before `failed`; unset (the default): "
                                       "retried for as long as the message is in time (its max_lateness, the "
                                       "visit's start), so an outage delays it and never drops it")
    retry_backoff: str = Field("1m", description="first retry delay; doubles per attempt")
    retry_backoff_max: str = Field("1h", description="longest retry delay")

    @field_validator("offsets")
    @classmethod
    def _check_offsets(cls, value: list[str]) -> list[str]:
        return _offsets(value)

    @field_validator("min_lead", "retry_backoff", "retry_backoff_max")
    @classmethod
    def _check_duration(cls, value: str) -> str:
        _duration(value)
        return value

    @field_validator("max_lateness")
    @classmethod
    def _check_lateness(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for key, text in value.items():
            label = key if key == "default" else Offset.parse(str(key)).label
            _duration(str(text))
            out[label] = str(text)
        return out

    @field_validator("channels", "routes")
    @classmethod
    def _check_channels(cls, value: list[str] | dict[str, str]) -> list[str] | dict[str, str]:
        for channel in value:  # the list's channels, or the routes' keys
            if channel not in CHANNELS:
                raise ValueError(f"unknown channel {channel!r} (one of {list(CHANNELS)})")
        return value

    @field_validator("whatsapp_content")
    @classmethod
    def _check_kinds(cls, value: dict[str, str]) -> dict[str, str]:
        for kind in value:
            if kind not in KINDS:
                raise ValueError(f"unknown kind {kind!r} (one of {list(KINDS)})")
        return value

    @model_validator(mode="after")
    def _check_links(self) -> RemindersSettings:
        for name in ("confirm_url", "decline_url"):
            url = getattr(self, name)
            if url is not None and "{key}" not in url:
                raise ValueError(f"{name} must contain {{key}} (the reminder's key)")
        return self

    # -- derived values ---------------------------------------------------------------------
    def offsets_for(self, appointment_type: str | None) -> list[Offset]:
        override = self.types.get(appointment_type or "")
        labels = override.offsets if override and override.offsets is not None else self.offsets
        return [Offset.parse(label) for label in labels]

    def confirms(self, appointment_type: str | None) -> bool:
        override = self.types.get(appointment_type or "")
        return override.confirmation if override and override.confirmation is not None else self.confirmation

    @property
    def lead(self) -> timedelta:
        return _duration(self.min_lead)

    def lateness(self, offset: Offset) -> timedelta:
        """How long after its time a reminder at ``offset`` may still go out: a later one
        would arrive out of place (a "tomorrow" text in the evening of the day before)."""
        text = self.max_lateness.get(offset.label, self.max_lateness.get("default"))
        if text is not None:
            return _duration(text)
        span = offset.elapsed or timedelta(days=offset.amount)
        return span / 4

    def plan_basis(self) -> dict[str, object]:
        """The settings a patient's plan is made from: when one of them changes, pending
        plans are made again (sync/reminders/replan.py). Channels are chosen at send time,
        but they are part of the plan the clinic sees, so a change is recorded too."""
        return {
            "offsets": list(self.offsets),
            "types": {name: override.model_dump() for name, override in sorted(self.types.items())},
            "confirmation": self.confirmation,
            "quiet_hours": None if self.quiet_hours is None else [self.quiet_hours.start.isoformat(),
                                                                   self.quiet_hours.end.isoformat()],
            "min_lead": self.min_lead,
            "channels": list(self.channels),
        }

    def backoff(self, attempts: int) -> timedelta:
        """The delay after the ``attempts``-th failed try (1, 2, 4, … times the base, capped)."""
        base, cap = _duration(self.retry_backoff), _duration(self.retry_backoff_max)
        return min(base * (2 ** max(attempts - 1, 0)), cap)
