"""The /ui pages: server-rendered Jinja2, no JavaScript needed. A signed-in front desk opens
on its work list (sync/ui/desk.py) and records actions (sync/desk/actions.py); IT (the
viewer role, the token) opens on the health page."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from importlib import resources
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from clinicsync.common.shown_time import shown_day
from clinicsync.sync.checks.stalls import find_stalls
from clinicsync.sync.checks.stalls import of_sources as stalls_of
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.desk import actions as desk_actions
from clinicsync.sync.desk import batch as desk_batch
from clinicsync.sync.desk import sources as desk_sources
from clinicsync.sync.desk.actions import (
    BUTTONS,
    LABELS,
    ReasonNeeded,
    Refused,
    UnknownAction,
    actions_of,
    source_hint,
)
from clinicsync.sync.runs.setaside import open_items
from clinicsync.sync.store.model import ROW_ID_MAX
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui import (
    attention,
    charts,
    desk,
    desk_waitlist,
    login,
    queries,
    waitlist_page,
)
from clinicsync.sync.ui.auth import require_user, role_of, ui_settings
from clinicsync.sync.ui.render import REFRESH_CHOICES, now_of, redirect, render, times_of
from clinicsync.sync.ui.scope import Scope, appointment_in_scope, home_of, log_view, require_in_scope, scope_of
from clinicsync.sync.ui.session import check_csrf
from clinicsync.sync.waitlist import book_tasks, book_undo

pages = APIRouter(prefix="/ui", tags=["status page"], dependencies=[Depends(require_user), Depends(require_in_scope)],
                  include_in_schema=False)
assets = APIRouter(prefix="/ui/static", include_in_schema=False)
router = APIRouter()
MAX_DAYS = 60
User = Annotated[str, Depends(require_user)]


def _refresh(value: str | None) -> int | None:
    """Seconds between automatic reloads (a meta refresh: no JavaScript), or None for off."""
    return int(value) if value in REFRESH_CHOICES else None


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _role(request: Request, user: str) -> str:
    return role_of(ui_settings(request.app.state.settings), user)


@pages.get("", response_class=HTMLResponse)
@pages.get("/", response_class=HTMLResponse)
def home(request: Request, user: User, day: Annotated[str | None, Query(max_length=16)] = None,
         need: Annotated[str | None, Query(max_length=24)] = None,
         refresh: Annotated[str | None, Query(max_length=8)] = None,
         earlier: Annotated[str | None, Query(max_length=8)] = None) -> HTMLResponse:
    """Each role's own home: the front desk's work list, IT's health page."""
    if _role(request, user) == "front_desk":
        return desk_page(request, user, day, need, refresh, earlier_open=earlier == "open")
    return health_page(request, user, refresh)


