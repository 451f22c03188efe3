"""`templates check`: renders every template of every language as this clinic's settings
would send it, against worst-case samples, and reports each SMS's size (segments, encoding,
characters). An SMS past one segment, or one that loses its answer link, is a *problem*
(the command exits non-zero), and so is a variable a template uses but nobody sets (each
such message would fail to render when sent).

The samples are the worst case per language (reminders/samples.py): a message that fits one
SMS segment on them fits on every day of the year."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from jinja2 import Undefined
from sqlalchemy import func, select

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.agenda_stats import DayStats
from clinicsync.sync.reminders.compose import DOCTOR_CHANGE_KINDS, Composer, Draft, Visit, composer_for
from clinicsync.sync.reminders.doctor_values import ON_AGAIN_NOTES, desk_note
from clinicsync.sync.reminders.render import FALLBACK, Renderer, TemplateProblem
from clinicsync.sync.reminders.samples import describe, sample_visit, with_modes, worst_visits
from clinicsync.sync.store.model import Patient, table_of
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.compose import KINDS as WAITLIST_KINDS
from clinicsync.sync.waitlist.compose import OfferDraft, render_offer

PATIENTS = table_of(Patient)
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
    sample: str | None = None  # the worst sample's date and first name, as the SMS shows them
    problems: list[str] = field(default_factory=list)  # what fails the check (over one segment, link lost)
    site: str | None = None  # a site's own templates folder, checked as that site's messages render

    @property
    def failed(self) -> bool:
        return bool(self.error or self.problems)

    @property
    def label(self) -> str:
        """The language, after the site whose folder was checked ("south/es")."""
        return f"{self.site}/{self.language}" if self.site else self.language

    def as_dict(self) -> dict[str, Any]:
        shown = {"language": self.language, "template": self.template, "channel": self.channel,
                 "segments": self.segments, "encoding": self.encoding, "units": self.units, "warnings": self.warnings,
                 "error": self.error, "answer_link": self.answer_link, "sample": self.sample,
                 "problems": self.problems}
        return {"site": self.site, **shown} if self.site else shown


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


def _size_problem(segments: int, encoding: str, units: int) -> str:
    limit = 160 if encoding == "GSM-7" else 70
    return f"{segments} SMS segments ({encoding}, {units} characters; one segment holds {limit})"


def _patient_cases(settings: Settings, language: str, names: set[str]
                   ) -> list[tuple[str, str, list[tuple[Draft, str]]]]:
    """(template label, channel, [(draft, sample description)]) for every patient template:
    SMS and WhatsApp against every worst-case sample, email against the first."""
    longest = settings.reminders.notices.longest_reason()
    samples = worst_visits(settings, language)
    cases = []
    for kind in PATIENT_KINDS:
        for channel in ("sms", "whatsapp", "email"):
            if f"{kind}.{channel}.txt" not in names:
                continue
            chosen = samples if channel != "email" else samples[:1]
            for index, (suffix, _) in enumerate(with_modes(samples[0])):
                drafts = []
                for sample in chosen:
                    shown = with_modes(sample)[index][1]
                    if kind == "cancelled" and longest:  # the SMS as long as a listed reason can make it
                        shown = replace(shown, cancel_reason=longest)
                    drafts.append((Draft(f"a1:patient:{kind}:v2", kind, "patient", language, visit=shown,
                                         reminder_id=SAMPLE_REMINDER_ID), describe(shown, language)))
                cases.append((kind + suffix, channel, drafts))
    return cases


def _doctor_cases(language: str, names: set[str], visit: Visit) -> list[tuple[str, str, list[tuple[Draft, str]]]]:
    """The doctors' and front desk's emails, against the plain sample."""
    cases = []
    day = visit.start.replace(hour=0, minute=0)
    if "agenda.email.txt" in names:
        cases.append(("agenda", "email", [(Draft("agenda:demo:D1:2026-03-09", "agenda", "practitioner", language,
                                                 agenda_day=day, agenda=[visit, visit], doctor=visit.doctor,
                                                 stats=DayStats(2, 1, 1, 0, 1, 1, 0, 1)), "")]))
    if "change.email.txt" in names:
        cases += [(f"change/{kind}", "email",
                   [(Draft(f"a1:practitioner:{kind}:v2", kind, "practitioner", language, visit=visit), "")])
                  for kind in DOCTOR_CHANGE_KINDS]
        cases.append(("change/declined-by-desk", "email",  # the desk's cancel, with its reason
                      [(Draft("a1:practitioner:declined:v2", "declined", "practitioner", language, visit=visit,
                              note=desk_note("the patient is ill")), "")]))
        cases += [(f"change/on-again-{why}", "email",  # a decline the doctor heard of, then on again
                   [(Draft("a1:practitioner:confirmation:v2", "confirmation", "practitioner", language, visit=visit,
                           note=note), "")]) for why, note in ON_AGAIN_NOTES.items()]
    if "doctor_declined.email.txt" in names:
        cases.append(("doctor_declined", "email", [(Draft("a1:frontdesk:doctor_declined:v2", "doctor_declined",
                                                          "frontdesk", language, visit=visit), "")]))
    return cases


def undefined_problems(variables: set[str]) -> list[str]:
    """A variable a template uses and nobody sets: when sent, the renderer is strict, so each
    message from the template fails to render (it goes on another channel, or is set aside).
    A problem, not a warning: a placeholder typo said "warning" and exit 0 while every send failed."""
    return [f"undefined variable {variable!r}: each message from this template fails to render"
            for variable in sorted(variables)]


def _check_case(composer: Composer, language: str, label: str, channel: str,
                drafts: list[tuple[Draft, str]], found: list[str]) -> CheckResult | None:
    """Render one template against its samples; the result describes the worst one (None:
    the template fell back to another language, checked there)."""
    result = CheckResult(language, label, channel)
    worst: tuple[int, int] = (-1, -1)
    variables: set[str] = set()
    for draft, described in drafts:
        found.clear()
        stamp = draft.visit.start if draft.visit is not None else draft.agenda_day
        assert stamp is not None
        try:
            rendered = composer.render(draft, channel, stamp)
        except TemplateProblem as exc:
            result.error = str(exc)
            return result
        if rendered.language != language:
            return None
        variables.update(found)
        link = composer.short_link(draft, channel)
        lost = link is not None and link not in rendered.text
        if link is not None:
            result.answer_link = bool(result.answer_link is not False and not lost)
        if rendered.segments is not None and (rendered.segments, rendered.units or 0) > worst:
            worst = (rendered.segments, rendered.units or 0)
            result.segments, result.encoding, result.units = rendered.segments, rendered.encoding, rendered.units
            result.sample = described or None
        if channel == "sms" and lost and not any("answer link" in p for p in result.problems):
            result.problems.append(f"answer link left out (no room in {MAX_SEGMENTS} segment) on {described}")
    if channel == "sms" and result.segments and result.segments > MAX_SEGMENTS:
        assert result.encoding is not None and result.units is not None
        result.problems.insert(0, f"{_size_problem(result.segments, result.encoding, result.units)} "
                                  f"on {result.sample}")
    result.problems += undefined_problems(variables)
    return result


def sample_hold(settings: Settings, start: datetime) -> tuple[datetime | None, datetime]:
    """(hold's end, send) of a worst-case offer for ``start``: as the clinic's strategy has it (a
    hold in ``sequential``, none in ``batch``), ending a day before the visit at its costly clock
    and sent on another day (the hold's day shown: its weekday for a hold under six days, its
    short date for a longer ``waitlist.hold``)."""
    held = start - timedelta(days=1)
    sent = held - max(settings.waitlist.hold_for(), timedelta(days=1))
    return (held if settings.waitlist.strategy == "sequential" else None), sent


def _waitlist_cases(settings: Settings, renderer: Renderer, language: str, names: set[str],
                    found: list[str]) -> list[CheckResult]:
    """The waitlist's offer and "just been taken" messages (sync/waitlist/compose.py) against the
    same worst-case samples, in every visit mode, with an offer link as long as a real one."""
    server = settings.server
    base = str(server.public_url).rstrip("/") if server and server.public_url else "https://clinic.example.org"
    results = []
    for kind in WAITLIST_KINDS:
        for channel in ("sms", "whatsapp", "email"):
            if f"{kind}.{channel}.txt" not in names:
                continue
            samples = worst_visits(settings, language)
            result, worst, variables = CheckResult(language, kind, channel), (-1, -1), set()
            for visit in samples if channel != "email" else samples[:1]:
                hold_until, sent = sample_hold(settings, visit.start)
                for mode in ("in_person", "video", "phone"):
                    draft = OfferDraft(kind, language, visit.start, visit.end, visit.timezone, visit.patient_name,
                                       visit.doctor, visit.type, visit.location, mode,
                                       f"{base}/w/{'x' * 14}" if kind == "waitlist_offer" else None,
                                       hold_until, sent)
                    found.clear()
                    try:
                        rendered = render_offer(renderer, draft, channel, settings)
                    except TemplateProblem as exc:
                        result.error = str(exc)
                        break
                    variables.update(found)
                    if rendered.segments is not None and (rendered.segments, rendered.units or 0) > worst:
                        worst = (rendered.segments, rendered.units or 0)
                        result.segments, result.encoding, result.units = (rendered.segments, rendered.encoding,
                                                                           rendered.units)
                        result.sample = f"{describe(visit, language)}, {mode}" + (
                            f", held {settings.waitlist.hold}" if hold_until and kind == "waitlist_offer" else "")
            if channel == "sms" and result.segments and result.segments > MAX_SEGMENTS:
                assert result.encoding is not None and result.units is not None
                result.problems.append(f"{_size_problem(result.segments, result.encoding, result.units)} "
                                       f"on {result.sample}")
            result.problems += undefined_problems(variables)
            results.append(result)
    return results


def check_templates(settings: Settings, extra: Any = None) -> list[CheckResult]:
    found: list[str] = []
    renderer = Renderer(extra, undefined=_recording(found), sms_accents=settings.reminders.sms_accents)
    composer = composer_for(settings, renderer)
    composer.links = None  # emails' long links do not count; SMS carry their short link, as sent
    visit = sample_visit(settings.clinic.timezone)
    results = []
    for language in renderer.languages():
        names = set(renderer.template_names(language))
        for label, channel, drafts in _patient_cases(settings, language, names) + _doctor_cases(language, names,
                                                                                               visit):
            result = _check_case(composer, language, label, channel, drafts, found)
            if result is not None:
                results.append(result)
        results += _waitlist_cases(settings, renderer, language, names, found)
    return results


def check_site_templates(settings: Settings) -> list[CheckResult]:
    """Each site's own `templates` folder (over `reminders.templates` over the shipped ones),
    rendered as that site's messages are: its name, phone, places and zone (clinic_for). A
    site whose sources are not configured yet sends nothing, and is left out."""
    results: list[CheckResult] = []
    for key, site in settings.sites.items():
        sources = settings.connectors_of(key)
        if not site.templates or not sources:
            continue
        # The settings as this site's messages see them: its clinic, and no sites left to resolve.
        view = settings.model_copy(update={"clinic": settings.clinic_for(sources[0]), "sites": {}})
        results += [replace(r, site=key) for r in check_templates(view, settings.template_folders_for(sources[0]))]
    return results


def problem_lines(results: Iterable[CheckResult]) -> list[str]:
    """One line per problem and warning, "es/reminder.sms: …" ("south/es/…" for a site's), for people."""
    lines = []
    for r in results:
        for problem in ([r.error] if r.error else []) + r.problems + r.warnings:
            lines.append(f"{r.label}/{r.template}.{r.channel}: {problem}")
    return lines


@dataclass(frozen=True)
class UncoveredLanguage:
    """A language patients (or the clinic) use that no template set covers: they get English."""

    language: str
    patients: int  # how many patients have it (0: the clinic's own language)

    def message(self) -> str:
        who = f"{self.patients} patient(s)" if self.patients else "the clinic's language (clinic.language)"
        return (f"no templates for language {self.language!r} ({who}): these messages go in {FALLBACK!r}; "
                f"add templates/{self.language.split('-')[0].lower()}/ (see docs/reminders.md, Languages)")


def patient_languages(store: Store) -> dict[str, int]:
    """Each language the store's patients have (as stored), with how many have it."""
    with store.engine.connect() as connection:
        rows = connection.execute(select(PATIENTS.c.language, func.count()).where(
            PATIENTS.c.language.is_not(None)).group_by(PATIENTS.c.language)).all()
    return {str(language): int(count) for language, count in rows if str(language).strip()}


def uncovered_languages(settings: Settings, patients: dict[str, int], extra: Any = None) -> list[UncoveredLanguage]:
    """The languages in ``patients`` (language -> patients) and the clinic's own that have no
    template set, neither for the tag (es-MX) nor its language (es): reported, not silently
    English. For `templates check` and `check`."""
    own = [settings.base_dir / site.templates for site in settings.sites.values() if site.templates]
    covered = {language.lower() for language in Renderer([*([extra] if extra else []), *own]).languages()}
    wanted = dict(patients)
    for language in [settings.clinic.language, *(site.language for site in settings.sites.values())]:
        if language:  # the clinic's, and each site's own: its patients without one get it
            wanted.setdefault(language, 0)
    found: dict[str, int] = {}
    for tag, count in wanted.items():
        shown = tag.replace("_", "-").strip()
        if not shown or shown.lower() in covered or shown.split("-")[0].lower() in covered:
            continue
        found[shown] = found.get(shown, 0) + count
    return [UncoveredLanguage(language, count) for language, count in sorted(found.items())]
