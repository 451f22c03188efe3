"""The FastAPI application: one factory, routers registered in one list."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from prometheus_client.registry import Collector

from clinicsync.sync.calendar.metrics import calendar_gauges
from clinicsync.sync.reminders.metrics import reminder_gauges
from clinicsync.sync.responses import link_page, offer_page, sendgrid_hooks, sns_hooks, twilio_hooks
from clinicsync.sync.responses.metrics import response_gauges
from clinicsync.sync.server import api, booking_hooks, fhir_hooks, health, openapi, waitlist_api
from clinicsync.sync.server.metrics import Metrics, StoreGauges, stall_gauges
from clinicsync.sync.server.middleware import InputErrorsAs4xx, RequestBounds, SecurityAndAccessLog
from clinicsync.sync.settings import Settings
from clinicsync.sync.settings.server import ServerSettings
from clinicsync.sync.store import Store
from clinicsync.sync.ui import routes as ui
from clinicsync.sync.waitlist.metrics import waitlist_gauges


def routers() -> list[APIRouter]:
    """Every router the server mounts. Later features append theirs here. A request is matched
    against the routes in this order, so the push paths (the REST API, the booking webhooks),
    the busiest, come first: each router passed costs its matching (issue 32). No two routers
    share a path, so the order chooses nothing else."""
    return [api.router, booking_hooks.router, fhir_hooks.router, health.router, twilio_hooks.router,
            sendgrid_hooks.router, sns_hooks.router, link_page.router, ui.router, waitlist_api.router,
            openapi.router, offer_page.router]


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
    app.state.metrics = Metrics(store, [*store_gauges(), stall_gauges(settings)], collectors)
    api.install(app)
    fhir_hooks.install(app)
    for router in routers() if mounted is None else mounted:
        app.include_router(router)
    https = bool(server.public_url and server.public_url.scheme == "https")
    # Added inside out: the access log and security headers wrap everything, 413/431 included.
    app.add_middleware(InputErrorsAs4xx)
    app.add_middleware(RequestBounds, limit=server.max_body_bytes)
    app.add_middleware(SecurityAndAccessLog, metrics=app.state.metrics, https=https)
    return app
