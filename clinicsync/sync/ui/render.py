"""Rendering a status page: the Jinja2 environment, the one way times are shown
(clinicsync/common/shown_time.py: the visit's own zone with its short name when it is not the
clinic's, the clinic's locale clock, one date form), and the session cookie renewed on
every page so a desk PC left alone logs out after ``ui.session_idle_minutes``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from clinicsync.common.shown_time import shown_clock, shown_date, shown_day, shown_moment
from clinicsync.common.timeutil import zone_label
from clinicsync.common.types import utcnow
from clinicsync.sync.config.clinic import ClinicSettings
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ui.auth import role_of, ui_settings
from clinicsync.sync.ui.scope import home_of, site_names
from clinicsync.sync.ui.session import Session, csrf_token, sessions

REFRESH_CHOICES = {"60": "every minute", "300": "every 5 minutes"}

_env = Environment(loader=PackageLoader("clinicsync.sync.ui", "templates"), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)


def ago(seconds: float | None) -> str:
    """'3 min ago', '2 h ago', '5 d ago' (None → 'never')."""
    if seconds is None:
        return "never"
    minutes = int(seconds // 60)
    if minutes < 1:
        return "just now"
    if minutes < 120:
        return f"{minutes} min ago"
    hours = minutes // 60
    return f"{hours} h ago" if hours < 48 else f"{hours // 24} d ago"


_env.filters["ago"] = ago
_ISO_Z = re.compile(r"\b(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)Z\b")
EN_DASH = "\N{EN DASH}"
_ISO_WEEK = re.compile(r"(\d{4})-W(\d{2})")


def _moment(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


class Times:
    """The page's time helpers, bound to the clinic's zone and locale. Each shows a moment in
    ``zone_name`` (a visit's own zone; the clinic's by default) with that zone's short name
    when it is not the clinic's; the markup carries ISO 8601 UTC for machines."""

    def __init__(self, home: str, locale: str) -> None:
        self.home, self.locale = home, locale

    def _time(self, moment: datetime, text: str) -> Markup:
        return Markup('<time datetime="{}">{}</time>').format(moment.astimezone(UTC).isoformat(), text)

    def when(self, value: datetime | str | None, zone_name: str | None = None) -> Markup:
        """'Thu, Nov 19, 2026, 9:00 AM' (+ ' CST' for a visit in another zone)."""
        moment = _moment(value)
        if moment is None:
            return Markup("")
        return self._time(moment, shown_moment(moment, zone_name or self.home, self.locale, home_zone=self.home))

    def clock(self, value: datetime | str | None, zone_name: str | None = None) -> Markup:
        """'9:00 AM' (+ ' CST'): under a day's heading."""
        moment = _moment(value)
        if moment is None:
            return Markup("")
        return self._time(moment, shown_clock(moment, zone_name or self.home, self.locale, home_zone=self.home))

    def in_text(self, text: str | None) -> str:
        """A machine sentence's UTC stamps ('since 2026-11-24T13:45:00Z', from sync/checks/stalls.py, which
        `status --json` shares) in the clinic's time, so the page keeps one labelled zone."""
        if not text:
            return ""
        return _ISO_Z.sub(lambda m: shown_moment(datetime.fromisoformat(m.group(1)).replace(tzinfo=UTC), self.home,
                                                 self.locale), text)

    def week(self, label: str) -> str:
        """An ISO week ('2026-W48') as the dates it spans, Monday to Sunday, joined by an en dash:
        'Nov 23 - 29', 'Nov 30 - Dec 6'; anything else as it is."""
        found = _ISO_WEEK.fullmatch(label)
        if not found:
            return label
        monday = date.fromisocalendar(int(found.group(1)), int(found.group(2)), 1)
        first, last = (datetime.combine(d, time(12), ZoneInfo(self.home)) for d in (monday, monday + timedelta(6)))
        start, end = shown_day(first, self.home, self.locale), shown_day(last, self.home, self.locale)
        if first.month == last.month and self.locale.lower().startswith("en"):
            return f"{start} {EN_DASH} {last.day}"
        return f"{start} {EN_DASH} {end}"

    def day(self, value: date) -> str:
        """'Thu, Nov 19, 2026': a day heading (the clinic's local day)."""
        return shown_date(datetime.combine(value, time(12), ZoneInfo(self.home)), self.home, self.locale)


def times_of(settings: Settings, home: ClinicSettings | None = None) -> Times:
    """The clinic's time helpers (its zone and locale), for code that builds a page's parts;
    ``home``: the one site a page shows (sync/ui/scope.py ``home_of``) instead."""
    return Times((home or settings.clinic).timezone, settings.clinic.locale_tag())


def now_of(request: Request) -> datetime:
    """The page's clock: utcnow, unless a test pinned ``app.state.ui_clock``."""
    clock = getattr(request.app.state, "ui_clock", utcnow)
    now: datetime = clock()
    return now


def user_of(request: Request) -> str | None:
    session: Session | None = getattr(request.state, "ui_session", None)
    return session.user if session is not None else getattr(request.state, "ui_user", None)


def keep_session(request: Request, response: Any) -> Any:
    """Renew the session cookie (the idle clock starts over) on a response to a signed-in browser."""
    session: Session | None = getattr(request.state, "ui_session", None)
    if session is not None:
        sessions(request).renew(response, session)
    return response


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    user = context.pop("user", None) or user_of(request)
    home = home_of(request, user)
    zone = ZoneInfo(home.timezone)
    times = times_of(settings, home)
    role = role_of(ui_settings(settings), user) if user else None
    html = _env.get_template(template).render(
        clinic=home.name, zone=zone, zone_label=zone_label(zone.key, now_of(request)),
        when=times.when, clock=times.clock, day_name=times.day, local_times=times.in_text,
        refresh_choices=REFRESH_CHOICES,
        path=request.url.path, user=user, role=role, session=getattr(request.state, "ui_session", None),
        csrf=csrf_token(request, user) if user else "", **site_names(request, user),
        system_of=settings.calendar.system_name,  # a source as people read it: its label, else its name
        **{"refresh": None, **context})
    return keep_session(request, HTMLResponse(html, status_code=status_code))


def redirect(request: Request, location: str) -> RedirectResponse:
    """303 See Other after a post (the browser then GETs ``location``)."""
    return keep_session(request, RedirectResponse(location, status_code=303))