def desk_page(request: Request, user: str, day: str | None, need: str | None, refresh: str | None,
              earlier_open: bool = False) -> HTMLResponse:
    """Today and tomorrow, grouped by what needs doing, with counts and filters. The started
    visits nobody closed (Earlier today) are folded under their count unless asked open
    (``?earlier=open``, the header's link), so the calls to make come first."""
    store, settings = _store(request), request.app.state.settings
    now, zone = now_of(request), ZoneInfo(home_of(request, user).timezone)  # the one site shown's today
    day = day if day in desk.DAYS else None
    need = need if need in desk.GROUP_KEYS else None
    sources = scope_of(request, user).connectors
    work = desk.work_list(store, now, zone, full=True, day=day, group=need, sources=sources)
    earlier = desk.earlier_today(store, now, zone, full=True, sources=sources) \
        if day in (None, "today") and not need else []
    shown = [r.appointment_id for r in earlier] + [r.appointment_id for r in work.rows]
    if shown:
        log_view(request, user, "front_desk", "/ui/", shown, now=now)
    hints = {r.appointment_id: _decline_hint(settings, r) for r in work.rows}
    seen = desk_actions.seen_of(store, shown)
    offers = {r.appointment_id: desk_actions.offered(
        seen[r.appointment_id].standing, r.start_utc, now, reschedule="reschedule" in r.reasons,
        declined=r.group in ("declined", "doctor-declined")) for r in work.rows}
    offers.update({r.appointment_id: desk_actions.offered(seen[r.appointment_id].standing, r.start_utc, now)
                   for r in earlier})
    waitlist = scope_of(request, user).keep(desk.waitlist_tasks(settings, store, now, full=True),
                                            lambda t: t.connector)
    if waitlist:
        log_view(request, user, "front_desk", "/ui/#waitlist", [i for t in waitlist for i in t.appointment_ids],
                 now=now)
    return render(request, "desk.html", work=work, groups=desk.GROUPS, day=day, need=need, hints=hints,
                  buttons=BUTTONS, refresh=_refresh(refresh), earlier=earlier, offers=offers,
                  earlier_open=earlier_open or bool(request.query_params.get("left")),
                  seen={k: v.digest for k, v in seen.items()}, **_done_line(request, user, store, now),
                  callback_hours=int(desk.CALLBACK_AFTER.total_seconds() // 3600),
                  waitlist=desk_waitlist.desk_tasks(settings, store, waitlist),
                  waitlist_headings=desk.WAITLIST_HEADINGS,
                  waitlist_answers={k: {a: desk.WAITLIST_BUTTONS[a] for a in v}
                                    for k, v in book_tasks.ANSWERS.items()})


def _done_line(request: Request, user: str, store: Store, now: datetime) -> dict[str, Any]:
    """After an action (``?done=a<id>``): "Recorded" with its Undo while it can be taken back;
    after an undo (``?undone=1&visit=<id>``): which visit is back; after "All came in" and its
    Undo (``?done=m<action ids>``, ``?undone=m<visit ids>``): which visits. All name the patient and
    the visit, so each is a view of it in the access log, and only of the user's own sites."""
    done = request.query_params.get("done") or ""
    scope = scope_of(request, user)
    named: list[int] = []
    undo = None
    if done.startswith("a") and done[1:].isdigit() and int(done[1:]) <= ROW_ID_MAX:
        undo = desk_actions.undo_offer(store, int(done[1:]), now)
        if undo is not None and not appointment_in_scope(store, scope, undo["appointment_id"]):
            undo = None
        named += [undo["appointment_id"]] if undo else []
    batch = None
    if done.startswith("m"):  # "All came in": the visits it recorded, named, and one Undo for them
        batch = desk_batch.recorded(store, _batch_ids(done), now, lambda i: appointment_in_scope(store, scope, i))
        named += [v["appointment_id"] for v in batch["visits"]]
    booked = None
    if done.startswith("w") and done[1:].isdigit() and int(done[1:]) <= ROW_ID_MAX:  # *Booked by hand*
        booked = book_undo.undo_offer(store, int(done[1:]), now, desk_actions.UNDO_WINDOW)
        if booked is not None and not appointment_in_scope(store, scope, booked["appointment_id"]):
            booked = None
        named += [booked["appointment_id"]] if booked else []
    undone = request.query_params.get("undone")
    visit = request.query_params.get("visit") or ""
    undone_visit = None
    undone_batch = desk_batch.named(store, _batch_ids(undone or ""), lambda i: appointment_in_scope(
        store, scope, i)) if (undone or "").startswith("m") else []  # "All came in" undone: which visits
    named += [v["appointment_id"] for v in undone_batch]
    if undone == "1" and visit.isdigit() and int(visit) <= ROW_ID_MAX and appointment_in_scope(store, scope,
                                                                                               int(visit)):
        undone_visit = desk_actions.visit_named(store, int(visit))
        named += [int(visit)] if undone_visit else []
    if named:
        log_view(request, user, "front_desk", "/ui/ (recorded, undone)", named, now=now)
    left = request.query_params.get("left") or ""
    return {"done": done or None, "undo": undo, "undone": undone if undone in ("1", "w") else None,
            "undone_visit": undone_visit, "undone_batch": undone_batch, "batch": batch, "booked": booked,
            "left": int(left) if left.isdigit() and len(left) < 5 else 0}


def _batch_ids(value: str) -> list[int]:
    """The ids of ``m<id>.<id>…`` (after "All came in" and its Undo), at most a batch's."""
    return [int(i) for i in value[1:].split(".")[:desk_batch.MAX_VISITS] if i.isdigit() and int(i) <= ROW_ID_MAX]


def _decline_hint(settings: Settings, row: desk.DeskRow) -> str:
    """A patient's decline on a source we do not write back: the slot is still booked there."""
    if row.answer == "declined" and not desk_sources.writes_back(settings, row.connector):
        kind = desk_sources.source_kind(settings, row.connector)
        return f"Still booked in {kind}: this source is not written back; cancel it in {kind}."
    return ""


@pages.get("/health", response_class=HTMLResponse)
def health_page(request: Request, user: User,
                refresh: Annotated[str | None, Query(max_length=8)] = None) -> HTMLResponse:
    """The health panel, the dispatcher's queue and the charts. A site-scoped user
    sees their sites' sources, visits, set-aside items and stalls only; the messages-per-channel
    chart counts every site's deliveries (a delivery names no source), so it is not shown to them."""
    store, settings = _store(request), request.app.state.settings
    scope = scope_of(request, user)
    sources = scope.connectors
    home = home_of(request, user)  # the page's one labelled zone: the weeks and days of its charts too
    zone = ZoneInfo(home.timezone)
    now = now_of(request)
    weeks = ui_settings(settings).chart_weeks
    since = now - timedelta(weeks=weeks)
    week_rates = queries.rates_by_week(store, since, now, zone, sources)
    doctor_rates = queries.rates_by_doctor(store, since, now, sources)
    days, per_channel = queries.messages_per_channel_day(store, now - timedelta(days=14), now, zone) \
        if scope.everything else ([], {})
    health = scope.keep(queries.connectors_health(store, now, settings.connector_names()), lambda c: c["connector"])
    quarantined = sum(c["quarantined"] for c in health)
    funnel = queries.funnel(store, since, now, sources)  # only messages already due: later ones are planned
    return render(
        request, "health.html",
        connectors=health,
        running=queries.running_now(store, now),  # stages, not sources: nothing of any site's patients
        calendar_provider=settings.calendar.provider,
        calendar=queries.calendar_health(store),
        notifiers=queries.notifiers_health(store, now - timedelta(days=7)),
        configured_notifiers=[n.name for n in settings.notifiers],
        quarantined=quarantined, weeks=weeks,
        funnel=charts.funnel_chart(funnel) if funnel[0][1] else None,
        week_chart=charts.grouped_bar_chart(
            [times_of(settings, home).week(r.label) for r in week_rates],
            {"confirmed %": [round(r.confirmed_pct, 1) for r in week_rates],
             "no-show %": [round(r.noshow_pct, 1) for r in week_rates]},
            "confirmation and no-show rates per week", unit="%", max_value=100) if week_rates else None,
        doctor_chart=charts.grouped_bar_chart(
            [r.label for r in doctor_rates],
            {"confirmed %": [round(r.confirmed_pct, 1) for r in doctor_rates],
             "no-show %": [round(r.noshow_pct, 1) for r in doctor_rates]},
            "confirmation and no-show rates per doctor", unit="%", max_value=100) if doctor_rates else None,
        channel_chart=charts.grouped_bar_chart(
            [_axis_day(d, settings, home.timezone) for d in days],
            {k: [float(v) for v in vs] for k, vs in per_channel.items()},
            "messages per channel per day") if per_channel else None,
        week_rates=week_rates, doctor_rates=doctor_rates, dispatcher=attention.dispatcher_panel(store, now, sources),
        refresh=_refresh(refresh), stalls=stalls_of(find_stalls(store, settings, now), settings, sources),
        set_aside=_set_aside(store, scope),
        waitlist_chart=waitlist_page.refill_chart(store, settings, now, sources, home))


def _axis_day(iso_day: str, settings: Settings, home: str) -> str:
    """A chart axis's day ('Nov 24', '24 nov') in the page's zone ``home``: the one date form,
    short enough for 14 bars."""
    noon = datetime.combine(date.fromisoformat(iso_day), time(12), ZoneInfo(home))
    return shown_day(noon, home, settings.clinic.locale_tag())


def _set_aside(store: Store, scope: Scope) -> list[dict[str, Any]]:
    """Open set-aside items; a site-scoped user's only (an item of no source is IT's)."""
    with store.engine.connect() as connection:
        return open_items(connection, limit=50, connectors=scope.connectors)


@pages.get("/appointments", response_class=HTMLResponse)
def appointments_page(
    request: Request,
    user: User,
    doctor: Annotated[str | None, Query(max_length=255)] = None,
    connector: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=24)] = None,
    answer: Annotated[str | None, Query(max_length=24)] = None,
    days: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    """Today and the next days by doctor, filtered by GET parameters (a plain form). A bad
    value is explained on the page, next to its field, and the default is used. The front
    desk sees names (the view is written to the access log first); others see initials."""
    store, settings = _store(request), request.app.state.settings
    zone = ZoneInfo(home_of(request, user).timezone)
    span, errors = ui_settings(settings).days, {}
    if days:
        if days.strip().isdigit() and 1 <= int(days) <= MAX_DAYS:
            span = int(days)
        else:
            errors["days"] = f"Days must be a whole number from 1 to {MAX_DAYS}; showing {span}."
    now = now_of(request)
    today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    role = _role(request, user)
    full = role == "front_desk"
    filters = queries.Filters(doctor or None, connector or None, status or None,
                              answer if answer in queries.ANSWER_FILTERS else None)
    sources = scope_of(request, user).connectors
    rows = queries.upcoming(store, today, today + timedelta(days=span), filters, full=full, now=now, sources=sources)
    if full and rows:
        log_view(request, user, role, "/ui/appointments", [r.id for r in rows], now=now)
    return render(request, "appointments.html", 422 if errors else 200, groups=queries.by_day_and_doctor(rows, zone),
                  options=queries.filter_options(store, sources), filters=filters, days=span, count=len(rows),
                  full=full, states=queries.REMINDER_STATES, errors=errors, typed_days=days, max_days=MAX_DAYS,
                  answer_filters=queries.ANSWER_FILTERS)


