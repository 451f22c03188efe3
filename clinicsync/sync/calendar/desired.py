"""The truth, read from the store: which calendar each appointment belongs in and what
its event must say (or that it must not be there). Pure apart from one bulk select.

An appointment whose inputs are those its pushed event was rendered from (the link's
``rendered_from``: its row with its people and place, the settings that shape an event,
this code's version) is not rendered again: a run that changes nothing costs one read and
one hash per appointment, not a render."""

from __future__ import annotations

import hashlib
import re
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache, partial
from importlib import metadata
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
from sqlalchemy import Engine, select, type_coerce
from sqlalchemy.types import NullType

from clinicsync.common.timeutil import zone
from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.sync.calendar.privacy import shown as unless_contact
from clinicsync.sync.calendar.provider import EventContent, Target, built, event_id
from clinicsync.sync.config.settings.calendar import (
    DEFAULT_DESCRIPTION,
    DEFAULT_SITE_DESCRIPTION,
    SITE_NAMES,
    CalendarSettings,
    template_environment,
)
from clinicsync.sync.ingest.orphans import retired_sources
from clinicsync.sync.runs.setaside import Item, open_keys, resolve, run_isolated
from clinicsync.sync.store.bulk import converted, result_processors
from clinicsync.sync.store.changes import CANCELLED_STATUSES
from clinicsync.sync.store.tables import APPOINTMENTS, LOCATIONS, PATIENTS, PRACTITIONERS, with_people

if TYPE_CHECKING:
    from clinicsync.sync.calendar.templates import Memoized

A, P, D, L = APPOINTMENTS.c, PATIENTS.c, PRACTITIONERS.c, LOCATIONS.c
_FILE_UNSAFE = re.compile(r"[^a-z0-9@._+-]+")
_MEMO_SIZE = 20_000  # initials kept per run


class Desired(NamedTuple):
    """One appointment's desired state (a tuple: a first push builds one per appointment, and a
    frozen dataclass cost three times as much to build)."""

    appointment_id: int
    event_id: str
    target: Target | None  # None: its practitioner has no calendar
    content: EventContent | None  # None: no calendar may show it
    practitioner: str | None  # "connector/id", for reports of unmapped practitioners
    source: str | None = None  # what ``content`` is rendered from (source_digest), when the caller asked
    # Not rendered: its inputs are those its pushed event (the link for ``target``) was rendered
    # from, so its content is what that event holds (``content`` is then None, meaning nothing).
    unchanged: bool = False

    @property
    def skipped(self) -> bool:
        """It would be shown, but nobody's calendar takes it."""
        return self.target is None and self.content is not None and not self.unchanged


# Desired(...) of every field, in order, without the NamedTuple's generated __new__ (a Python
# call per appointment): the tuple's own constructor.
_desired: Callable[[tuple[Any, ...]], Desired] = partial(tuple.__new__, Desired)


def initials(name: str | None) -> str:
    """'Jamal Weber' → 'J.W.': first and last name only, so a calendar never holds the name."""
    parts = [p for p in re.split(r"[\s,]+", name or "") if p and p[0].isalpha()]
    if not parts:
        return ""
    chosen = parts if len(parts) == 1 else [parts[0], parts[-1]]
    return "".join(f"{p[0].upper()}." for p in chosen)


