"""The ``fhir`` connector: Appointment search on a FHIR R4 server, incremental by
``_lastUpdated`` (or a date window), each Bundle page one batch with its cursor."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote

import orjson
import structlog

from clinicsync.common.schedule import Schedule
from clinicsync.common.timeutil import iso_z
from clinicsync.common.types import utcnow
from clinicsync.connectors.base import (
    Batch,
    CheckResult,
    Condition,
    Connector,
    ConnectorError,
    ConnectorSettings,
    Cursor,
    FatalConnectorError,
    IdListing,
    Lookup,
    RawRecord,
    Rejected,
    RetriableConnectorError,
    Sample,
    WritebackAction,
    WritebackUnsupported,
)
from clinicsync.connectors.fhir.auth import build_auth
from clinicsync.connectors.fhir.booking import booked_appointment, identifier_token, if_none_exist
from clinicsync.connectors.fhir.capability import assess, read_capability
from clinicsync.connectors.fhir.client import FHIR_JSON, FhirClient, server_time
from clinicsync.connectors.fhir.cursor import FhirCursor, Listing, floor_second
from clinicsync.connectors.fhir.errors import FhirStatusError
from clinicsync.connectors.fhir.fanout import FanOut
from clinicsync.connectors.fhir.notifications import resource_key
from clinicsync.connectors.fhir.prefetch import ReadAhead
from clinicsync.connectors.fhir.references import ReferenceResolver, pick_participants
from clinicsync.connectors.fhir.settings import FhirSettings
from clinicsync.connectors.fhir.shape import items, obj
from clinicsync.connectors.fhir.waitlist import waitlist_batches
from clinicsync.connectors.fhir.writeback import apply_answer, check_action
from clinicsync.connectors.waitlist_booking import BookingRefused, BookingRequest, BookingResult

log = structlog.get_logger("clinicsync.fhir")
ID_SEARCH_REFUSED = "fhir.sweep.id_search_refused"
ID_SEARCH_IGNORED = "fhir.sweep.id_search_ignored"
# The server refused the sweep's id-only search (`_elements=id`): it lists whole resources instead.
ELEMENTS_REFUSED = "fhir.sweep.elements_refused"
# What a server answers a search parameter it does not support (HAPI's strict handling: 400 with
# an OperationOutcome "Unknown search parameter"; others 422, 405 or 501).
_PARAMETER_REFUSED = (400, 405, 422, 501)
# A stored next link the server no longer knows: start the listing over.
_FORGOTTEN_SEARCH = (400, 404, 410)
# Ids per `_id` search of the delete sweep's look-up (`records_by_id`): a URL of ~50 ids stays
# far below the 8 KiB a server or proxy accepts in a request line, with ids up to FHIR's 64.
LOOKUP_CHUNK = 50


class FhirConnector(Connector):
    kind = "fhir"
    reads_current_state = True  # a read of the source as it is now (Connector.reads_current_state)
    settings_model = FhirSettings
    settings: FhirSettings
    remembers = ((ELEMENTS_REFUSED, "sweep"),)

    def __init__(self, settings: ConnectorSettings) -> None:
        assert isinstance(settings, FhirSettings)
        super().__init__(settings)
        headers = settings.header_values()
        self.client = FhirClient(
            settings.name, settings.base_url, build_auth(settings.auth, settings.name, settings.base_url, headers),
            timeout=settings.timeout_seconds, http2=settings.http2,
            attempts=settings.retry.attempts, max_wait=settings.retry.max_wait_seconds, headers=headers)

    def close(self) -> None:
        self.client.close()

    # -- search -------------------------------------------------------------------------
    def search_params(self, cursor: FhirCursor) -> list[tuple[str, str]]:
        params = [("_count", str(self.settings.page_size))]
        params += [("_include", f"Appointment:{name}") for name in self.settings.include]
        last_updated = cursor.last_updated_param()
        if last_updated:
            params.append(("_lastUpdated", last_updated))
        else:
            params += self._window_params(utcnow())
        return params + self._configured_params()

    def _window_params(self, now: datetime) -> list[tuple[str, str]]:
        """The date window's bounds as a date-window read (and the delete sweep) send them."""
        window = self.settings.window
        return [("date", f"ge{iso_z(now - window.back_delta)}"), ("date", f"lt{iso_z(now + window.ahead_delta)}")]

    def _configured_params(self) -> list[tuple[str, str]]:
        """``search:`` as parameters: every search of the connector's own, the sweep's too."""
        return [(key, item) for key, value in self.settings.search.items()
                for item in (value if isinstance(value, list) else [value])]

    def _first_page(self, cursor: FhirCursor) -> tuple[dict[str, Any], Listing]:
        bundle, response = self.client.get_json("Appointment", self.search_params(cursor))
        started = floor_second(server_time(response) or utcnow())
        return bundle, Listing(started=started, overlap=cursor.overlap)

    def _resume(self, cursor: FhirCursor) -> tuple[dict[str, Any], Listing]:
        listing = cursor.listing
        if listing is not None and listing.next:
            try:
                bundle, _ = self.client.get_json(listing.next)
                return bundle, listing
            except FhirStatusError as exc:
                if exc.status not in _FORGOTTEN_SEARCH:
                    raise
                log.info("fhir.listing.restart", connector=self.name, status=exc.status, pages_done=listing.pages)
        return self._first_page(cursor)

    def fetch(self, cursor: Cursor | None) -> Iterator[Batch]:
        if self.settings.fan_out is not None:  # one search per actor (connectors/fhir/fanout.py)
            yield from FanOut(self).fetch(cursor)
            return
        state = FhirCursor.load(cursor, self.settings.cursor, timedelta(seconds=self.settings.overlap_seconds),
                                self.name)
        resolver = ReferenceResolver(self.client, self.note_condition)
        bundle, listing = self._resume(state)
        followed: set[str] = set()
        skipped = 0
        ahead = ReadAhead(f"fhir-prefetch-{self.name}")
        try:
            while True:
                listing.pages += 1
                records, rejected, already = self._page(bundle, listing, state, resolver)
                skipped += already
                next_link = _next_link(bundle)
                source = f"Appointment page {listing.pages}"
                if next_link is None:
                    yield Batch(records, state.completed(listing), rejected, source=source)
                    break
                if next_link in followed:
                    raise FatalConnectorError(f"connector {self.name}: the server repeated a next link on page "
                                              f"{listing.pages}; stopping instead of looping")
                followed.add(next_link)
                listing.next = self.client.url(next_link)
                # Read the next page while this one is stored; its cursor still points at that page.
                page = ahead.submit(partial(self.client.get_json, listing.next))
                yield Batch(records, state.in_progress(listing), rejected, source=source)
                bundle, _ = page.result()
        finally:
            ahead.close()
        log.info("fhir.fetched", connector=self.name, pages=listing.pages, already_stored=skipped,
                 reference_reads=resolver.reads, references_unavailable=resolver.unavailable or None)

    def _page(self, bundle: dict[str, Any], listing: Listing, state: FhirCursor,
              resolver: ReferenceResolver) -> tuple[list[RawRecord], list[Rejected], int]:
        if bundle.get("resourceType") != "Bundle":
            raise FatalConnectorError(f"connector {self.name}: the search answered a {bundle.get('resourceType')}, "
                                      "not a Bundle")
        appointments: list[tuple[int, dict[str, Any]]] = []
        rejected: list[Rejected] = []
        for index, entry in enumerate(items(bundle.get("entry"))):
            resource = obj(entry).get("resource")
            kind = resource.get("resourceType") if isinstance(resource, dict) else None
            if not isinstance(kind, str):
                # Never dropped silently: an entry without a resource (or one with no type) is
                # quarantined, so a page of them does not read as "fetched 0, all fine".
                rejected.append(Rejected(f"Appointment page {listing.pages} entry {index}", _not_a_resource(entry),
                                         raw=orjson.dumps(entry, default=str).decode()))
                continue
            assert isinstance(resource, dict)
            mode = obj(entry.get("search")).get("mode")
            if kind == "Appointment" and mode != "include":
                appointments.append((index, resource))
            elif kind == "OperationOutcome":
                log.warning("fhir.search.outcome", connector=self.name, page=listing.pages,
                            issues=len(items(resource.get("issue"))))
            else:
                resolver.add(resource)
        records: list[RawRecord] = []
        already = waiting = 0
        for index, appointment in appointments:
            rid = appointment.get("id")
            if not isinstance(rid, str) or not rid:
                rejected.append(Rejected(f"Appointment page {listing.pages} entry {index}",
                                         "Appointment without an id"))
                continue
            listing.saw(rid, appointment)
            if appointment.get("status") == "waitlist":
                waiting += 1  # a waiting patient, not a booking: the waitlist listing reads it
                continue
            if state.already_stored(rid, appointment):
                already += 1
                continue
            records.append(self.record(appointment, resolver))
        if waiting:
            log.info("fhir.waitlist_left_out", connector=self.name, page=listing.pages, appointments=waiting,
                     read_by_waitlist=self.settings.waitlist)
        return records, rejected, already

    def record(self, appointment: dict[str, Any], resolver: ReferenceResolver) -> RawRecord:
        """One Appointment (with an id) as the mapping reads it: its patient, practitioner and
        location resolved, its position naming the version. Polls and pushed notifications
        (sync/server/fhir_hooks.py) both shape records here."""
        rid = str(appointment["id"])
        data = resolver.enrich(appointment)
        if self.settings.timezone:
            data["_timezone"] = self.settings.timezone
        version = obj(appointment.get("meta")).get("versionId")
        position = f"Appointment/{rid}/_history/{version}" if version else f"Appointment/{rid}"
        return RawRecord(data, position, record_id=rid)

    def read_appointment(self, rid: str) -> dict[str, Any] | None:
        """The Appointment as the server has it now; None when it is gone (404, 410)."""
        try:
            resource, _ = self.client.get_json(f"Appointment/{quote(rid, safe='')}")
        except FhirStatusError as exc:
            if exc.status in (404, 410):
                return None
            raise
        if resource.get("resourceType") != "Appointment" or resource.get("id") != rid:
            raise FatalConnectorError(f"connector {self.name}: reading an Appointment answered a "
                                      f"{resource.get('resourceType')} with another id")
        return resource

    def subscription_status(self, reference: str) -> str | None:
        """``GET Subscription/<id>``: its status; ``deleted`` when the server answers 404/410
        (deleted, or removed once its ``end`` passed); ``off`` once its ``end`` has passed."""
        key = resource_key(reference)
        if key is None or key[0] != "Subscription":
            return None
        try:
            resource, _ = self.client.get_json(f"Subscription/{quote(key[1], safe='')}")
        except FhirStatusError as exc:
            if exc.status in (404, 410):
                return "deleted"
            raise
        status, end = resource.get("status"), resource.get("end")
        if isinstance(end, str):
            with suppress(ValueError):  # an instant has its offset; a malformed one is not read
                ended = datetime.fromisoformat(end)
                if ended.tzinfo is not None and ended <= utcnow():
                    return "off"
        return status if isinstance(status, str) else None

    # -- waitlist -----------------------------------------------------------------------
    def reads_waitlist(self) -> bool:
        return self.settings.waitlist

    def waitlist(self) -> Iterator[Batch]:
        """Every Appointment with status waitlist (connectors/fhir/waitlist.py)."""
        yield from waitlist_batches(self)

    # -- delete sweep -------------------------------------------------------------------
    def sweep_schedule(self) -> Schedule | None:
        """In both cursor modes: a resource the server hard-deleted is simply no longer found,
        neither by a ``_lastUpdated`` search nor by a date-window read, so only a listing of
        the window's ids shows that it is gone (a soft delete, status=cancelled, is an update
        the poll reads)."""
        return self.settings.delete_sweep

    def list_ids(self) -> IdListing:
        """The window's Appointment ids: the connector's own search (date window, ``search:``,
        per actor under fan_out) asking for ids only (``_elements=id``), no includes, every
        page followed. Anything short of a whole listing raises (nothing is deleted): a page
        that fails after its retries, a refused search, an error in the Bundle, fewer ids than
        the server's ``total`` (a page shifted under us while paging).

        A strict server refuses ``_elements`` (HAPI: 400 "Unknown search parameter"): the same
        search without it lists whole resources, their ids read from them, paged. Heavier, the
        same answer; so the refusal is no failure of the run. It is remembered
        (``ELEMENTS_REFUSED``, kept by sync/ in the store and handed back in ``standing``): the
        next sweeps go straight to the plain search, and it is logged once, not at every run."""
        if self.id_columns != ("id",):
            raise FatalConnectorError(
                f"connector {self.name}: the mapping reads the appointment id from "
                f"{', '.join(self.id_columns) or 'no field'}, not from the resource id the delete sweep lists; "
                "set delete_sweep: off")
        now = utcnow()
        configured = [(k, v) for k, v in self._configured_params() if k != "_elements"]  # ours asks for the id
        params = [("_count", str(self.settings.page_size)), *self._window_params(now), *configured]
        if self.settings.fan_out is None:
            searches = [params]
        else:
            by = self.settings.fan_out.by
            searches = [[*params, (by, actor)] for actor in FanOut(self).actors()]
        plain = (ELEMENTS_REFUSED, "sweep") in self.standing
        ids: dict[str, None] = {}
        for search in searches:
            if not plain:
                try:
                    ids.update(dict.fromkeys(self._listed_ids([*search, ("_elements", "id")])))
                    continue
                except FhirStatusError as exc:
                    if exc.status not in _PARAMETER_REFUSED:
                        raise FatalConnectorError(f"{exc}; the delete sweep's id-only search (_elements=id) "
                                                  "failed, nothing was deleted") from None
                    plain = True
                    refused = exc.status
                    log.info("fhir.sweep.plain_search", connector=self.name, status=refused)
            ids.update(dict.fromkeys(self._listed_ids(search, plain=True)))
        if plain:
            self.note_condition(Condition(
                ELEMENTS_REFUSED, "sweep", holds=True, state="plain search", remind=False,
                fields={"instead": "the plain search (whole resources, paged), remembered for this source",
                        "detail": "the server refused _elements=id; deletions are still found"}))
        else:
            self.note_condition(Condition(ELEMENTS_REFUSED, "sweep", holds=False))
        return IdListing([{"id": rid} for rid in ids], self.settings.window.sweep_until(now),
                         self.settings.max_delete_share, self.settings.min_delete_stop)

    def _listed_ids(self, params: list[tuple[str, str]], plain: bool = False) -> list[str]:
        """Every page's Appointment ids of one search. ``plain``: a search without
        ``_elements`` (whole resources); a refusal of it is a failure of its own."""
        try:
            bundle, _ = self.client.get_json("Appointment", params)
        except FhirStatusError as exc:
            if not plain:
                raise
            raise FatalConnectorError(f"{exc}; the delete sweep's search of the window (without _elements, "
                                      "the server having refused it) was refused, nothing was deleted "
                                      "(check the connector's search: parameters, or set delete_sweep: off)") from None
        total = bundle.get("total")
        ids: list[str] = []
        followed: set[str] = set()
        while True:
            ids += self._page_ids(bundle, len(followed) + 1)
            link = _next_link(bundle)
            if link is None:
                break
            if link in followed:
                raise FatalConnectorError(f"connector {self.name}: the server repeated a next link on page "
                                          f"{len(followed) + 1} of the delete sweep; nothing was deleted")
            followed.add(link)
            bundle, _ = self.client.get_json(self.client.url(link))
        if isinstance(total, int) and not isinstance(total, bool) and len(set(ids)) < total:
            raise RetriableConnectorError(
                f"connector {self.name}: the delete sweep listed {len(set(ids))} Appointment ids where the server "
                f"counted {total} (pages shifted while paging?); nothing was deleted, the next poll sweeps again")
        return ids

    def _page_ids(self, bundle: dict[str, Any], page: int) -> list[str]:
        """One page's Appointment ids; a page that is not a whole answer raises."""
        if bundle.get("resourceType") != "Bundle":
            raise FatalConnectorError(f"connector {self.name}: the delete sweep's page {page} is a "
                                      f"{bundle.get('resourceType')}, not a Bundle; nothing was deleted")
        ids: list[str] = []
        unreadable = 0
        for entry in items(bundle.get("entry")):
            resource = obj(obj(entry).get("resource"))
            kind = resource.get("resourceType")
            if kind == "Appointment" and obj(obj(entry).get("search")).get("mode") != "include":
                if isinstance(resource.get("id"), str) and resource["id"]:
                    ids.append(resource["id"])  # one without an id is never stored: nothing to compare
            elif kind == "OperationOutcome" and any(
                    obj(issue).get("severity") in ("error", "fatal") for issue in items(resource.get("issue"))):
                raise RetriableConnectorError(f"connector {self.name}: the delete sweep's page {page} carries an "
                                              "error OperationOutcome; nothing was deleted")
            elif not isinstance(kind, str):
                # The poll quarantined it already. Its fullUrl still names the Appointment, if it
                # is one, so a stored appointment is not taken for deleted; an entry naming
                # nothing names nothing the store could hold under it, and the sweep goes on
                # (failing every sweep over one bad entry would turn one fault into an outage).
                named = _appointment_id(obj(entry).get("fullUrl"))
                if named:
                    ids.append(named)
                else:
                    unreadable += 1
        if unreadable:
            log.warning("fhir.sweep.unreadable_entries", connector=self.name, page=page, entries=unreadable)
        return ids

    def records_by_id(self, external_ids: Sequence[str]) -> Lookup:
        """The Appointments the delete sweep would delete, as the server holds them now: one
        search ``_id=a,b,c`` per ``LOOKUP_CHUNK`` ids (a base parameter of every R4 server, comma
        meaning or; Oracle Health's Appointment search takes it without an actor), with the
        poll's includes and ``search:``, shaped as the poll shapes its records. A visit moved past
        the window is found at its new time (and moved), a cancelled one cancelled; one the
        listing missed inside the window is kept; the rest is gone. A server that refuses the
        search, or ignores ``_id`` (it answers Appointments not asked for), is asked
        ``GET Appointment/{id}`` one by one instead (404, 410: gone). Anything else a page may
        fail with raises, as the listing does, and nothing is deleted."""
        resolver = ReferenceResolver(self.client, self.note_condition)
        pending = list(dict.fromkeys(external_ids))
        parts: list[Lookup] = []
        by_search = True
        try:
            for start in range(0, len(pending), LOOKUP_CHUNK):
                chunk = pending[start:start + LOOKUP_CHUNK]
                searchable = [rid for rid in chunk if "," not in rid]  # a comma would split the id in two
                searched = self._search_by_id(searchable, resolver) if by_search and searchable else None
                if searched is None:
                    by_search = by_search and not searchable  # refused or ignored: one by one from here on
                    searchable = []
                else:
                    parts.append(searched)
                parts.append(self._read_by_id([rid for rid in chunk if rid not in searchable], resolver))
        except ConnectorError as exc:
            kind = RetriableConnectorError if isinstance(exc, RetriableConnectorError) else FatalConnectorError
            raise kind(f"{exc}; the delete sweep's look-up of the {len(pending)} stored appointments its listing "
                       "lacked failed: nothing was deleted, the next poll sweeps again") from None
        lookup = Lookup([r for part in parts for r in part.records], [f for part in parts for f in part.found],
                        [r for part in parts for r in part.rejected])
        log.info("fhir.sweep.looked_up", connector=self.name, asked=len(pending), found=len(lookup.found),
                 by_search=by_search, reference_reads=resolver.reads)
        return lookup

    def _search_by_id(self, ids: list[str], resolver: ReferenceResolver) -> Lookup | None:
        """One ``_id`` search, every page followed; None when the server refuses the search
        or ignores ``_id``."""
        params = [("_id", ",".join(ids)), ("_count", str(len(ids))),
                  *[("_include", f"Appointment:{name}") for name in self.settings.include],
                  *[(k, v) for k, v in self._configured_params() if k != "_id"]]
        try:
            bundle, _ = self.client.get_json("Appointment", params)
        except FhirStatusError as exc:  # a property of the server: sync/ logs it once while it stands
            self.note_condition(Condition(ID_SEARCH_REFUSED, "sweep", holds=True, state=f"HTTP {exc.status}",
                                          fields={"status": exc.status, "instead": "GET Appointment/{id} one by one"}))
            return None
        self.note_condition(Condition(ID_SEARCH_REFUSED, "sweep", holds=False))
        probe = FhirCursor(mode="date-window", overlap=timedelta(0))
        listing = Listing(started=utcnow(), overlap=timedelta(0))
        asked = set(ids)
        found: dict[str, None] = {}
        records: list[RawRecord] = []
        rejected: list[Rejected] = []
        followed: set[str] = set()
        while True:
            listing.pages += 1
            page_ids = self._page_ids(bundle, listing.pages)
            if not asked.issuperset(page_ids):  # as a refusal: a property of the server, logged by sync/
                self.note_condition(Condition(ID_SEARCH_IGNORED, "sweep", holds=True, state="ignored",
                                              fields={"instead": "GET Appointment/{id} one by one"}))
                return None
            found.update(dict.fromkeys(page_ids))
            page_records, page_rejected, _ = self._page(bundle, listing, probe, resolver)
            records += page_records
            rejected += page_rejected
            link = _next_link(bundle)
            if link is None:
                self.note_condition(Condition(ID_SEARCH_IGNORED, "sweep", holds=False))
                return Lookup(records, [{"id": rid} for rid in found], rejected)
            if link in followed:
                raise FatalConnectorError(f"connector {self.name}: the server repeated a next link on page "
                                          f"{listing.pages} of the delete sweep's look-up")
            followed.add(link)
            bundle, _ = self.client.get_json(self.client.url(link))

    def _read_by_id(self, ids: list[str], resolver: ReferenceResolver) -> Lookup:
        """``GET Appointment/{id}`` each (404, 410: gone). A waitlist entry is found but gives
        no record: the poll leaves it out too."""
        records: list[RawRecord] = []
        found: list[dict[str, str]] = []
        for rid in ids:
            appointment = self.read_appointment(rid)
            if appointment is None:
                continue
            found.append({"id": rid})
            if appointment.get("status") != "waitlist":
                records.append(self.record(appointment, resolver))
        return Lookup(records, found)

    # -- sample -------------------------------------------------------------------------
    def sample(self, limit: int) -> Sample | None:
        """One page of ``limit`` Appointments of the date window (with its includes), shaped
        as ``fetch`` shapes them; the stored cursor is neither read nor moved."""
        probe = FhirCursor(mode="date-window", overlap=timedelta(0))
        params = [(k, v) for k, v in self.search_params(probe) if k != "_count"]
        bundle, _ = self.client.get_json("Appointment", [("_count", str(limit)), *params])
        listing = Listing(started=utcnow(), overlap=timedelta(0))
        records, rejected, _ = self._page(bundle, listing, probe, ReferenceResolver(self.client))
        return Sample(records[:limit], "Appointment page 1", None, rejected)

    # -- check --------------------------------------------------------------------------
    def check(self) -> CheckResult:
        try:
            statement, _ = self.client.get_json("metadata")
        except ConnectorError as exc:
            return CheckResult(False, str(exc))
        if statement.get("resourceType") != "CapabilityStatement":
            return CheckResult(False, f"metadata answered a {statement.get('resourceType')}, "
                                      "not a CapabilityStatement")
        capability = read_capability(statement)
        ok, detail = assess(capability, self.settings.cursor)
        if capability.appointment_search:
            try:  # the configured search itself, so scopes and required parameters are tested too
                probe = FhirCursor(mode="date-window", overlap=timedelta(0))
                params = [p for p in self.search_params(probe) if p[0] not in ("_count", "_include")]
                if self.settings.fan_out is not None:  # the server searches per actor: probe the first
                    actors = FanOut(self).actors()
                    if not actors:
                        return CheckResult(False, f"{detail}; fan_out found no actor to search for")
                    params.append((self.settings.fan_out.by, actors[0]))
                    detail += f"; fan_out over {len(actors)} {self.settings.fan_out.by}(s)"
                bundle, _ = self.client.get_json("Appointment", [("_count", "1"), *params])
                total = bundle.get("total")
                detail += f"; search ok ({total if total is not None else 'some'} in the window)"
                missing = self._reference_scopes(bundle)
                if missing:
                    ok, detail = False, f"{detail}; {missing}"
            except ConnectorError as exc:
                ok, detail = False, f"{detail}; search failed: {exc}"
        sweep = self.sweep_schedule()
        detail += (f"; resources deleted at the server are found by the delete sweep ({sweep.describe()})" if sweep
                   else "; delete_sweep is off: Appointments deleted at the server stay booked here")
        return CheckResult(ok, detail)

    def _reference_scopes(self, bundle: dict[str, Any]) -> str | None:
        """Read the participants of the first Appointment found, as a sync would: a refused
        read (401/403) names the scope to grant. Syncs still run without it (names come
        from ``actor.display``), so this is a setup problem, not an outage."""
        appointment = next((obj(entry).get("resource") for entry in items(bundle.get("entry"))
                            if obj(obj(entry).get("resource")).get("resourceType") == "Appointment"), None)
        if not isinstance(appointment, dict):
            return None
        refused = []
        for kind, (key, _) in sorted(pick_participants(appointment, self.client.base_url).items()):
            try:
                self.client.get_json(key)
            except FhirStatusError as exc:
                if exc.status in (401, 403):
                    refused.append(f"{kind} read refused (HTTP {exc.status}): grant system/{kind}.read "
                                   f"(SMART v2: system/{kind}.rs)")
        if not refused:
            return None
        return "; ".join(refused) + " — until then names come from the appointment's actor.display"

    # -- write-back ---------------------------------------------------------------------
    def writeback(self, action: WritebackAction) -> None:
        """Set the patient participant's status (and optionally the Appointment's), with
        If-Match on the version read; a concurrent change (412) is re-read and retried once."""
        if not self.settings.writeback:
            raise WritebackUnsupported(f"connector {self.name}: write-back is off (set `writeback: true` and "
                                       "grant an Appointment write scope)")
        check_action(action, self.name)
        path = f"Appointment/{quote(action.external_id, safe='')}"
        for attempt in (1, 2):
            response = self.client.send("GET", path)
            appointment = self.client.resource(response)
            if not apply_answer(appointment, action, self.client.base_url, self.name):
                return  # the source already says so
            headers = {"Content-Type": FHIR_JSON}
            version = (appointment.get("meta") or {}).get("versionId") or _etag_version(response.headers.get("ETag"))
            if version:
                headers["If-Match"] = f'W/"{version}"'
            try:
                self.client.send("PUT", path, json=appointment, headers=headers, retry=False, accept=(200, 201))
            except FhirStatusError as exc:
                if exc.status != 412:
                    raise
                log.info("fhir.writeback.conflict", connector=self.name, appointment=action.external_id,
                         attempt=attempt)
                continue
            log.info("fhir.writeback.done", connector=self.name, appointment=action.external_id,
                     participant_status=action.participant_status)
            return
        raise RetriableConnectorError(f"connector {self.name}: Appointment/{action.external_id} kept changing "
                                      "while writing back (HTTP 412 twice); will try again")

    # -- waitlist booking ----------------------------------------------------------------
    def can_book(self) -> bool:
        return self.settings.waitlist_book

    def book_waitlist(self, request: BookingRequest) -> BookingResult:
        """Create the booked Appointment conditionally (If-None-Exist on the slot's identifier):
        a retry after a lost answer finds the first one (200) instead of booking twice, and a
        repeat attempt searches by that identifier first, for a server that ignores If-None-Exist. The
        request is not retried inside (a lost answer is retried by the next booking pass, under
        the same key); a 4xx is a refusal (BookingRefused, status code only: diagnostics may
        echo the patient)."""
        if request.attempt > 1:  # an earlier try may have booked it: a server may ignore If-None-Exist
            found = self._booked_before(request)
            if found is not None:
                log.info("fhir.waitlist.found", connector=self.name, slot=request.slot_id, appointment=found["id"])
                return BookingResult(str(found["id"]), self.record(found, ReferenceResolver(self.client)))
        entry_is_here = request.entry_connector == self.name
        resource = booked_appointment(request, entry_is_here=entry_is_here)
        headers = {"Content-Type": FHIR_JSON, "If-None-Exist": if_none_exist(request),
                   "Prefer": "return=representation"}
        try:
            response = self.client.send("POST", "Appointment", json=resource, headers=headers, retry=False,
                                        accept=(200, 201))
        except FhirStatusError as exc:
            if exc.status == 412:  # more than one match: someone else booked under our key too
                raise BookingRefused(f"connector {self.name}: POST Appointment answered HTTP 412: more than one "
                                     f"Appointment carries identifier {request.key}") from None
            raise BookingRefused(f"connector {self.name}: POST Appointment answered HTTP {exc.status}") from None
        created = self._created(response)
        rid = created.get("id") if created else _location_id(response.headers.get("Location"))
        if created is None and rid:
            created = self.read_appointment(rid)
        record = self.record(created, ReferenceResolver(self.client)) if created and created.get("id") else None
        log.info("fhir.waitlist.booked", connector=self.name, slot=request.slot_id, appointment=rid,
                 existing=response.status_code == 200)
        return BookingResult(str(rid) if rid else None, record)

    def _booked_before(self, request: BookingRequest) -> dict[str, Any] | None:
        """The Appointment an earlier attempt created, found by its identifier, if any."""
        bundle, _ = self.client.get_json("Appointment", params=[("identifier", identifier_token(request))])
        for entry in items(bundle.get("entry")):
            resource = obj(obj(entry).get("resource"))
            if resource.get("resourceType") == "Appointment" and resource.get("id"):
                return resource
        return None

    def _created(self, response: Any) -> dict[str, Any] | None:
        if not response.content:
            return None
        body = self.client.resource(response)
        return body if body.get("resourceType") == "Appointment" else None


