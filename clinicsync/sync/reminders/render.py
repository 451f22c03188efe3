"""Messages from templates: Jinja2 in a sandbox (autoescape for HTML), one set per
kind x channel x language under templates/<language>/, English as the fallback.
Dates and times are formatted for the message's locale with babel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateNotFound, Undefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from clinicsync.notifiers.base import Attachment
from clinicsync.sync.reminders.segments import gsm_plain, sms_size

TEMPLATES = Path(__file__).parent / "templates"
FALLBACK = "en"
# Typography babel and editors produce that would force an SMS into UCS-2 (70 characters a part).
_SMS_PLAIN = str.maketrans({"\u202f": " ", "\u00a0": " ", "\u2009": " ", "\u2018": "'", "\u2019": "'",
                            "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u2026": "..."})


class TemplateProblem(Exception):
    """A template is missing or does not render (a permanent failure of that message)."""


@dataclass(frozen=True)
class Rendered:
    language: str
    text: str
    subject: str | None = None
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    segments: int | None = None
    encoding: str | None = None
    units: int | None = None  # SMS: GSM-7 septets or UCS-2 code units


def template_files(name: str, channel: str) -> dict[str, str]:
    """The files one message is made of, by part."""
    if channel == "email":
        return {"subject": f"{name}.email.subject.txt", "text": f"{name}.email.txt", "html": f"{name}.email.html"}
    return {"text": f"{name}.{channel}.txt"}


def sms_plain(text: str) -> str:
    return text.translate(_SMS_PLAIN)


def locale_for(language: str, template_language: str) -> Locale:
    """The patient's locale when it is a variant of the template's language (es-MX), else the template's."""
    try:
        wanted = Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        wanted = None
    if wanted is not None and wanted.language == template_language.split("_")[0]:
        return wanted
    return Locale.parse(template_language)


def format_day(moment: datetime, locale: Locale) -> str:
    return format_date(moment.date(), "full", locale=locale)


def format_clock(moment: datetime, locale: Locale) -> str:
    return format_time(moment.replace(tzinfo=None), "short", locale=locale)


class Renderer:
    def __init__(self, extra: Path | Sequence[Path] | None = None, undefined: type[Undefined] = StrictUndefined,
                 sms_accents: str = "plain") -> None:
        """``extra``: folders over the shipped templates, the first winning (a site's, then
        ``reminders.templates``: Settings.template_folders_for). ``sms_accents``: ``plain`` drops
        accents an SMS's GSM-7 alphabet lacks (when that keeps the whole SMS in GSM-7, see
        ``gsm_plain``), ``keep`` sends them (UCS-2, 70 a segment)."""
        folders = ([extra] if isinstance(extra, Path) else list(extra or [])) + [TEMPLATES]
        self.folders = folders
        self.sms_accents = sms_accents
        self.env = SandboxedEnvironment(
            loader=ChoiceLoader([FileSystemLoader(str(f)) for f in folders]),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=undefined, trim_blocks=True, lstrip_blocks=True)

    def languages(self) -> list[str]:
        found = {p.name for folder in self.folders if folder.is_dir() for p in folder.iterdir()
                 if p.is_dir() and not p.name.startswith(("_", "."))}
        return sorted(found)

    def template_names(self, language: str) -> list[str]:
        """Every template file of one language (relative names)."""
        names: set[str] = set()
        for folder in self.folders:
            if (folder / language).is_dir():
                names.update(p.name for p in (folder / language).iterdir() if p.is_file())
        return sorted(names)

    def language_for(self, requested: str | None, name: str, channel: str) -> str:
        """The first language with this template: the patient's (es-MX, then es), else English."""
        candidates = []
        if requested:
            tag = requested.replace("_", "-")
            candidates += [tag, tag.split("-")[0].lower()]
        candidates.append(FALLBACK)
        first = template_files(name, channel)["text"]
        for language in candidates:
            try:
                self.env.get_template(f"{language}/{first}")
                return language
            except TemplateNotFound:
                continue
        raise TemplateProblem(f"no template {first} in any language")

    def _render(self, path: str, variables: dict[str, Any]) -> str:
        try:
            return self.env.get_template(path).render(variables).strip()
        except TemplateNotFound:
            raise TemplateProblem(f"template {path} is missing") from None
        except Exception as exc:  # undefined variable, sandbox violation, syntax error
            raise TemplateProblem(f"template {path}: {exc}") from None

    def render(self, name: str, channel: str, requested_language: str | None,
               variables: Callable[[Locale], dict[str, Any]],
               attachments: tuple[Attachment, ...] = ()) -> Rendered:
        """Render template ``name`` for ``channel``; ``variables`` builds the values for the chosen locale."""
        source_channel = channel
        if channel == "whatsapp":
            try:
                self.language_for(requested_language, name, "whatsapp")
            except TemplateProblem:
                source_channel = "sms"  # WhatsApp reuses the SMS text unless it has its own
        language = self.language_for(requested_language, name, source_channel)
        locale = locale_for(requested_language or language, language)
        values = variables(locale)
        for snippet in ("reply", "opt_out"):  # shared lines each message template places itself
            try:
                values[snippet] = self._render(f"{language}/{snippet}.txt", values)
            except TemplateProblem:
                values[snippet] = ""
        parts = {part: self._render(f"{language}/{file}", values)
                 for part, file in template_files(name, source_channel).items()}
        if channel != "email":
            text = sms_plain(parts["text"])
            if channel == "sms" and self.sms_accents == "plain":  # WhatsApp has no segments: accents stay
                text = gsm_plain(text)
            size = sms_size(text)
            return Rendered(language, text, segments=size.segments, encoding=size.encoding, units=size.units)
        return Rendered(language, parts["text"], subject=" ".join(parts["subject"].split()), html=parts["html"],
                        attachments=attachments if channel == "email" else ())