class Router:
    """Practitioner → calendar: the first matching rule, else the default (their own email).
    Routed once per doctor and run: a practice's appointments share a handful of doctors."""

    def __init__(self, settings: CalendarSettings) -> None:
        self.settings = settings
        self._routed: dict[tuple[str, str | None, str | None], Target | None] = {}

    def target(self, connector: str, practitioner_id: str | None, email: str | None,
               name: str | None = None) -> Target | None:
        """``name``: the practitioner's, which names the calendar for people (X-WR-CALNAME)."""
        key = (connector, practitioner_id, email)
        try:
            return self._routed[key]
        except KeyError:
            found = self._route(connector, practitioner_id, email)
            if found is not None and name and name.strip():
                found = replace(found, name=name.strip())
            self._routed[key] = found
            return found

    def _route(self, connector: str, practitioner_id: str | None, email: str | None) -> Target | None:
        if practitioner_id is None:
            return None
        email = email.strip().lower() if email else None
        for rule in self.settings.calendars:
            if rule.matches(connector, practitioner_id, email):
                if rule.skip:
                    return None
                return self._make(rule.calendar_id, rule.user.lower() if rule.user else None, email)
        return None if self.settings.default == "skip" else self._make(None, None, email)

    def _make(self, calendar_id: str | None, user: str | None, email: str | None) -> Target | None:
        provider = self.settings.provider
        if provider == "ics":
            name = calendar_id or user or email
            return Target("ics", "", _FILE_UNSAFE.sub("_", name.lower())) if name else None
        if calendar_id is not None:  # a shared calendar: as the given user, else as the service account
            return Target(provider, user or "", calendar_id)
        account = user or email
        return Target(provider, account, "primary") if account else None


RENDERING = 2  # bump when Renderer.content says something else for the same row and settings


def _version() -> str:
    try:
        return metadata.version("clinicsync")
    except metadata.PackageNotFoundError:
        return "unknown"


# Context values that cost more than reading a column: worked out only when a template uses them.
_COMPUTED = frozenset({"patient_initials", "start_local", "end_local", *SITE_NAMES})
# The names every context holds (Renderer.content).
_CONTEXT = frozenset({"type", "status", "cancelled", "noshow", "patient_name", "patient_phone", "practitioner_name",
                      "location", "timezone", "connector", "appointment_id", "visit_mode", "join_url", "dial_in",
                      "patient_cancelled", "source"})


@lru_cache(maxsize=1)
def _environment() -> Any:
    """One template environment for every run: the compiled templates are cached per
    environment (templates.compiled), so a fresh one each pass would compile them again."""
    return template_environment()


def _names(env: Any, source: str) -> set[str]:
    """The names a template reads from its context."""
    from clinicsync.sync.calendar.templates import compiled

    return set(compiled(env, source)[2])


HALF = 16  # hex digits of each half of a source digest (the link's rendered_from holds 32)


def rerendered(rendered_from: str | None, source: str | None) -> bool:
    """Whether an event rendered from ``rendered_from`` and due again from ``source`` is only
    rendered again because the settings that shape an event changed (a template, privacy, the
    version): the row it shows is the same. False when either is unknown or the row changed."""
    return (rendered_from is not None and source is not None and len(rendered_from) == 2 * HALF
            and rendered_from[HALF:] == source[HALF:] and rendered_from[:HALF] != source[:HALF])


_TEMPLATE_CODE = re.compile(r"\{[{%](.*?)[}%]\}", re.DOTALL)
_SITE_NAME = re.compile(r"\b(?:" + "|".join(sorted(SITE_NAMES)) + r")\b")


def _names_a_site(*templates: str) -> bool:
    """Whether a template's code (inside ``{{ }}`` or ``{% %}``) names a site variable, read
    without jinja2 so that an idle pass still compiles nothing: a word in the text around it is
    not a name, and a false yes costs one re-render of the calendar, never a wrong event."""
    return any(_SITE_NAME.search(code) for template in templates for code in _TEMPLATE_CODE.findall(template))


class _Templates(NamedTuple):
    """The event templates compiled for a run, and the costly context values they read."""

    summary: Memoized
    description: Memoized
    wants_initials: bool
    wants_local: bool
    wants_site: bool


def _compiled_templates(summary: str, description: str) -> _Templates:
    from clinicsync.sync.calendar.templates import Memoized

    env = _environment()
    names = {*_names(env, summary), *_names(env, description)}
    known = _CONTEXT | (_COMPUTED & names)  # what every context of this run holds
    return _Templates(Memoized(env, summary, known), Memoized(env, description, known),
                      "patient_initials" in names, bool(names & {"start_local", "end_local"}),
                      bool(names & SITE_NAMES))