def _location_id(location: str | None) -> str | None:
    """``…/Appointment/123/_history/1`` → ``123`` (a create answered without a body)."""
    if not location:
        return None
    parts = location.rstrip("/").split("/")
    if "Appointment" in parts:
        after = parts[parts.index("Appointment") + 1:]
        return after[0] if after else None
    return None


def _not_a_resource(entry: Any) -> str:
    """Why a Bundle entry is not an Appointment to import, naming its shape (never its content)."""
    if not isinstance(entry, dict):
        return f"Bundle entry is a JSON {type(entry).__name__}, not an object with a resource"
    resource = entry.get("resource")
    if resource is None:
        keys = ", ".join(sorted(str(k) for k in entry)[:6]) or "none"
        return (f"Bundle entry has no resource (keys: {keys}); the server should send each match as "
                "entry.resource")
    if not isinstance(resource, dict):
        return f"Bundle entry's resource is a JSON {type(resource).__name__}, not a resource object"
    return "Bundle entry's resource has no resourceType"


def _next_link(bundle: dict[str, Any]) -> str | None:
    for link in items(bundle.get("link")):
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None


def _appointment_id(full_url: Any) -> str | None:
    """'https://ehr/fhir/Appointment/12' -> '12' (an entry's fullUrl); None for anything else."""
    if not isinstance(full_url, str):
        return None
    kind, _, rid = full_url.rstrip("/").rpartition("/")
    return rid if rid and kind.rpartition("/")[2] == "Appointment" else None


def _etag_version(etag: str | None) -> str | None:
    """W/"3" -> 3."""
    if not etag:
        return None
    return etag.removeprefix("W/").strip('"') or None

