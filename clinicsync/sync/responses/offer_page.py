"""`/w/{token}`: the page behind a waitlist offer's one-tap link. GET only shows
(mail scanners open links): the slot's day and time in the slot's own zone (labelled), its
doctor, its place or how it takes place, and two plain forms, "Take this slot" and "No thanks",
in the patient's language, no JavaScript, laid out for a phone by the answer page's stylesheet.
POST answers (sync/waitlist/accept.py: one winner however many tap at once) and shows the
outcome: yours, just taken by another patient, no thanks, or no longer available. A forged or
foreign link gets the answer page's uniform "not valid" page."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

from babel import Locale
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from clinicsync.common.shown_time import shown_clock, shown_date, zone_abbreviation
from clinicsync.common.timeutil import parse_duration
from clinicsync.common.types import utcnow
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.links import LinkProblem
from clinicsync.sync.responses.answer_view import visit_view
from clinicsync.sync.responses.link_page import message, render
from clinicsync.sync.responses.offer_text import offer_words
from clinicsync.sync.responses.page_text import page_locale
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.accept import ANSWERABLE, accept, decline, won_elsewhere
from clinicsync.sync.waitlist.offer_links import read_offer_token

router = APIRouter(tags=["links"])
TONE = {"won": "ok", "declined": "ok", "taken": "warn", "closed": "warn", "have_one": "ok", "held_for_other": "warn"}
STATUS = {"won": 200, "declined": 200, "taken": 409, "closed": 410, "have_one": 409, "held_for_other": 409}
OFFER_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "not a link of ours"},
    409: {"description": "another patient took the slot first, it is held for another patient (this offer's "
                         "hold ran out), or the patient already took another slot"},
    410: {"description": "the slot is no longer available"}}


def _answerable(settings: Settings, offer: Any, slot: Any, entry: Any, now: datetime) -> bool:
    return (offer.status in ANSWERABLE and slot.status == "open" and entry.status == "waiting"
            and slot.start_utc > now + settings.waitlist.lead())


def _state(offer: Any, slot: Any) -> str:
    """The outcome an offer that cannot be answered shows."""
    if offer.status == "accepted":
        return "won"
    if offer.status == "taken_by_other" or (slot.status == "taken" and slot.taken_offer_id != offer.id):
        return "taken"
    return "declined" if offer.status == "declined" else "closed"


def _visit(store: Store, settings: Settings, slot: Any, patient: Any, locale: Locale, now: datetime) -> Any:
    """The slot as the answer page shows a visit; never the cancelled patient's join link or dial-in."""
    shown = SimpleNamespace(start_utc=slot.start_utc, end_utc=slot.end_utc, timezone=slot.timezone,
                            connector=slot.connector, location_ref=slot.location_ref, visit_mode=slot.visit_mode,
                            practitioner_ref=slot.practitioner_ref, type=slot.visit_type, join_url=None,
                            dial_in=None)
    with store.engine.connect() as connection:
        return visit_view(connection, shown, patient, locale, settings.clinic_for(slot.connector), now,
                          parse_duration(settings.responses.join_link_opens))


def held_line(settings: Settings, offer: Any, slot: Any, locale: Locale, w: dict[str, str]) -> str | None:
    """Until when a `sequential` offer is held, as its SMS and email say it: in the slot's zone,
    labelled with the hold's own abbreviation (a slot past a daylight-saving change has another),
    with its day when that is not the day the offer was sent. None: no hold to state."""
    if settings.waitlist.strategy != "sequential" or offer.hold_until is None or offer.status != "sent":
        return None
    zone_name, until = slot.timezone, offer.hold_until
    clock = f"{shown_clock(until, zone_name, str(locale))} {zone_abbreviation(until, zone_name)}"
    if offer.sent_at is not None and shown_date(offer.sent_at, zone_name) != shown_date(until, zone_name):
        return w["held_day"].format(day=shown_date(until, zone_name, str(locale)), time=clock)
    return w["held"].format(time=clock)


def page(settings: Settings, store: Store, token: str, accept_language: str | None,
         form: dict[str, str] | None = None) -> HTMLResponse:
    """GET (``form`` None) shows the offer; POST answers it."""
    try:
        offer_id = read_offer_token(settings, token)
    except LinkProblem as bad:
        return message(settings, page_locale(None, accept_language), bad.reason, 404, tone="warn")
    rows = store.waitlist_rows.offer_rows(offer_id)
    if rows is None:
        return message(settings, page_locale(None, accept_language), "invalid", 404, tone="warn")
    offer, slot, entry, patient = rows
    locale = page_locale(patient.language if patient is not None else None, accept_language)
    w, now = offer_words(locale), utcnow()
    outcome: str | None = None
    if form is not None and form.get("choice") in ("take", "decline"):
        if form["choice"] == "take":
            outcome = accept(store.engine, offer_id, now, settings.waitlist.lead())
        else:
            outcome = decline(store.engine, offer_id, now)
        offer, slot, entry, patient = store.waitlist_rows.offer_rows(offer_id) or rows
    elif not _answerable(settings, offer, slot, entry, now):
        outcome = _state(offer, slot)
        if offer.status == "withdrawn":  # withdrawn because the patient took another slot?
            with store.engine.connect() as connection:
                outcome = "have_one" if won_elsewhere(connection, offer) else outcome
    visit = _visit(store, settings, slot, patient, locale, now)
    if outcome is not None:
        outcome = "closed" if outcome == "invalid" else outcome
        return render(settings, locale, "offer.html", STATUS[outcome], w=w, visit=visit, outcome=outcome,
                      tone=TONE[outcome], heading=w[outcome], explain=w[f"{outcome}_explain"], open=False,
                      connector=slot.connector)
    return render(settings, locale, "offer.html", w=w, visit=visit, outcome=None, heading=w["title"], open=True,
                  action=f"/w/{token}", held=held_line(settings, offer, slot, locale, w), connector=slot.connector)


@router.get("/w/{token}", summary="The page behind a waitlist offer's link: take the slot or say no thanks",
            response_class=HTMLResponse, responses=OFFER_RESPONSES)
async def offer_page(token: str, request: Request) -> HTMLResponse:
    return await run_in_threadpool(page, request.app.state.settings, request.app.state.store, token,
                                   request.headers.get("accept-language"))


@router.post("/w/{token}", summary="Answer a waitlist offer: take the slot (first wins) or no thanks",
             response_class=HTMLResponse, responses=OFFER_RESPONSES)
async def offer_answer(token: str, request: Request) -> HTMLResponse:
    raw = (await request.body()).decode("utf-8", errors="replace")
    form = {key: values[0] for key, values in parse_qs(raw, max_num_fields=8).items()}
    result = await run_in_threadpool(page, request.app.state.settings, request.app.state.store, token,
                                     request.headers.get("accept-language"), form)
    request.app.state.metrics.webhooks.labels("link", str(result.status_code)).inc()
    return result