@pages.get("/attention", response_class=HTMLResponse)
def attention_page(request: Request, user: User,
                   refresh: Annotated[str | None, Query(max_length=8)] = None) -> HTMLResponse:
    """Every upcoming appointment that needs someone (not only today and tomorrow). The
    front_desk role sees names and phones, and each such view is written to the access log
    first; everyone else sees them masked. The front desk acts on each row with the work
    list's buttons (posted to ``act``); a handled row leaves this list by the work list's rule
    (``desk.handled``)."""
    store = _store(request)
    now = now_of(request)
    role = _role(request, user)
    full = role == "front_desk"
    sources = scope_of(request, user).connectors
    items = attention.needs_attention(store, now, full, sources)
    done_by_desk = desk.handled(store, [i.appointment_id for i in items], now)
    items = [i for i in items if i.appointment_id not in done_by_desk]
    if full and items:
        log_view(request, user, role, "/ui/attention", [i.appointment_id for i in items], now=now)
    seen = desk_actions.seen_of(store, [i.appointment_id for i in items]) if full else {}
    offers = {i.appointment_id: desk_actions.offered(
        seen[i.appointment_id].standing, i.start_utc, now, reschedule="reschedule request" in i.reasons,
        declined=bool({"declined", "doctor declined"} & set(i.reasons))) for i in items if i.appointment_id in seen}
    return render(request, "attention.html", items=items, full=full, buttons=BUTTONS if full else {},
                  dispatcher=attention.dispatcher_panel(store, now, sources), refresh=_refresh(refresh), offers=offers,
                  seen={k: v.digest for k, v in seen.items()}, **_done_line(request, user, store, now))


