"""The /ui pages: server-rendered Jinja2, read-only, no JavaScript needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from clinicsync.common.types import utcnow
from clinicsync.sync.access_log import record_phi_view
from clinicsync.sync.setaside import open_items
from clinicsync.sync.settings import Settings
from clinicsync.sync.stalls import find_stalls
from clinicsync.sync.store import Store
from clinicsync.sync.ui import attention, charts, queries
from clinicsync.sync.ui.auth import require_user, role_of, ui_settings

pages = APIRouter(prefix="/ui", tags=["status page"], dependencies=[Depends(require_user)],
                  include_in_schema=False)
assets = APIRouter(prefix="/ui/static", include_in_schema=False)
router = APIRouter()
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
MAX_DAYS = 60


def _moment(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _in_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    """``moment`` in ``zone``; as stored (UTC) when the zone cannot hold it: a row from before
    clinic.plausible_dates (year 1) still shows, rather than failing the page."""
    try:
        return moment.astimezone(zone)
    except OverflowError:
        return moment


def _local(value: datetime | str | None, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    moment = _moment(value)
    return _in_zone(moment, zone).strftime(fmt) if moment else ""


def _when(value: datetime | str | None, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> Markup:
    """The page's one time convention: the clinic's zone on screen, UTC on hover and in the markup."""
    moment = _moment(value)
    if moment is None:
        return Markup("")
    utc = moment.astimezone(UTC)
    return Markup('<time datetime="{}" title="{} UTC">{}</time>').format(
        utc.isoformat(), utc.strftime("%Y-%m-%d %H:%M"), _in_zone(moment, zone).strftime(fmt))


def zone_label(zone: ZoneInfo, now: datetime) -> str:
    """'America/New_York (EST, UTC-05:00)': the zone every time on the page is in."""
    local = now.astimezone(zone)
    offset = local.strftime("%z")
    return f"{zone.key} ({local.tzname()}, UTC{offset[:3]}:{offset[3:]})"


def _refresh(value: str | None) -> int | None:
    """Seconds between automatic reloads (a meta refresh: no JavaScript), or None for off."""
    return int(value) if value in REFRESH_CHOICES else None


def _render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    zone = ZoneInfo(settings.clinic.timezone)
    html = _env.get_template(template).render(
        clinic=settings.clinic.name, zone=zone, zone_label=zone_label(zone, _now(request)),
        local=lambda v, fmt="%Y-%m-%d %H:%M": _local(v, zone, fmt),
        when=lambda v, fmt="%Y-%m-%d %H:%M": _when(v, zone, fmt), refresh_choices=REFRESH_CHOICES,
        path=request.url.path, **{"refresh": None, **context})
    return HTMLResponse(html, status_code=status_code)


def _now(request: Request) -> datetime:
    """The page's clock: utcnow, unless a test pinned ``app.state.ui_clock``."""
    clock = getattr(request.app.state, "ui_clock", utcnow)
    now: datetime = clock()
    return now


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


@pages.get("", response_class=HTMLResponse)
@pages.get("/", response_class=HTMLResponse)
def health_page(request: Request, refresh: Annotated[str | None, Query(max_length=8)] = None) -> HTMLResponse:
    """The health panel, the dispatcher's queue and the charts."""
    store, settings = _store(request), request.app.state.settings
    zone = ZoneInfo(settings.clinic.timezone)
    now = _now(request)
    weeks = ui_settings(settings).chart_weeks
    since = now - timedelta(weeks=weeks)
    week_rates = queries.rates_by_week(store, since, now, zone)
    doctor_rates = queries.rates_by_doctor(store, since, now)
    days, per_channel = queries.messages_per_channel_day(store, now - timedelta(days=14), now, zone)
    quarantined = sum(c["quarantined"] for c in queries.connectors_health(store, now))
    return _render(
        request, "health.html",
        connectors=queries.connectors_health(store, now),
        running=queries.running_now(store, now),
        calendar_provider=settings.calendar.provider,
        calendar=queries.calendar_health(store),
        notifiers=queries.notifiers_health(store, now - timedelta(days=7)),
        configured_notifiers=[n.name for n in settings.notifiers],
        quarantined=quarantined, weeks=weeks,
        funnel=charts.funnel_chart(queries.funnel(store, since, now + timedelta(days=60))),
        week_chart=charts.grouped_bar_chart(
            [r.label for r in week_rates],
            {"confirmed %": [round(r.confirmed_pct, 1) for r in week_rates],
             "no-show %": [round(r.noshow_pct, 1) for r in week_rates]},
            "confirmation and no-show rates per week", unit="%", max_value=100),
        doctor_chart=charts.grouped_bar_chart(
            [r.label for r in doctor_rates],
            {"confirmed %": [round(r.confirmed_pct, 1) for r in doctor_rates],
             "no-show %": [round(r.noshow_pct, 1) for r in doctor_rates]},
            "confirmation and no-show rates per doctor", unit="%", max_value=100),
        channel_chart=charts.grouped_bar_chart(
            [d[5:] for d in days], {k: [float(v) for v in vs] for k, vs in per_channel.items()},
            "messages per channel per day"),
        week_rates=week_rates, doctor_rates=doctor_rates, dispatcher=attention.dispatcher_panel(store, now),
        refresh=_refresh(refresh), stalls=find_stalls(store, settings, now), set_aside=_set_aside(store))


