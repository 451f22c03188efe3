"""Which practices a status-page user sees: ``ui.users[].sites``.

A desk user of site A lists, counts and acts on the visits, waitlist entries, answers and
set-aside items of site A's sources only. A visit's site is its source's (``Settings.site_of``;
no second way to tell): a page lists ``connector IN`` the scope's sources, and anything named
in a path (a visit, a desk action, a waitlist slot or entry) that is not in the scope answers
exactly as one that does not exist (404, the same page), so a user never learns that another
practice has it. That check is one router dependency on every /ui page router
(:func:`require_in_scope`), so a route added later cannot forget it.

A user without ``sites`` (and the ``ui.token`` bearer) sees every site, as before sites, and a
settings file without `sites:` is one site: the scope is then "everything" and no query changes.
A user with several sites (or of every site) narrows the pages with ``?site=KEY``; a key outside
their sites narrows nothing and widens nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy import ColumnElement, select, true

from clinicsync.sync.config.clinic import ClinicSettings
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.runs.access_log import record_phi_view
from clinicsync.sync.store.model import ROW_ID_MAX, Appointment, table_of
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES
from clinicsync.sync.store.quarantine import QUARANTINE
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui.auth import require_user, ui_settings

A = table_of(Appointment).c
EVERY = "*"  # the access log's word for a user of every site


@dataclass(frozen=True)
class Scope:
    """The sources a user may see now. ``connectors`` None: every source (orphans too)."""

    sites: tuple[str, ...]  # the user's own sites; () = every site
    choices: tuple[str, ...]  # the sites the picker offers (more than one, or none)
    picked: str | None  # ?site= when it narrowed the page
    connectors: frozenset[str] | None

    @property
    def everything(self) -> bool:
        return self.connectors is None

    def allows(self, connector: str | None) -> bool:
        return self.connectors is None or connector in self.connectors

    def where(self, column: Any) -> ColumnElement[bool]:
        """The filter for a query's connector column (``true()`` when everything is seen)."""
        return true() if self.connectors is None else column.in_(sorted(self.connectors))

    def keep(self, items: Iterable[Any], connector_of: Any) -> list[Any]:
        """The items (already built) whose source is in the scope."""
        return [i for i in items if self.allows(connector_of(i))]

    def logged(self) -> str:
        """The user's scope as the access log writes it: their sites, or ``*`` for every site."""
        return ",".join(self.sites) or EVERY


def _sites_of(settings: Settings, user: str) -> tuple[str, ...]:
    found = next((u for u in ui_settings(settings).users if u.name == user), None)
    return tuple(found.sites) if found is not None else ()  # the bearer token: every site


def scope_of(request: Request, user: str) -> Scope:
    """The request's scope (once per request): the user's sites, narrowed by ``?site=``."""
    cached: Scope | None = getattr(request.state, "ui_scope", None)
    if cached is not None:
        return cached
    settings: Settings = request.app.state.settings
    own = _sites_of(settings, user)
    choices = own or tuple(sorted(settings.sites))
    picked = request.query_params.get("site") or None
    if picked not in choices:
        picked = None
    shown = (picked,) if picked else own
    connectors = frozenset(c for s in shown for c in settings.connectors_of(s)) if shown else None
    scope = Scope(own, choices if len(choices) > 1 else (), picked, connectors)
    request.state.ui_scope = scope
    return scope


def home_of(request: Request, user: str | None) -> ClinicSettings:
    """The practice a page speaks for: the one site it shows (the user's only site, or the one
    picked), with its name and zone over the clinic's (``SiteSettings.as_clinic``), else the
    `clinic:` section. Its zone bounds "today" and is the page's unlabelled zone."""
    settings: Settings = request.app.state.settings
    if not settings.sites or not user:
        return settings.clinic
    scope = scope_of(request, user)
    shown = scope.picked or (scope.sites[0] if len(scope.sites) == 1 else None)
    return settings.sites[shown].as_clinic(settings.clinic) if shown else settings.clinic


def site_names(request: Request, user: str | None) -> dict[str, Any]:
    """What every page's layout needs of sites: the picker (``site_choices``, each key with its
    name, and the one picked) for a user with several sites, and ``site_of_row``, a row's site
    name, which is empty unless the page may show more than one site (one site needs no label)."""
    settings: Settings = request.app.state.settings
    if not settings.sites or not user:
        return {"site_choices": [], "site_picked": None, "site_of_row": _no_site}
    scope = scope_of(request, user)
    several = scope.picked is None and len(scope.sites) != 1

    def site_of_row(connector: str | None) -> str:
        site = settings.site_of(connector) if several else None
        return settings.sites[site].name if site is not None else ""

    return {"site_choices": [(key, settings.sites[key].name) for key in scope.choices],
            "site_picked": scope.picked, "site_of_row": site_of_row}