@pages.get("/appointments/{appointment_id}", response_class=HTMLResponse)
def timeline_page(request: Request, user: User,
                  appointment_id: Annotated[int, Path(ge=1, le=ROW_ID_MAX)]) -> HTMLResponse:
    """One appointment as its patient was told it, what the desk can do, and its history."""
    store, settings = _store(request), request.app.state.settings
    role = _role(request, user)
    full = role == "front_desk"
    row = queries.appointment(store, appointment_id, full=full, now=now_of(request))
    if row is None:
        raise HTTPException(404, "no such appointment")
    if full:
        log_view(request, user, role, "/ui/appointments/{appointment_id}", [appointment_id], now=now_of(request))
    actions = actions_of(store, appointment_id)
    items = [_with_source_hint(settings, row.connector, i) for i in queries.timeline(store, appointment_id, full=full)]
    now = now_of(request)
    seen = desk_actions.seen_of(store, [appointment_id])[appointment_id]
    handled_at = max((a.at for a in actions if a.action == "reschedule_handled" and a.undone_at is None), default=None)
    requests = [i for i in items if i.get("request") and (handled_at is None or i["at"] > handled_at)]
    asked = bool(requests)
    asked_words = requests[-1].get("text") if requests else None  # the patient's own, front desk only
    offer = desk_actions.offered(seen.standing, row.start_utc, now, row.status, reschedule=asked,
                                 declined=row.answer == "declined") if full else []
    latest = desk_actions.undoable(actions, now) if full else None
    undo = desk_actions.undo_offer(store, latest.id, now) if latest is not None else None
    return render(request, "timeline.html", a=row, items=items, states=queries.REMINDER_STATES, full=full,
                  modes=queries.MODES, buttons=BUTTONS, can_act=full, offer=offer, seen=seen.digest, asked=asked,
                  asked_words=asked_words, writes_back=desk_sources.writes_back(settings, row.connector),
                  kind=desk_sources.source_kind(settings, row.connector),
                  **{**_done_line(request, user, store, now), "undo": undo})


