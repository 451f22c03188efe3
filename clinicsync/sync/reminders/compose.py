"""What a reminder says: the values its template sees (from the store's current rows,
read at send time) and the .ics it carries. No I/O beyond the renderer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton

from clinicsync.common.timeutil import zone
from clinicsync.common.vocabulary import NAME_TITLES
from clinicsync.notifiers.base import Attachment
from clinicsync.sync.config.clinic import ClinicSettings
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.reminders import RemindersSettings
from clinicsync.sync.reminders.agenda_stats import DayStats
from clinicsync.sync.reminders.doctor_values import agenda_values, decline_values, notice_values, on_again_values
from clinicsync.sync.reminders.guard import check_source_values
from clinicsync.sync.reminders.ics import calendar_links, event_uid, ics_attachment
from clinicsync.sync.reminders.links import link_maker, short_link_maker
from clinicsync.sync.reminders.render import FALLBACK, Rendered, Renderer, format_clock, format_day, locale_for
from clinicsync.sync.reminders.visit import Visit

# A doctor's notices of a change to a visit (change.email.*): booked, moved, cancelled, declined
# by the patient, and, when given to another doctor, moved off one schedule and onto another.
DOCTOR_CHANGE_KINDS = ("confirmation", "rescheduled", "cancelled", "declined", "reassigned", "assigned")
ICS_KINDS = frozenset({"confirmation", "rescheduled", "cancelled", "confirmed"})  # emails with an invite


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
    reminder_id: int | None = None  # its row: an SMS's short answer link names it
    stats: DayStats | None = None  # an agenda's figures
    note: str | None = None  # the reminder row's note: a doctor's decline notice says who declined


SMS_LINK_SEGMENTS = 1  # an SMS carries its short answer link only while it stays within this many segments


def first_name(name: str | None) -> str | None:
    """The name a message greets the patient by, from a name as sources keep it: 'Ada Lund',
    'Lund, Ada' (a register's family-first display), 'LUND^ADA' (HL7's family^given), 'Mrs Ada
    Lund', 'ADA LUND', 'ada lund'. A title is passed over and a word in capitals or in lower case
    written as a name is ('Ada', not 'Lund,', 'Mrs', 'ADA' or 'ada'); a name it cannot read is
    given as it is."""
    if not name or not name.strip():
        return None
    given = name
    if "^" in name:
        family, _, rest = name.partition("^")
        given = rest.split("^")[0] or family
    elif "," in name:
        family, _, rest = name.partition(",")
        given = rest if rest.strip() else family
    words = [w for w in given.split() if w.strip(".").casefold() not in NAME_TITLES] or given.split() or [name.strip()]
    word = words[0].strip(",")
    if word.isupper() and len(word) > 2:
        return word.title()
    return word[:1].upper() + word[1:] if word.islower() else word


def source_values(draft: Draft) -> list[tuple[str, str | None]]:
    """The values a message shows that come from a source (not from our settings), by field."""
    visits = draft.agenda if draft.kind == "agenda" else [draft.visit] if draft.visit is not None else []
    values: list[tuple[str, str | None]] = [("doctor", draft.doctor)]
    for visit in visits:
        values += [("patient name", visit.patient_name), ("doctor", visit.doctor), ("location", visit.location),
                   ("type", visit.type)]
    return values


def shown_number(number: str | None, region: str) -> str | None:
    """An E.164 number as people read it: national within the clinic's region, else
    international; as stored when it does not parse."""
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return number
    same = phonenumbers.region_code_for_number(parsed) == region.upper()
    style = phonenumbers.PhoneNumberFormat.NATIONAL if same else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return str(phonenumbers.format_number(parsed, style))


def template_name(draft: Draft) -> str:
    if draft.recipient == "practitioner" and draft.kind != "agenda":
        return "change"
    return draft.kind


def short_day(moment: datetime, locale: Locale) -> str:
    """"Mon, Nov 23" / "lun, 23 nov": the date an SMS can afford."""
    return format_skeleton("MMMEd", moment, locale=locale)


class Composer:
    """Builds each message's template values. ``replies`` says whether a patient's reply reaches
    us (the server is set up for webhooks): only then does an SMS ask for one."""

    def __init__(self, config: RemindersSettings, clinic: str | ClinicSettings, renderer: Renderer,
                 links: Callable[[str], dict[str, str]] | None = None, *, replies: bool = False,
                 short_links: Callable[[int, str], str] | None = None,
                 systems: Callable[[str], str | None] | None = None) -> None:
        self.config = config
        # a source as a doctor reads it (its `label:`, calendar.systems): "still booked in
        # Practice Manager", never the connector's key; unlabelled: "the clinic's system"
        self.systems = systems
        self.clinic_settings = clinic if isinstance(clinic, ClinicSettings) else ClinicSettings(name=clinic)
        self.clinic = self.clinic_settings.name
        self.renderer = renderer
        self.links = links  # reminder key -> signed answer links (sync/reminders/links.py), for emails
        self.replies = replies
        self.short_links = short_links  # (reminder id, key) -> short signed answer link, for SMS

    def _phone(self) -> str | None:
        shown = self.clinic_settings.phone_display()
        return shown[0] if shown else self.config.clinic_phone

    def short_link(self, draft: Draft, channel: str | None) -> str | None:
        """The SMS's short answer link (/a/…): to a patient, for a visit they can still answer."""
        if (self.short_links is None or channel != "sms" or draft.recipient != "patient"
                or draft.reminder_id is None or draft.kind not in ("confirmation", "reminder", "rescheduled")):
            return None
        return self.short_links(draft.reminder_id, draft.key)

    def _base(self, draft: Draft, locale: Locale, channel: str | None = None,
              answer_url: str | None = None) -> dict[str, Any]:
        links: dict[str, str | None] = {
            name: (url.replace("{key}", draft.key) if url else None)
            for name, url in (("confirm_url", self.config.confirm_url), ("decline_url", self.config.decline_url))}
        links["reschedule_url"] = None
        if self.links is not None and channel == "email" and draft.recipient == "patient":
            links.update(self.links(draft.key))
        return {"lang": locale.language, "clinic": self.clinic, "clinic_phone": self._phone(),
                "clinic_address": self.clinic_settings.address, "kind": draft.kind, "channel": channel or "",
                "replies": self.replies and draft.recipient == "patient", "answer_url": answer_url, **links}

    def variables(self, draft: Draft, channel: str | None = None,
                  answer_url: str | None = None) -> Callable[[Locale], dict[str, Any]]:
        def build(locale: Locale) -> dict[str, Any]:
            values = self._base(draft, locale, channel, answer_url)
            if draft.kind == "agenda":
                day = draft.agenda_day
                assert day is not None
                region = self.clinic_settings.default_region
                values.update(agenda_values(day, draft.agenda, str(locale), self.clinic_settings.timezone,
                                            lambda number: shown_number(number, region)),
                              doctor=draft.doctor, stats=draft.stats.as_dict() if draft.stats is not None else None)
                for row, agenda_visit in zip(values["appointments"], draft.agenda, strict=True):
                    row["system"] = self._system(agenda_visit.connector)
                return values
            visit = draft.visit
            assert visit is not None
            local = visit.start.astimezone(zone(visit.timezone))
            remote = visit.mode != "in_person"
            # A video or phone visit has no place to go to: the link (or the call) stands in
            # for the address, the map and the directions.
            place = None if remote else self.clinic_settings.place(None, visit.location)
            region = self.clinic_settings.default_region
            values.update(first_name=first_name(visit.patient_name), patient=visit.patient_name,
                          doctor=visit.doctor, location=None if remote else visit.location,
                          type=self.clinic_settings.visit_type_in(visit.type, str(locale)),
                          visit_mode=visit.mode, join_url=visit.join_url if visit.mode == "video" else None,
                          dial_in=shown_number(visit.dial_in, region),
                          patient_phone=shown_number(visit.patient_phone, region),
                          date=format_day(local, locale), short_date=short_day(local, locale),
                          time=format_clock(local, locale), timezone=local.tzname(), change=draft.kind,
                          address=place.address if place else None, map_url=place.map_link() if place else None,
                          instructions=place.instructions_in(str(locale)) if place else None,
                          calendar_links=self._calendar_links(draft, visit, channel))
            values.update(self._status_values(draft, visit, locale))
            if draft.recipient in ("practitioner", "frontdesk"):  # staff: the visit's own date and zone
                values.update(notice_values(visit, str(locale), self.clinic_settings.timezone))
                values.update(decline_values(draft.note if draft.kind == "declined" else None, str(locale)))
                values.update(on_again_values(draft.note if draft.kind == "confirmation" else None))
                values["system"] = self._system(visit.connector)
            return values
        return build

    def _system(self, connector: str) -> str | None:
        return self.systems(connector) if self.systems is not None else None

    def _status_values(self, draft: Draft, visit: Visit, locale: Locale) -> dict[str, Any]:
        """What the status notices add: a cancellation's reason (only one the clinic lists as
        fit to show), and a follow-up's link and sentence (for the patient's language)."""
        notices = self.config.notices
        if draft.kind == "cancelled":
            return {"reason": notices.shown_reason(visit.cancel_reason, str(locale))}
        if draft.kind == "followup":
            message = notices.followup.message
            tag = str(locale).replace("_", "-").lower()
            return {"followup_url": notices.followup.url,
                    "followup_message": message.get(tag) or message.get(locale.language)}
        return {}

    def attachments(self, draft: Draft, stamp: datetime, recipient: str | None = None) -> tuple[Attachment, ...]:
        visit = draft.visit
        if draft.recipient != "patient" or visit is None or draft.kind not in ICS_KINDS:
            return ()
        link = visit.join_url if visit.mode == "video" else None
        return (ics_attachment(
            uid=event_uid(visit.connector, visit.external_id), sequence=visit.version, start=visit.start,
            end=visit.end, summary=self._event_summary(draft, visit), location=self._event_location(visit), url=link,
            cancelled=draft.kind == "cancelled", stamp=stamp),)

    def _event_summary(self, draft: Draft, visit: Visit) -> str:
        return f"{self._summary_type(draft, visit)} · {self.clinic}"

    def _event_location(self, visit: Visit) -> str | None:
        """Where a calendar app shows "where": the place and its address, the link to join, or the number to call."""
        if visit.mode == "in_person":
            return ", ".join(p for p in (visit.location, self._address(visit)) if p) or None
        link = visit.join_url if visit.mode == "video" else None
        return link or (f"tel:{visit.dial_in}" if visit.dial_in else None)

    def _calendar_links(self, draft: Draft, visit: Visit, channel: str | None) -> dict[str, str] | None:
        """A new booking's email: Google and Outlook links beside its .ics (ics.calendar_links)."""
        if channel != "email" or draft.recipient != "patient" or draft.kind != "confirmation":
            return None
        return calendar_links(start=visit.start, end=visit.end, summary=self._event_summary(draft, visit),
                              location=self._event_location(visit))

    def _summary_type(self, draft: Draft, visit: Visit) -> str:
        """The calendar entry's title word, in the patient's language when the clinic named the type there."""
        language = (draft.language or FALLBACK).replace("_", "-")
        try:
            locale = locale_for(language, language.split("-")[0].lower())
        except (ValueError, UnknownLocaleError):  # a tag babel does not know: the type as stored
            locale = Locale.parse(FALLBACK)
        return self.clinic_settings.visit_type_in(visit.type, str(locale)) or "Appointment"

    def _address(self, visit: Visit) -> str | None:
        place = self.clinic_settings.place(None, visit.location)
        return place.address if place else None

    def render(self, draft: Draft, channel: str, stamp: datetime, recipient: str | None = None) -> Rendered:
        """The message for ``channel``; ``recipient`` (the patient's address) goes into the invite."""
        attachments = self.attachments(draft, stamp, recipient) if channel == "email" else ()
        check_source_values(source_values(draft))
        link = self.short_link(draft, channel)
        rendered = self.renderer.render(template_name(draft), channel, draft.language,
                                        self.variables(draft, channel, link), attachments)
        if link is not None and (rendered.segments or 0) > SMS_LINK_SEGMENTS:
            # No room for the link: the message as it reads without it (a reply, when one can arrive).
            rendered = self.renderer.render(template_name(draft), channel, draft.language,
                                            self.variables(draft, channel), attachments)
        return rendered

    def whatsapp_content(self, draft: Draft, rendered_language: str) -> tuple[str | None, dict[str, str]]:
        """An approved Content template for business-initiated WhatsApp messages, with its variables."""
        sid = self.config.whatsapp_content.get(draft.kind)
        if sid is None or draft.visit is None:
            return None, {}
        values = self.variables(draft)(Locale.parse(rendered_language))
        ordered = [values.get("first_name"), values.get("date"), values.get("time"), values.get("doctor"),
                   values.get("location")]
        return sid, {str(i + 1): v or "" for i, v in enumerate(ordered)}