def _no_site(connector: str | None) -> str:
    return ""


# What a path parameter names, the table and column that give its source, and the 404 its
# route gives for one that does not exist (the same answer for one of another site).
_NAMED: dict[str, tuple[Any, str]] = {
    "appointment_id": (A, "no such appointment"),
    "slot_id": (FREED_SLOTS.c, "no such waitlist slot"),
    "entry_id": (WAITLIST_ENTRIES.c, "no such entry waiting"),
}
_ACTION = "no such desk action"


def _source_of(store: Store, name: str, value: int) -> tuple[bool, str | None]:
    """(found, its source) of the row a path parameter names."""
    with store.engine.connect() as connection:
        if name == "action_id":
            row = connection.execute(select(A.connector).select_from(DESK_ACTIONS.join(
                table_of(Appointment), A.id == DESK_ACTIONS.c.appointment_id))
                .where(DESK_ACTIONS.c.id == value)).first()
        else:
            columns = _NAMED[name][0]
            row = connection.execute(select(columns.connector).where(columns.id == value)).first()
    return (row is not None, row.connector if row is not None else None)


def named_in_path(request: Request) -> list[tuple[str, int]]:
    """The rows this request's path names (``/ui/appointments/7/actions``: appointment 7)."""
    out = []
    for name in (*_NAMED, "action_id"):
        raw = request.path_params.get(name)
        value = int(raw) if isinstance(raw, str) and raw.isdigit() else raw if isinstance(raw, int) else None
        if value is not None and 1 <= value <= ROW_ID_MAX:  # anything else is the route's own 422
            out.append((name, value))
    return out


def require_in_scope(request: Request, user: str = Depends(require_user)) -> Scope:
    """Every /ui page's guard: a visit, desk action, waitlist slot or entry named in the path
    that is missing or of a source outside the user's scope answers 404 before anything else
    (before the form's CSRF check too, so "missing" and "another practice's" look alike to
    everyone). A user of every site pays nothing."""
    scope = scope_of(request, user)
    if scope.everything:
        return scope
    store: Store = request.app.state.store
    for name, value in named_in_path(request):
        found, connector = _source_of(store, name, value)
        if not found or not scope.allows(connector):
            raise HTTPException(404, _NAMED[name][1] if name in _NAMED else _ACTION)
    return scope


def appointment_in_scope(store: Store, scope: Scope, appointment_id: int | None) -> bool:
    """Whether a visit named elsewhere than the path (``?appointment=``, a form field) is the user's."""
    if appointment_id is None or scope.everything:
        return True
    with store.engine.connect() as connection:
        connector = connection.execute(select(A.connector).where(A.id == appointment_id)).scalar()
    return connector is not None and scope.allows(connector)


def sites_shown(settings: Settings, connectors: Iterable[str | None]) -> list[str]:
    """The sites of the sources of the records a page showed (sorted, each once); a source of no
    site (no `sites:`, an orphan) adds none."""
    return sorted({s for s in (settings.site_of(c) for c in set(connectors)) if s is not None})


_KINDS: dict[str, Any] = {"appointment": A, "quarantine": QUARANTINE.c, "waitlist": WAITLIST_ENTRIES.c}


def log_view(request: Request, user: str, role: str, view: str, ids: list[int], kind: str = "appointment",
             now: datetime | None = None) -> None:
    """The access-log row of a page that showed patients (sync/runs/access_log.py), with the sites of
    what it showed (each record's source's, as the settings say now) and the user's scope, so a
    reader can check that no one looked outside their practice. ``kind`` says what ``ids`` are."""
    settings: Settings = request.app.state.settings
    store: Store = request.app.state.store
    sites: list[str] = []
    if settings.sites and ids:
        columns = _KINDS[kind]
        with store.engine.connect() as connection:
            found = connection.execute(select(columns.connector).where(columns.id.in_(ids)).distinct()).scalars()
            sites = sites_shown(settings, list(found))
    scope = scope_of(request, user).logged() if settings.sites else ""  # one practice: nothing to tell apart
    record_phi_view(store, user, role, view, ids, now, sites=sites, scope=scope)