def _with_source_hint(settings: Settings, connector: str, item: dict[str, Any]) -> dict[str, Any]:
    """A desk action's history row with what became of it at the source (written back, or
    what to do there by hand); every other row as it is."""
    if item["what"] != "desk" or not (hint := source_hint(settings, connector, item["action"], item["source"],
                                                          item.get("written"), item.get("undone", False))):
        return item
    return {**item, "detail": f"{item['detail']}; {hint}"}


async def _desk_post(request: Request, user: str, refusal: str) -> tuple[Any, str]:
    """A front desk's post: its form (the CSRF token checked) and role; anyone else is refused."""
    form = await request.form()
    check_csrf(request, user, form.get("csrf"))
    role = _role(request, user)
    if role != "front_desk":
        raise HTTPException(403, refusal)
    return form, role


def _back(form: Any, appointment_id: int) -> str:
    back = str(form.get("back") or "")
    return back if back.startswith("/ui/") and not back.startswith("//") else f"/ui/appointments/{appointment_id}"


@pages.post("/appointments/{appointment_id}/actions", response_model=None)
async def act(request: Request, user: User,
              appointment_id: Annotated[int, Path(ge=1, le=ROW_ID_MAX)]) -> RedirectResponse | HTMLResponse:
    """Record one desk action (front_desk role, CSRF token required) on the visit as the page
    showed it (``seen``), then back where the desk came from with "Recorded … Undo". A cancel
    without its reason opens the confirm step; a visit that changed meanwhile, or an action
    that no longer fits it, is refused with the visit as it is now (409)."""
    form, role = await _desk_post(request, user, "only the front desk records actions on appointments")
    action = str(form.get("action") or "")
    seen, back = str(form.get("seen") or ""), _back(form, appointment_id)
    try:
        reason = str(form.get("reason") or "") or None
        done = desk_actions.record_action(request.app.state.settings, _store(request), appointment_id, action, user,
                                          role, now_of(request), seen=seen, reason=reason,
                                          note=str(form.get("reason_text") or "") or None)
    except UnknownAction:
        raise HTTPException(422, f"action: {action[:40]!r} is not one of {', '.join(LABELS)}") from None
    except ReasonNeeded:
        return _cancel_step(request, user, appointment_id, seen, back)
    except Refused as refusal:
        return _refused(request, user, appointment_id, refusal, back)
    if done is None:
        raise HTTPException(404, "no such appointment")
    separator = "&" if "?" in back else "?"
    return redirect(request, f"{back}{separator}done=a{done['id']}")


