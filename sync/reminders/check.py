"""`templates check`: renders every template of every language with sample data, as this
clinic's settings would send it, and reports each SMS's size (segments, encoding, characters),
an SMS over one segment, and variables a template uses but nobody sets."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from jinja2 import Undefined

from clinicsync.sync.reminders.agenda_stats import DayStats
from clinicsync.sync.reminders.compose import Draft, Visit, composer_for
from clinicsync.sync.reminders.render import Renderer, TemplateProblem
from clinicsync.sync.settings import Settings

MAX_SEGMENTS = 1  # one segment: cheaper, and it arrives whole on every handset
SAMPLE_REMINDER_ID = 250_000  # a store a few years in: its short link's id takes 4 characters
PATIENT_KINDS = ("confirmation", "reminder", "rescheduled", "cancelled", "confirmed", "followup")


@dataclass
class CheckResult:
    language: str
    template: str
    channel: str
    segments: int | None = None
    encoding: str | None = None
    units: int | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    answer_link: bool | None = None  # SMS: carries its short answer link (None: none to carry)

    def as_dict(self) -> dict[str, Any]:
        return {"language": self.language, "template": self.template, "channel": self.channel,
                "segments": self.segments, "encoding": self.encoding, "units": self.units, "warnings": self.warnings,
                "error": self.error, "answer_link": self.answer_link}


def _recording(found: list[str]) -> type[Undefined]:
    class Recording(Undefined):
        """Renders as empty, and remembers the name."""

        def _note(self) -> None:
            found.append(self._undefined_name or "?")

        def __str__(self) -> str:
            self._note()
            return ""

        def __bool__(self) -> bool:
            self._note()
            return False

        def __iter__(self) -> Any:
            self._note()
            return iter(())

    return Recording


def sample_visit(zone_name: str) -> Visit:
    start = datetime(2026, 3, 9, 14, 30, tzinfo=UTC)
    return Visit("demo", "A1001", start, start + timedelta(minutes=30), zone_name, 2, "Annual physical",
                 "Main Street Clinic", "Dr. Priya Natarajan", "Alexandra Kowalski")


# Telehealth samples (issue 22): a join link of a common length (a Zoom or Teams link with a
# passcode is longer and may take a second segment), and the patient's own number.
SAMPLE_JOIN_URL = "https://vc.example.org/j/58210"
SAMPLE_PATIENT_PHONE = "+13125550144"


def sample_visits(zone_name: str) -> list[tuple[str, Visit]]:
    """The sample visit as each mode shows it: (label suffix, visit)."""
    visit = sample_visit(zone_name)
    return [("", visit),
            (" (video)", replace(visit, visit_mode="video", join_url=SAMPLE_JOIN_URL)),
            (" (phone)", replace(visit, visit_mode="phone", patient_phone=SAMPLE_PATIENT_PHONE))]


def check_templates(settings: Settings, extra: Any = None) -> list[CheckResult]:
    found: list[str] = []
    renderer = Renderer(extra, undefined=_recording(found))
    composer = composer_for(settings, {}, renderer)
    composer.links = None  # the SMS sizes as sent: answer links go into emails only
    visit = sample_visit(settings.clinic.timezone)
    results = []
    for language in renderer.languages():
        names = set(renderer.template_names(language))
        cases: list[tuple[Draft, str, str]] = []
        longest = settings.reminders.notices.longest_reason()
        for suffix, sample in sample_visits(settings.clinic.timezone):
            for kind in PATIENT_KINDS:
                shown = sample
                if kind == "cancelled" and longest:  # the SMS as long as a listed reason can make it
                    shown = replace(sample, cancel_reason=longest)
                draft = Draft(f"a1:patient:{kind}:v2", kind, "patient", language, visit=shown,
                              reminder_id=SAMPLE_REMINDER_ID)
                cases += [(draft, channel, suffix) for channel in ("sms", "whatsapp", "email")
                          if f"{kind}.{channel}.txt" in names]
        day = visit.start.replace(hour=0, minute=0)
        if "agenda.email.txt" in names:
            cases.append((Draft("agenda:demo:D1:2026-03-09", "agenda", "practitioner", language, agenda_day=day,
                                agenda=[visit, visit], doctor=visit.doctor,
                                stats=DayStats(2, 1, 1, 0, 1, 1, 0, 1)), "email", ""))
        if "change.email.txt" in names:
            cases += [(Draft(f"a1:practitioner:{kind}:v2", kind, "practitioner", language, visit=visit), "email", "")
                      for kind in ("confirmation", "rescheduled", "cancelled")]
        if "doctor_declined.email.txt" in names:
            cases.append((Draft("a1:frontdesk:doctor_declined:v2", "doctor_declined", "frontdesk", language,
                                visit=visit), "email", ""))
        for draft, channel, suffix in cases:
            found.clear()
            name = "change" if draft.recipient == "practitioner" and draft.kind != "agenda" else draft.kind
            result = CheckResult(language, (name if draft.kind == name else f"{name}/{draft.kind}") + suffix, channel)
            try:
                rendered = composer.render(draft, channel, visit.start)
            except TemplateProblem as exc:
                result.error = str(exc)
                results.append(result)
                continue
            if rendered.language != language:
                continue  # fell back to another language: checked there
            result.segments, result.encoding, result.units = rendered.segments, rendered.encoding, rendered.units
            link = composer.short_link(draft, channel)
            if link is not None:
                result.answer_link = link in rendered.text
            if rendered.segments and rendered.segments > MAX_SEGMENTS:
                limit = 160 if rendered.encoding == "GSM-7" else 70
                result.warnings.append(f"{rendered.segments} SMS segments ({rendered.encoding}, {rendered.units} "
                                       f"characters; one segment holds {limit})")
            for variable in sorted(set(found)):
                result.warnings.append(f"undefined variable {variable!r}")
            results.append(result)
    return results