class Renderer:
    def __init__(self, settings: CalendarSettings) -> None:
        self.sites = settings.sites  # connector -> its practice; empty without `sites:`
        self.clinic = settings.clinic_site
        description = settings.description
        if self.sites and description == DEFAULT_DESCRIPTION:
            description = DEFAULT_SITE_DESCRIPTION  # "edit the appointment in North Dental's system"
        # The templates are compiled (jinja2 imported, parsed, compiled) on the first event
        # rendered, not here: a pass whose every event is unchanged (an idle cron run) renders
        # none. Settings validation has compiled them already, so an error cannot
        # first show here.
        self.settings = settings
        self._sources = (settings.summary, description)
        self._templates: _Templates | None = None
        self.invite = settings.invite_patient
        self.mark_cancelled = settings.cancelled_action == "mark_cancelled"
        self.patient_cancelled = settings.patient_cancelled
        self.create_meet = settings.provider == "google" and settings.google.create_meet
        self._initials: dict[str | None, str] = {}  # per patient name: patients come back
        # Everything :meth:`content` reads besides the row, to key what it renders (source_digest):
        # a change of any of these renders every appointment again. RENDERING and the package's
        # version stand for this code. A file without sites whose templates name no site is
        # keyed exactly as before sites existed (an upgrade re-renders nobody's calendar).
        base: dict[str, Any] = {
            "summary": settings.summary, "description": description, "invite": self.invite,
            "mark_cancelled": self.mark_cancelled, "patient_cancelled": self.patient_cancelled,
            "create_meet": self.create_meet, "provider": settings.provider, "rendering": RENDERING,
            "version": _version()}
        if self.sites or _names_a_site(settings.summary, description):
            base["site"] = list(self.clinic)
        if settings.systems:  # a file without labels is keyed as before they were shown
            base["systems"] = settings.systems
        self.key = orjson.dumps(base, option=orjson.OPT_SORT_KEYS)
        # source_digest's first half: the key hashed once per run; with sites, once per site,
        # its name, phone and address in it, so that renaming one site re-renders its events only.
        self.keyed = hashlib.blake2b(self.key, digest_size=HALF // 2).hexdigest()
        per_site = {site: hashlib.blake2b(orjson.dumps({**base, "site": list(site)}, option=orjson.OPT_SORT_KEYS),
                                          digest_size=HALF // 2).hexdigest() for site in set(self.sites.values())}
        self._keyed_by_connector = {connector: per_site[site] for connector, site in self.sites.items()}
        # Every first half an event rendered under these settings has (calendar status).
        self.keys = frozenset({self.keyed, *per_site.values()})

    def source_digest(self, row: Any) -> str:
        """What an event rendered from ``row`` is rendered from: :attr:`key`'s hash, then the
        row's (the appointment with its patient, doctor and place, as read for rendering), 16
        hex digits each. Two halves, so that a link tells a settings edit (the first half
        differs, the row's is the same: :func:`rerendered`) from a change of the visit."""
        keyed = self._keyed_by_connector.get(row.connector, self.keyed) if self.sites else self.keyed
        return keyed + hashlib.blake2b(orjson.dumps(tuple(row)), digest_size=HALF // 2).hexdigest()

    def initials(self, name: str | None) -> str:
        found = self._initials.get(name)
        if found is None:
            if len(self._initials) >= _MEMO_SIZE:
                self._initials.clear()
            found = self._initials[name] = initials(name)
        return found

    def shown_as(self, row: Any) -> tuple[bool, bool] | None:
        """How ``row``'s event shows, decided without rendering it: None when no calendar may
        show it, else (cancelled, declined: the patient said no while the source still holds
        it booked). ``content`` renders from this; `calendar status` counts by it alone."""
        status = row.status
        gone = row.deleted_at is not None or status in CANCELLED_STATUSES
        # The patient said no (SMS reply, answer link) but the source still holds the visit
        # booked: its write-back is unsupported (a CSV drop) or not through yet. The event must
        # not read as an ordinary booked visit, so its title says so: calendar.patient_cancelled.
        declined = (not gone and status in ACTIVE_STATUSES and row.participation == "declined"
                    and self.patient_cancelled != "keep")
        if declined and self.patient_cancelled == "cancel":
            gone = True
        if gone and not self.mark_cancelled:
            return None
        if not gone and status not in ACTIVE_STATUSES and status != "noshow":
            return None  # waitlist and the like: not on anyone's calendar
        return gone, declined

    @property
    def templates(self) -> _Templates:
        if self._templates is None:
            self._templates = _compiled_templates(*self._sources)
        return self._templates

    def content(self, row: Any) -> EventContent | None:
        shown = self.shown_as(row)
        if shown is None:
            return None
        templates = self.templates
        gone, declined = shown
        status = row.status
        visit_mode = row.visit_mode
        mode = visit_mode if visit_mode in ("video", "phone") else None
        # The calendar is the doctor's: their own link when the source has one, unless the
        # patient is invited (an attendee sees the same event, so it carries the patient's).
        link = (row.join_url if self.invite else (row.provider_join_url or row.join_url)) if mode == "video" else None
        # The patient's own phone or email never shows as the place, the number to dial or
        # the type, whichever field the source put it in (privacy.py); a template may ask.
        phone, email = row.p_phone, row.p_email
        dial_in = unless_contact(row.dial_in, phone, email) if mode else None
        location, kind = unless_contact(row.location, phone, email), unless_contact(row.type, phone, email)
        site = self.sites.get(row.connector, self.clinic) if self.sites else self.clinic
        if location is None and mode is None and site.key is not None:
            # Where to go, for a doctor working in two practices: the site's address (sites only:
            # a file without them keeps its events as they were).
            location = site.address
        context = {
            "type": kind, "status": "cancelled" if gone else status, "cancelled": gone,
            "noshow": status == "noshow" and not gone, "patient_name": row.p_name, "patient_phone": phone,
            "practitioner_name": row.d_name, "location": location, "timezone": row.timezone,
            "connector": row.connector, "appointment_id": row.external_id, "visit_mode": visit_mode or "in_person",
            "join_url": link, "dial_in": dial_in, "patient_cancelled": declined, "source": row.connector,
        }
        if templates.wants_site:
            context["site"], context["site_name"], context["site_phone"] = site.key, site.name, site.phone
        if templates.wants_initials:
            context["patient_initials"] = self.initials(row.p_name)
        local = zone(row.timezone)  # an unknown zone fails here whether or not a template shows the time
        if templates.wants_local:
            context["start_local"] = row.start_utc.astimezone(local).strftime("%Y-%m-%d %H:%M")
            context["end_local"] = row.end_utc.astimezone(local).strftime("%Y-%m-%d %H:%M")
        attendees: tuple[str, ...] = ()
        if self.invite and row.p_email and row.allow_email:
            attendees = (row.p_email.strip().lower(),)
        summary, description = templates.summary.render(context), templates.description.render(context)
        if declined and not gone:  # whatever the templates say: the doctor must see it, and what is left to do
            summary, description = patient_cancelled_text(summary, description,
                                                          self.settings.system_name(row.connector))
        return built(  # EventContent(...) without its __init__: every field, in order (provider.built)
            EventContent, connector=row.connector, external_id=row.external_id, summary=summary,
            description=description, location=location, start=row.start_utc, end=row.end_utc, timezone=row.timezone,
            cancelled=gone, attendees=attendees, visit_mode=mode, join_url=link, dial_in=dial_in,
            create_meet=self.create_meet and mode == "video" and link is None and not gone,
            patient_cancelled=declined and not gone)


PATIENT_CANCELLED_TITLE = "Cancelled by patient: "


def patient_cancelled_text(summary: str, description: str, source: str) -> tuple[str, str]:
    """The title and body of an event whose patient cancelled while the source still holds
    the slot: said first in both, with what the clinic still has to do, in the system
    ``source`` names as the clinic calls it (its ``label:``)."""
    if not summary.startswith(PATIENT_CANCELLED_TITLE):
        summary = PATIENT_CANCELLED_TITLE + summary
    note = (f"Cancelled by patient — still booked in {source}: the front desk cancels or rebooks it there, "
            "which frees the slot.")
    return summary, f"{note}\n{description}" if description else note


STAGE = "calendar"


def window_start(settings: CalendarSettings, now: datetime) -> datetime:
    return now - timedelta(days=settings.past_days)


_COLUMNS: list[Any] = [
    A.id, A.connector, A.external_id, A.status, A.start_utc, A.end_utc, A.timezone, A.type, A.deleted_at,
    A.practitioner_ref, P.name.label("p_name"), P.phone.label("p_phone"), P.email.label("p_email"),
    P.allow_email, D.name.label("d_name"), D.email.label("d_email"), L.name.label("location"), A.visit_mode,
    A.join_url, A.provider_join_url, A.dial_in, A.participation]
TruthRow = namedtuple("TruthRow", [c.key for c in _COLUMNS])  # type: ignore[misc]
_truth_row = partial(tuple.__new__, TruthRow)  # TruthRow._make without its Python call per row
_TIMES = (A.start_utc, A.end_utc, A.deleted_at)
_AT = frozenset(i for i, c in enumerate(_COLUMNS) if any(c is t for t in _TIMES))
_STORED = 26  # len("2027-01-04 13:15:00.000000"): how SQLAlchemy stores a date-time in SQLite
_aware = datetime.fromisoformat


def _stored_time(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLite's date-time text as the column type reads it (aware UTC), by the C parser when it
    is in the form SQLAlchemy writes (every value the store wrote): its regular expression cost
    ~2 µs per distinct value, two per appointment. Any other form goes through ``process``.
    The text is parsed with a ``+00:00`` offset, which gives ``UTC`` itself as the zone (the
    datetime module's one UTC instance): ``.replace(tzinfo=UTC)`` parsed its keywords for
    ~9,000 instructions a value (callgrind), about one value per appointment."""

    def convert(value: Any) -> Any:
        if isinstance(value, str) and len(value) == _STORED and value[10] == " " and value[19] == ".":
            try:
                return _aware(value + "+00:00")
            except ValueError:
                pass
        return process(value)

    return convert


def _rows(engine: Engine, since: datetime, after_id: int = 0, limit: int | None = None) -> list[Any]:
    """Appointments in the window with the fields an event needs, by id: ``limit`` of them
    after ``after_id`` (a page: no cursor stays open while the stage writes). Read as the
    driver's tuples (SQLAlchemy's rows cost ~5 µs per appointment of a first push); the
    columns whose type converts what the driver returns (date-times, booleans) are converted
    here as SQLAlchemy would, a column at a time and each distinct value once (slots repeat
    across doctors)."""
    raw = [type_coerce(c, NullType()).label(c.key) for c in _COLUMNS]  # no processing: done below
    query = (
        select(*raw)
        .select_from(with_people())
        .where(A.end_utc >= since, A.id > after_id)
        .order_by(A.id)
        .limit(limit)
    )
    with engine.connect() as connection:
        result = connection.execute(query)
        try:
            rows = result.cursor.fetchall() if result.cursor is not None else []
        finally:
            result.close()
        processors = result_processors(connection, _COLUMNS)
        if connection.dialect.name == "sqlite":
            processors = [_stored_time(p) if i in _AT and p is not None else p for i, p in enumerate(processors)]
    if not rows:
        return []
    columns: list[Any] = list(zip(*rows, strict=True))
    for at, process in enumerate(processors):
        if process is not None:
            columns[at] = converted(process, columns[at])
    return list(map(_truth_row, zip(*columns, strict=True)))


def practitioner_key(row: Any) -> str | None:
    """How reports name a row's practitioner: "connector/id"."""
    return f"{row.connector}/{row.practitioner_ref}" if row.practitioner_ref else None


def row_pages(engine: Engine, since: datetime, size: int = 5000) -> Iterator[list[Any]]:
    """The appointments in the window ``size`` at a time, by id."""
    after = 0
    while rows := _rows(engine, since, after, size):
        yield rows
        after = rows[-1].id


def truth_pages(engine: Engine, settings: CalendarSettings, now: datetime,
                size: int = 5000) -> Iterator[list[Desired]]:
    """The truth ``size`` appointments at a time, so the stage's memory does not grow with
    the store (a 200,000-appointment first push held every event's content at once)."""
    for page, _ in changed_pages(engine, settings, now, None, size):
        yield page


Pushed = Callable[[Sequence[int]], Mapping[int, Sequence[Any]]]  # appointment ids -> their links


def changed_pages(engine: Engine, settings: CalendarSettings, now: datetime, pushed: Pushed | None,
                  size: int = 5000) -> Iterator[tuple[list[Desired], Mapping[int, Sequence[Any]]]]:
    """:func:`truth_pages` with each page's links (``pushed``: links.links_of for a provider),
    every appointment's ``source`` worked out, and those whose link for their calendar was
    rendered from that same source not rendered again (``unchanged``). Without ``pushed``,
    every appointment is rendered and the links are empty."""
    router, renderer = Router(settings), Renderer(settings)
    since = window_start(settings, now)
    set_aside = open_keys(engine, STAGE)  # tried again every pass: the stage is state-based
    with engine.connect() as connection:
        retired = retired_sources(connection)  # `clinicsync source retire`: their events go

    def add(row: Any, page: list[Desired], links: Mapping[int, Sequence[Any]]) -> None:
        target = router.target(row.connector, row.practitioner_ref, row.d_email, row.d_name)
        practitioner = practitioner_key(row)
        if retired and row.connector in retired:  # no calendar shows it: an event pushed is deleted
            page.append(_desired((row.id, event_id(row.connector, row.external_id), target, None, practitioner,
                                  None, False)))
            return
        source = renderer.source_digest(row) if pushed is not None else None
        if source is not None and target is not None and (not set_aside or f"appointment:{row.id}" not in set_aside):
            for link in links.get(row.id, ()):
                if (link.target == target and link.rendered_from == source and link.state == "present"
                        and link.pushed_hash is not None):
                    page.append(Desired(row.id, link.event_id, target, None, practitioner, source, True))
                    return
        page.append(_desired((row.id, event_id(row.connector, row.external_id), target, renderer.content(row),
                              practitioner, source, False)))

    for rows in row_pages(engine, since, size):
        links = pushed([row.id for row in rows]) if pushed is not None else {}
        page: list[Desired] = []
        # Rendering writes nothing, so a page is rendered whole first; only if one appointment
        # fails is it rendered again one appointment at a time (run_isolated), so that the one
        # that failed is set aside and the others go (an isolation per row cost ~5 % of a push).
        try:
            for row in rows:
                add(row, page, links)
        except Exception:
            page = []
            for row in rows:
                key = f"appointment:{row.id}"
                outcome = run_isolated(engine, Item(STAGE, key, row.id, row.connector, row.external_id),
                                       partial(add, row, page, links), now=now)
                if key in set_aside and not outcome.failed:
                    with engine.begin() as connection:
                        resolve(connection, STAGE, [key], now)
        else:
            fixed = [key for row in rows if (key := f"appointment:{row.id}") in set_aside] if set_aside else []
            if fixed:
                with engine.begin() as connection:
                    resolve(connection, STAGE, fixed, now)
        yield page, links


def load_truth(engine: Engine, settings: CalendarSettings, now: datetime) -> list[Desired]:
    """Every appointment in the window (ended at most ``past_days`` ago), with its desired state."""
    return [desired for page in truth_pages(engine, settings, now) for desired in page]