@pages.post("/desk-actions/{action_id}/undo", response_model=None)
async def undo(request: Request, user: User,
               action_id: Annotated[int, Path(ge=1, le=ROW_ID_MAX)]) -> RedirectResponse | HTMLResponse:
    """Take back a desk action within its undo window (front_desk role, CSRF token required)."""
    form, _ = await _desk_post(request, user, "only the front desk records actions on appointments")
    back = str(form.get("back") or "")
    back = back if back.startswith("/ui/") and not back.startswith("//") else "/ui/"
    try:
        appointment_id = desk_actions.undo_action(request.app.state.settings, _store(request), action_id, user,
                                                  now_of(request), str(form.get("seen") or ""))
    except Refused as refusal:
        target = desk_actions.appointment_of(_store(request), action_id)
        return _refused(request, user, target or 0, refusal, back)
    if appointment_id is None:
        raise HTTPException(404, "no such desk action")
    return redirect(request, f"{back}{'&' if '?' in back else '?'}undone=1&visit={appointment_id}")


@pages.post("/earlier-today/arrived", response_model=None)
async def all_came_in(request: Request, user: User) -> RedirectResponse:
    """Today's "All came in" (front_desk role, CSRF token required): *Came in* on each started
    visit the strip showed, as the desk saw it; a visit that changed meanwhile is left on the
    strip, opened, with how many were left."""
    form, role = await _desk_post(request, user, "only the front desk records actions on appointments")
    try:
        visits = desk_batch.parse(form.getlist("visit"))
    except desk_batch.BadVisit as bad:
        raise HTTPException(422, str(bad)) from None
    store, scope = _store(request), scope_of(request, user)
    outcome = desk_batch.all_came_in(request.app.state.settings, store, visits, user, role, now_of(request),
                                     lambda i: appointment_in_scope(store, scope, i))
    done = "m" + ".".join(map(str, outcome.done)) if outcome.done else "none"
    left = f"&left={outcome.left}#earlier-today" if outcome.left else ""
    return redirect(request, f"/ui/?done={done}{left}")


@pages.post("/desk-actions/undo-all", response_model=None)
async def undo_all(request: Request, user: User) -> RedirectResponse:
    """The Undo of "All came in": each of its actions taken back (front_desk, CSRF required)."""
    form, _ = await _desk_post(request, user, "only the front desk records actions on appointments")
    try:
        actions = desk_batch.parse(form.getlist("action"), "action")
    except desk_batch.BadVisit as bad:
        raise HTTPException(422, str(bad)) from None
    store, scope = _store(request), scope_of(request, user)
    outcome = desk_batch.undo_all(request.app.state.settings, store, actions, user, now_of(request),
                                  lambda i: appointment_in_scope(store, scope, desk_actions.appointment_of(store, i)))
    visits = [v for v in (desk_actions.appointment_of(store, i) for i in outcome.done) if v is not None]
    left = f"&left={outcome.left}#earlier-today" if outcome.left else ""
    return redirect(request, f"/ui/?undone={'m' + '.'.join(map(str, visits)) if visits else '1'}{left}")


def _visit_now(request: Request, user: str, appointment_id: int) -> Any:
    """The visit as it is now, for the confirm step and a refusal (its view logged)."""
    row = queries.appointment(_store(request), appointment_id, full=True, now=now_of(request))
    if row is not None:
        log_view(request, user, "front_desk", "/ui/appointments/{appointment_id}", [appointment_id],
                 now=now_of(request))
    return row


