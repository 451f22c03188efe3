"""What a reminder says: the values its template sees (from the store's current rows,
read at send time) and the .ics it carries. No I/O beyond the renderer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from babel import Locale

from mappings.timeutil import zone
from notifiers.base import Attachment
from sync.reminders.guard import check_source_values
from sync.reminders.ics import event_uid, ics_attachment
from sync.reminders.render import Rendered, Renderer, format_clock, format_day
from sync.reminders.settings import RemindersSettings


@dataclass(frozen=True)
class Visit:
    """One appointment as a message shows it."""

    connector: str
    external_id: str
    start: datetime
    end: datetime
    timezone: str
    version: int
    type: str | None = None
    location: str | None = None
    doctor: str | None = None
    patient_name: str | None = None
    status: str = "booked"


@dataclass(frozen=True)
class Draft:
    """Everything needed to render one reminder, whatever the channel."""

    key: str
    kind: str  # confirmation | reminder | rescheduled | cancelled | agenda
    recipient: str  # patient | practitioner
    language: str | None
    visit: Visit | None = None
    agenda_day: datetime | None = None  # local midnight of the agenda's day
    agenda: list[Visit] = field(default_factory=list)
    doctor: str | None = None


def first_name(name: str | None) -> str | None:
    return name.split()[0] if name and name.strip() else None


def source_values(draft: Draft) -> list[tuple[str, str | None]]:
    """The values a message shows that come from a source (not from our settings), by field."""
    visits = draft.agenda if draft.kind == "agenda" else [draft.visit] if draft.visit is not None else []
    values: list[tuple[str, str | None]] = [("doctor", draft.doctor)]
    for visit in visits:
        values += [("patient name", visit.patient_name), ("doctor", visit.doctor), ("location", visit.location),
                   ("type", visit.type)]
    return values


def template_name(draft: Draft) -> str:
    if draft.recipient == "practitioner" and draft.kind != "agenda":
        return "change"
    return draft.kind


class Composer:
    def __init__(self, config: RemindersSettings, clinic: str, renderer: Renderer,
                 links: Callable[[str], dict[str, str]] | None = None) -> None:
        self.config = config
        self.clinic = clinic
        self.renderer = renderer
        self.links = links  # reminder key -> signed answer links (sync/responses/links.py), for emails

    def _base(self, draft: Draft, locale: Locale, channel: str | None = None) -> dict[str, Any]:
        links: dict[str, str | None] = {
            name: (url.replace("{key}", draft.key) if url else None)
            for name, url in (("confirm_url", self.config.confirm_url), ("decline_url", self.config.decline_url))}
        if self.links is not None and channel == "email" and draft.recipient == "patient":
            links.update(self.links(draft.key))
        return {"lang": locale.language, "clinic": self.clinic, "clinic_phone": self.config.clinic_phone,
                "kind": draft.kind, **links}

    def variables(self, draft: Draft, channel: str | None = None) -> Callable[[Locale], dict[str, Any]]:
        def build(locale: Locale) -> dict[str, Any]:
            values = self._base(draft, locale, channel)
            if draft.kind == "agenda":
                day = draft.agenda_day
                assert day is not None
                values.update(day=format_day(day, locale), doctor=draft.doctor, appointments=[
                    {"time": format_clock(v.start.astimezone(zone(v.timezone)), locale), "patient": v.patient_name,
                     "type": v.type, "location": v.location, "status": v.status} for v in draft.agenda])
                return values
            visit = draft.visit
            assert visit is not None
            local = visit.start.astimezone(zone(visit.timezone))
            values.update(first_name=first_name(visit.patient_name), patient=visit.patient_name,
                          doctor=visit.doctor, location=visit.location, type=visit.type,
                          date=format_day(local, locale), time=format_clock(local, locale),
                          timezone=local.tzname(), change=draft.kind)
            return values
        return build

    def attachments(self, draft: Draft, stamp: datetime) -> tuple[Attachment, ...]:
        visit = draft.visit
        if draft.recipient != "patient" or visit is None or draft.kind not in ("confirmation", "rescheduled",
                                                                                "cancelled"):
            return ()
        return (ics_attachment(
            uid=event_uid(visit.connector, visit.external_id), sequence=visit.version, start=visit.start,
            end=visit.end, summary=f"{visit.type or 'Appointment'} · {self.clinic}", location=visit.location,
            cancelled=draft.kind == "cancelled", stamp=stamp),)

    def render(self, draft: Draft, channel: str, stamp: datetime) -> Rendered:
        """The message for ``channel``; TemplateProblem (UnsafeSourceText among them) when it cannot be sent."""
        check_source_values(source_values(draft))
        attachments = self.attachments(draft, stamp) if channel == "email" else ()
        return self.renderer.render(template_name(draft), channel, draft.language, self.variables(draft, channel),
                                    attachments)

    def whatsapp_content(self, draft: Draft, rendered_language: str) -> tuple[str | None, dict[str, str]]:
        """An approved Content template for business-initiated WhatsApp messages, with its variables."""
        sid = self.config.whatsapp_content.get(draft.kind)
        if sid is None or draft.visit is None:
            return None, {}
        values = self.variables(draft)(Locale.parse(rendered_language))
        ordered = [values.get("first_name"), values.get("date"), values.get("time"), values.get("doctor"),
                   values.get("location")]
        return sid, {str(i + 1): v or "" for i, v in enumerate(ordered)}
