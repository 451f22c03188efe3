"""What an offer says: the values of the `waitlist_offer` and `waitlist_taken` templates
(sync/reminders/templates/LANG/), rendered by the reminders' renderer, so a clinic's own
template folder, its languages and `clinicsync templates check` cover them as any message.

The slot is shown in its own zone (labelled), with its doctor and its place or mode; never
anything of the patient who freed it (no join link, no dial-in of theirs). The hold's end is
shown in the same zone with its own label (``hold_timezone``: a slot past a daylight-saving
change has another than the hold), and with its day when that is not the day it is sent
(``hold_day``, the short date; ``hold_weekday``, what the SMS shows: the weekday alone when
the hold ends within six days of its send, which keeps the offer in one SMS segment)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from babel import Locale
from babel.dates import format_skeleton

from clinicsync.common.timeutil import zone
from clinicsync.sync.config.clinic import ClinicSettings
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.compose import first_name, short_day
from clinicsync.sync.reminders.render import Rendered, Renderer, format_clock, format_day

KINDS = ("waitlist_offer", "waitlist_taken")
WEEKDAY_ONLY = timedelta(days=6)  # a hold ending within this of its send is told by its weekday alone in an SMS


@dataclass(frozen=True)
class OfferDraft:
    """One offer message, whatever the channel."""

    kind: str  # waitlist_offer | waitlist_taken
    language: str | None
    start: datetime
    end: datetime
    timezone: str
    patient_name: str | None = None
    doctor: str | None = None
    visit_type: str | None = None
    location: str | None = None
    visit_mode: str | None = None
    offer_url: str | None = None  # the one-tap link (offers only)
    hold_until: datetime | None = None  # sequential: until when it is held for this patient
    sent: datetime | None = None  # when it goes out: the hold's day is shown when it ends on another


def variables(draft: OfferDraft, clinic: ClinicSettings, clinic_phone: str | None,
              channel: str) -> Any:
    """The template values for the locale the renderer picks."""

    def build(locale: Locale) -> dict[str, Any]:
        local = draft.start.astimezone(zone(draft.timezone))
        mode = draft.visit_mode or "in_person"
        remote = mode != "in_person"
        place = None if remote else clinic.place(None, draft.location)
        held = draft.hold_until.astimezone(zone(draft.timezone)) if draft.hold_until else None
        other_day = held is not None and draft.sent is not None and \
            draft.sent.astimezone(held.tzinfo).date() != held.date()
        return {
            "lang": locale.language, "clinic": clinic.name, "clinic_phone": clinic_phone,
            "clinic_address": clinic.address, "kind": draft.kind, "channel": channel, "replies": False,
            "answer_url": None, "confirm_url": None, "decline_url": None, "reschedule_url": None,
            "first_name": first_name(draft.patient_name), "doctor": draft.doctor,
            "type": clinic.visit_type_in(draft.visit_type, str(locale)), "visit_mode": mode,
            "location": None if remote else draft.location, "join_url": None, "dial_in": None,
            "patient_phone": None, "date": format_day(local, locale), "short_date": short_day(local, locale),
            "time": format_clock(local, locale), "timezone": local.tzname(),
            "address": place.address if place else None, "map_url": place.map_link() if place else None,
            "instructions": place.instructions_in(str(locale)) if place else None,
            "offer_url": draft.offer_url, "hold_until": format_clock(held, locale) if held else None,
            "hold_day": short_day(held, locale) if held and other_day else None,
            "hold_timezone": held.tzname() if held else None,
            "hold_weekday": hold_weekday(held, draft.sent, locale) if held and other_day else None}

    return build


def hold_weekday(held: datetime, sent: datetime | None, locale: Locale) -> str:
    """The hold's day as an SMS can afford it: "Sun" / "dom" when it ends within six days of
    its send (no other day of that name is near), else the short date ("Sun, Nov 8")."""
    if sent is not None and held - sent < WEEKDAY_ONLY:
        return format_skeleton("EEE", held, locale=locale)
    return short_day(held, locale)


def render(renderer: Renderer, draft: OfferDraft, channel: str, clinic: ClinicSettings,
           clinic_phone: str | None) -> Rendered:
    return renderer.render(draft.kind, channel, draft.language, variables(draft, clinic, clinic_phone, channel))


def clinic_phone(settings: Settings, connector: str | None = None) -> str | None:
    """The phone of ``connector``'s site (the clinic's) as messages show it (`clinic.phone`,
    else `reminders.clinic_phone`)."""
    shown = settings.clinic_for(connector).phone_display()
    return shown[0] if shown else settings.reminders.clinic_phone


def render_offer(renderer: Renderer, draft: OfferDraft, channel: str, settings: Settings,
                 connector: str | None = None) -> Rendered:
    """``render`` in the name of the slot's site (``connector``'s; the clinic without `sites:`)."""
    return render(renderer, draft, channel, settings.clinic_for(connector), clinic_phone(settings, connector))