def _cancel_step(request: Request, user: str, appointment_id: int, seen: str, back: str) -> HTMLResponse:
    row = _visit_now(request, user, appointment_id)
    if row is None:
        raise HTTPException(404, "no such appointment")
    return render(request, "cancel.html", a=row, seen=seen, back=back, reasons=desk_actions.CANCEL_REASONS,
                  writes_back=desk_sources.writes_back(request.app.state.settings, row.connector),
                  kind=desk_sources.source_kind(request.app.state.settings, row.connector))


def _refused(request: Request, user: str, appointment_id: int, refusal: Refused, back: str) -> HTMLResponse:
    row = _visit_now(request, user, appointment_id) if appointment_id else None
    standing = desk_actions.seen_of(_store(request), [appointment_id]).get(appointment_id) if row else None
    return render(request, "refused.html", 409, a=row, why=refusal.why, changed=refusal.changed, back=back,
                  standing=[LABELS.get(s, s) for s in standing.standing] if standing else [])


@pages.post("/waitlist/slots/{slot_id}/{kind}")  # apart from /waitlist/{entry}/remove (waitlist_page)
async def waitlist_task(request: Request, user: User, slot_id: Annotated[int, Path(ge=1, le=ROW_ID_MAX)],
                        kind: Annotated[str, Path(max_length=16)]) -> RedirectResponse:
    """The desk's answer to one waitlist task (front_desk role, CSRF token required)."""
    form, role = await _desk_post(request, user, "only the front desk answers waitlist tasks")
    answer = str(form.get("answer") or "")
    try:
        done = book_tasks.answer_task(request.app.state.settings, _store(request), kind, slot_id, answer, user, role,
                                      now_of(request))
    except book_tasks.UnknownAnswer:
        raise HTTPException(422, f"{kind[:16]!r} tasks take no answer {answer[:40]!r}") from None
    if done is None:
        return redirect(request, "/ui/?done=waitlist-gone")
    return redirect(request, f"/ui/?done=w{done}" if answer == "booked" else f"/ui/?done=waitlist-{slot_id}")


@pages.post("/waitlist/booked/{action_id}/undo", response_model=None)
async def undo_booked(request: Request, user: User,
                      action_id: Annotated[int, Path(ge=1, le=ROW_ID_MAX)]) -> RedirectResponse:
    """Take back *Booked by hand* within the undo window (front_desk role, CSRF required): the
    task is back on Today as it was; one that can no longer be undone says why."""
    await _desk_post(request, user, "only the front desk answers waitlist tasks")
    try:
        slot = book_undo.undo_booked(_store(request), action_id, user, now_of(request), desk_actions.UNDO_WINDOW)
    except book_undo.NotUndone as refusal:
        raise HTTPException(409, refusal.why) from None
    if slot is None:
        raise HTTPException(404, "no such desk action")
    return redirect(request, "/ui/?undone=w#waitlist")


@pages.get("/quarantine", response_class=HTMLResponse)
def quarantine_page(request: Request, user: User,
                    connector: Annotated[str | None, Query(max_length=64)] = None) -> HTMLResponse:
    """The work list of bad records. Values quoted in reasons, and record ids that are not
    id-shaped (a name shifted into the id column), are shown only to the front desk role (full
    patient data), and that view is written to the access log first (the ids are quarantine
    item ids); the viewer role sees them masked."""
    store, role = _store(request), _role(request, user)
    full = role == "front_desk"
    rows = queries.quarantine_rows(store, connector or None, full=full, sources=scope_of(request, user).connectors)
    shown = [r["id"] for r in rows if full and queries.shows_patient_values(r)]
    if shown:
        log_view(request, user, role, "/ui/quarantine", shown, "quarantine", now=now_of(request))
    return render(request, "quarantine.html", rows=rows, connector=connector, full=full)


_CSS = resources.files("clinicsync.sync.ui").joinpath("static/ui.css").read_bytes()


@assets.get("/ui.css")
def stylesheet() -> Response:
    """The one stylesheet (no inline styles: the CSP forbids them). Public: it holds no data."""
    return Response(_CSS, media_type="text/css", headers={"cache-control": "public, max-age=3600"})


router.include_router(login.router)
router.include_router(pages)
router.include_router(waitlist_page.pages)
router.include_router(assets)
