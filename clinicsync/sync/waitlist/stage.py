"""The `waitlist` stage of each `run` cycle (and of `clinicsync waitlist --once`): find freed
slots and close the ones that closed by themselves (detect.py), choose the next offers
(offers.py, match.py), send them, and tell the patients whose offer another took. The first
two steps are one write transaction; each send is isolated (sync/runs/setaside.py), so one offer
that cannot be rendered or sent is set aside and the others go out."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

import structlog
from sqlalchemy import Connection

from clinicsync.common.types import utcnow
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.runs.progress import Ticker, no_ticks
from clinicsync.sync.runs.setaside import Item, run_isolated, take_retries
from clinicsync.sync.runs.standing import Standing
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.waitlist_rows import WaitlistRows

log = structlog.get_logger("clinicsync.waitlist")
NO_LINKS_SET = Standing("waitlist.no_links", "stage")
NO_LINKS = "waitlist: offers need server.public_url and server.secret_key (their one-tap link); none sent"


def run_waitlist(settings: Settings, store: Store, now: datetime | None = None) -> dict[str, Any]:
    """One cycle; the counts of what it did. Nothing when ``waitlist.enabled`` is false."""
    config = settings.waitlist
    if not config.enabled:
        return {"enabled": False}
    # The offers' machinery (matching, messages, their links) only when the waiting list is on:
    # an idle cron run of a clinic without one imports none of it.
    from clinicsync.sync.waitlist.detect import detect
    from clinicsync.sync.waitlist.offer_links import offer_link_maker
    from clinicsync.sync.waitlist.offers import OfferReport, OfferSender, plan_offers

    now = now or utcnow()
    links = offer_link_maker(settings)
    report = OfferReport()
    with writer(store.engine) as connection:
        _close_retried(connection, now)
        found = detect(connection, now, config.lead())
        if links is not None:
            plan_offers(connection, settings, now, report)
    result: dict[str, Any] = {**found.as_dict()}
    if links is None:  # a setting to fix: said once, then daily, until it is (sync/runs/standing.py)
        NO_LINKS_SET.seen(store.engine, log, "waitlist", level="error", now=now)
        return {**result, "error": NO_LINKS}
    NO_LINKS_SET.ended(store.engine, log, "waitlist", now=now)
    sender = OfferSender(settings, store.engine, now, links)
    try:
        for offer_id in sender.pending():
            outcome = run_isolated(store.engine, Item("waitlist", f"offer:{offer_id}"),
                                   partial(sender.send_offer, offer_id, report), partial(_failed, offer_id), now)
            report.failed += outcome.failed
        for offer_id in sender.to_tell():
            run_isolated(store.engine, Item("waitlist", f"taken:{offer_id}"),
                         partial(sender.tell_taken, offer_id, report), partial(_told, offer_id, now), now)
    finally:
        sender.close()
    result.update(report.as_dict())
    log.info("waitlist.cycle", **result)
    return result


def _close_retried(connection: Connection, now: datetime) -> None:
    """An offer or notice that could not be sent was set aside and its slot went on to the next
    patient (never the same offer twice), so a retry staff ask for has nothing left to redo:
    the item is closed, not left "retry requested" on the list for ever."""
    closed = take_retries(connection, "waitlist", now)
    if closed:
        log.info("waitlist.retries_closed", items=len(closed))


def _failed(offer_id: int, connection: Connection, reason: str) -> None:
    """An offer that could not be sent (set aside with the reason) no longer holds its slot's
    place: the next patient is offered it."""
    WaitlistRows.fail_offer_in(connection, offer_id)


def _told(offer_id: int, now: datetime, connection: Connection, reason: str) -> None:
    """A "just been taken" notice that could not be sent is not tried again each cycle (told at most once)."""
    WaitlistRows.close_told_in(connection, offer_id, now)


def waitlist_stage(settings: Settings, store: Store, run_id: str, progress: Ticker = no_ticks) -> dict[str, Any]:
    """The `waitlist` stage of `run` / `sync --once`."""
    return run_waitlist(settings, store)