def with_reschedule(links: Callable[[str], dict[str, str]]) -> Callable[[str], dict[str, str]]:
    """An email's three choices: confirm, cancel, and ask for another time, the last being the
    answer page opened at its "another time" step (the confirm link's page: a bare POST there
    confirms, never cancels)."""
    def all_links(key: str) -> dict[str, str]:
        made = dict(links(key))
        if made.get("confirm_url"):
            made["reschedule_url"] = f"{made['confirm_url']}?step=reschedule"
        return made
    return all_links


def composer_for(settings: Settings, renderer: Renderer | None = None, connector: str | None = None) -> Composer:
    """The composer a dispatcher uses for ``connector``'s visits: its site's name, phone,
    places and templates (Settings.clinic_for, template_folders_for; the clinic's without
    `sites:`), signed answer links (long in emails, short in SMS) when the server can serve
    them, replies asked for only when the server can receive them (emails: confirm, cancel and
    ask for another time)."""
    config = settings.reminders
    server = settings.server
    links = link_maker(settings)
    if links is not None and "reschedule" in settings.responses.choices:
        links = with_reschedule(links)
    renderer = renderer or Renderer(settings.template_folders_for(connector), sms_accents=config.sms_accents)
    return Composer(config, settings.clinic_for(connector), renderer, links,
                    replies=bool(server and server.public_url and settings.responses.enabled),
                    short_links=short_link_maker(settings), systems=settings.calendar.systems.get)


class SiteComposers:
    """One composer per site, made when a site's first message is (a run of a group sends for
    many sources, few sites; without `sites:` there is one, the clinic's)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._made: dict[str | None, Composer] = {}
        self._lock = threading.Lock()  # the dispatcher's send pools compose in several threads

    def __call__(self, connector: str | None) -> Composer:
        site = self.settings.site_of(connector)
        with self._lock:
            composer = self._made.get(site)
            if composer is None:
                composer = self._made[site] = composer_for(self.settings, connector=connector)
        return composer