def _set_aside(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as connection:
        return open_items(connection, limit=50)


@pages.get("/appointments", response_class=HTMLResponse)
def appointments_page(
    request: Request,
    doctor: Annotated[str | None, Query(max_length=255)] = None,
    connector: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=24)] = None,
    days: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    """Today and the next days by doctor, filtered by GET parameters (a plain form). A bad
    value is explained on the page, next to its field, and the default is used."""
    store, settings = _store(request), request.app.state.settings
    zone = ZoneInfo(settings.clinic.timezone)
    span, errors = ui_settings(settings).days, {}
    if days:
        if days.strip().isdigit() and 1 <= int(days) <= MAX_DAYS:
            span = int(days)
        else:
            errors["days"] = f"Days must be a whole number from 1 to {MAX_DAYS}; showing {span}."
    today = _now(request).astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    filters = queries.Filters(doctor or None, connector or None, status or None)
    rows = queries.upcoming(store, today, today + timedelta(days=span), filters)
    return _render(request, "appointments.html", 422 if errors else 200, groups=queries.by_day_and_doctor(rows, zone),
                   options=queries.filter_options(store), filters=filters, days=span, count=len(rows),
                   states=queries.REMINDER_STATES, errors=errors, typed_days=days, max_days=MAX_DAYS)


@pages.get("/attention", response_class=HTMLResponse)
def attention_page(request: Request, user: Annotated[str, Depends(require_user)],
                   refresh: Annotated[str | None, Query(max_length=8)] = None) -> HTMLResponse:
    """The front desk's work list. The front_desk role sees names and phones, and each such view
    is written to the access log first; everyone else sees them masked."""
    store, settings = _store(request), request.app.state.settings
    now = _now(request)
    role = role_of(ui_settings(settings), user)
    full = role == "front_desk"
    items = attention.needs_attention(store, now, full)
    if full and items:
        record_phi_view(store, user, role, "/ui/attention", [i.appointment_id for i in items], now)
    return _render(request, "attention.html", items=items, full=full, role=role,
                   dispatcher=attention.dispatcher_panel(store, now), refresh=_refresh(refresh))


@pages.get("/appointments/{appointment_id}", response_class=HTMLResponse)
def timeline_page(request: Request, appointment_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> HTMLResponse:
    store = _store(request)
    row = queries.appointment(store, appointment_id)
    if row is None:
        raise HTTPException(404, "no such appointment")
    return _render(request, "timeline.html", a=row, items=queries.timeline(store, appointment_id),
                   states=queries.REMINDER_STATES)


@pages.get("/quarantine", response_class=HTMLResponse)
def quarantine_page(request: Request, user: Annotated[str, Depends(require_user)],
                    connector: Annotated[str | None, Query(max_length=64)] = None) -> HTMLResponse:
    """The work list of bad records. Values quoted in reasons are shown only to the front desk
    role (full patient data); the viewer role sees them masked."""
    full = role_of(ui_settings(request.app.state.settings), user) == "front_desk"
    rows = queries.quarantine_rows(_store(request), connector or None, full=full)
    return _render(request, "quarantine.html", rows=rows, connector=connector, full=full)


_CSS = resources.files("clinicsync.sync.ui").joinpath("static/ui.css").read_bytes()


@assets.get("/ui.css")
def stylesheet() -> Response:
    """The one stylesheet (no inline styles: the CSP forbids them). Public: it holds no data."""
    return Response(_CSS, media_type="text/css", headers={"cache-control": "public, max-age=3600"})


router.include_router(pages)
router.include_router(assets)
