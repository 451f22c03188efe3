"""The FastAPI application: one factory, routers registered in one list."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from prometheus_client.registry import Collector

from clinicsync.sync.calendar.metrics import calendar_gauges
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.server import ServerSettings
from clinicsync.sync.reminders.metrics import reminder_gauges
from clinicsync.sync.responses import link_page, offer_page, sendgrid_hooks, sns_hooks, twilio_hooks
from clinicsync.sync.responses.metrics import response_gauges
from clinicsync.sync.server import api, booking_hooks, fhir_hooks, health, openapi, problems, waitlist_api
from clinicsync.sync.server.metrics import Metrics, StoreGauges, outbox_gauges, stall_gauges
from clinicsync.sync.server.middleware import InputErrorsAs4xx, RequestBounds, SecurityAndAccessLog
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui import routes as ui
from clinicsync.sync.ui.errors import error_page
from clinicsync.sync.waitlist.metrics import waitlist_gauges


def routers() -> list[APIRouter]:
    """Every router the server mounts. Later features append theirs here. A request is matched
    against the routes in this order, so the push paths (the REST API, the booking webhooks),
    the busiest, come first: each router passed costs its matching. No two routers
    share a path, so the order chooses nothing else."""
    return [api.router, booking_hooks.router, fhir_hooks.router, health.router, twilio_hooks.router,
            sendgrid_hooks.router, sns_hooks.router, link_page.router, ui.router, waitlist_api.router,
            openapi.router, offer_page.router]


def _held() -> tuple[APIRouter, ...]:
    """The routers whose routes the app holds itself, instead of including them: an included
    router is a layer of its own in FastAPI's routing (its match, then its routes' match, a
    scope key set and restored around each), walked on every request; these are the push
    paths, the busiest."""
    return (api.router, booking_hooks.router)


def _hold(app: FastAPI, router: APIRouter) -> None:
    """``router``'s routes, as they are (their full paths, tags, responses and dependencies
    were fixed when they were declared), straight in the app's route list, in their order."""
    assert not (router.on_startup or router.on_shutdown), "a held router has no events to merge"
    app.router.routes.extend(router.routes)


def store_gauges() -> list[StoreGauges]:
    """Extra metric families read from the store at scrape time. Features append theirs."""
    return [response_gauges, reminder_gauges, calendar_gauges, waitlist_gauges]


def create_app(settings: Settings, store: Store, mounted: list[APIRouter] | None = None,
               collectors: list[Collector] | None = None) -> FastAPI:
    """The app for these settings and store; ``mounted`` replaces the default routers;
    ``collectors`` add in-process figures to /metrics (the service's jobs under `run --serve`)."""
    server = settings.server or ServerSettings()
    app = FastAPI(title="clinicsync", version="0.1.0",
                  description="Webhooks, the appointments API, answer links, health and metrics of clinicsync.",
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.store = store
    app.state.metrics = Metrics(store, [outbox_gauges(settings), *store_gauges(), stall_gauges(settings)], collectors)
    api.install(app)
    fhir_hooks.install(app)
    problems.install_html_errors(app, error_page)  # a browser under /ui reads a page, not JSON
    for router in routers() if mounted is None else mounted:
        if router in _held():
            _hold(app, router)
        else:
            app.include_router(router)
    https = bool(server.public_url and server.public_url.scheme == "https")
    # Added inside out: the access log and security headers wrap everything, 413/431 included.
    app.add_middleware(InputErrorsAs4xx)
    app.add_middleware(RequestBounds, limit=server.max_body_bytes)
    app.add_middleware(SecurityAndAccessLog, metrics=app.state.metrics, https=https)
    return app
