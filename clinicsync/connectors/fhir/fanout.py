"""Fan-out polling: one Appointment search per actor, for servers that refuse a search
without a practitioner, location or patient (Oracle Health's Appointment search needs a
date plus one of them; Epic's is similar).

A round reads every actor's date window, one actor after another as far as the store is
concerned, while up to ``concurrency`` actors' first pages are read ahead. The cursor
says which actors the round has finished and, for the actor under way, the next link of
its listing; each page is a batch committed with that cursor, so a crash resumes with
the unfinished actor's next page (or its search anew, if the server forgot it) and skips
the finished ones. An appointment several actors share (two practitioners, a room) is
imported once per round. When the last actor is done the round starts over next run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import structlog

from clinicsync.common.types import utcnow
from clinicsync.connectors.base import Batch, Condition, Cursor, FatalConnectorError, RawRecord, Rejected
from clinicsync.connectors.fhir.client import FhirClient
from clinicsync.connectors.fhir.cursor import FhirCursor, Listing
from clinicsync.connectors.fhir.errors import FhirStatusError
from clinicsync.connectors.fhir.references import ReferenceResolver
from clinicsync.connectors.fhir.settings import FhirSettings
from clinicsync.connectors.fhir.shape import items, obj

log = structlog.get_logger("clinicsync.fhir")
VERSION = 1
FAN_OUT_NOBODY = "fhir.fan_out.nobody"
_FORGOTTEN_SEARCH = (400, 404, 410)
_DISCOVERY_PAGES = 100  # a clinic's practitioners or rooms: a bound against a looping server
Page = tuple[dict[str, Any], Listing]


@dataclass
class FanOutCursor:
    """The round: actors finished, and the one under way with its next link."""

    done: list[str] = field(default_factory=list)
    current: str | None = None
    next: str | None = None
    pages: int = 0

    @classmethod
    def load(cls, raw: Cursor | None, connector: str) -> FanOutCursor:
        if not raw:
            return cls()
        if raw.get("v") != VERSION or raw.get("mode") != "fan-out":
            log.warning("fhir.cursor.reset", connector=connector, stored_mode=raw.get("mode"), mode="fan-out")
            return cls()
        return cls(done=[str(a) for a in raw.get("done") or []], current=raw.get("current"),
                   next=raw.get("next"), pages=int(raw.get("pages") or 0))

    def dump(self) -> Cursor:
        return {"v": VERSION, "mode": "fan-out", "done": self.done, "current": self.current, "next": self.next,
                "pages": self.pages}


class SearchingConnector(Protocol):
    """What fan-out needs of the FHIR connector (connector.py), which builds a FanOut: named
    here so that the two modules import one way."""

    @property
    def name(self) -> str: ...

    client: FhirClient
    settings: FhirSettings

    def search_params(self, cursor: FhirCursor) -> list[tuple[str, str]]: ...

    def note_condition(self, condition: Condition) -> None: ...

    def _page(self, bundle: dict[str, Any], listing: Listing, state: FhirCursor,
              resolver: ReferenceResolver) -> tuple[list[RawRecord], list[Rejected], int]: ...


class FanOut:
    """Polls ``connector`` one actor at a time (see the module's docstring)."""

    def __init__(self, connector: SearchingConnector) -> None:
        self.connector = connector
        self.client = connector.client
        settings = connector.settings.fan_out
        assert settings is not None
        self.settings = settings

    def actors(self) -> list[str]:
        """The listed ids, or the ids the discovery search finds (all its pages), in order."""
        if self.settings.ids:
            return list(dict.fromkeys(self.settings.ids))
        assert self.settings.discover is not None
        path, _, query = self.settings.discover.partition("?")
        params = [tuple(p.split("=", 1)) for p in query.split("&") if "=" in p]
        found: list[str] = []
        bundle, _ = self.client.get_json(path, params)  # type: ignore[arg-type]
        for _ in range(_DISCOVERY_PAGES):
            for entry in items(bundle.get("entry")):
                resource = obj(obj(entry).get("resource"))
                if resource.get("resourceType") == path and isinstance(resource.get("id"), str):
                    found.append(resource["id"])
            link = next((str(lk["url"]) for lk in items(bundle.get("link"))
                         if isinstance(lk, dict) and lk.get("relation") == "next" and lk.get("url")), None)
            if link is None:
                break
            bundle, _ = self.client.get_json(self.client.url(link))
        # A search that finds nobody finds nobody at every run: sync/ logs it once while it lasts.
        self.connector.note_condition(Condition(FAN_OUT_NOBODY, "discover", holds=not found, state="none found",
                                                fields={"discover": self.settings.discover}))
        return list(dict.fromkeys(found))

    def _params(self, actor: str) -> list[tuple[str, str]]:
        probe = FhirCursor(mode="date-window", overlap=timedelta(0))
        return [*self.connector.search_params(probe), (self.settings.by, actor)]

    def _first_page(self, actor: str, resume: str | None) -> Page:
        """The actor's search (or its stored next link, while the server remembers it)."""
        if resume is not None:
            try:
                bundle, _ = self.client.get_json(resume)
                return bundle, Listing(started=utcnow(), overlap=timedelta(0), next=resume)
            except FhirStatusError as exc:
                if exc.status not in _FORGOTTEN_SEARCH:
                    raise
                log.info("fhir.listing.restart", connector=self.connector.name, status=exc.status)
        bundle, _ = self.client.get_json("Appointment", self._params(actor))
        return bundle, Listing(started=utcnow(), overlap=timedelta(0))

    def fetch(self, raw: Cursor | None) -> Iterator[Batch]:
        state = FanOutCursor.load(raw, self.connector.name)
        actors = self.actors()
        pending = [a for a in actors if a not in state.done]
        resolver = ReferenceResolver(self.client, self.connector.note_condition)
        window = FhirCursor(mode="date-window", overlap=timedelta(0))
        imported: set[str] = set()  # appointment ids this run: shared appointments once
        ahead: dict[str, Future[Page]] = {}
        pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix=f"fhir-fanout-{self.connector.name}")
        try:
            for index, actor in enumerate(pending):
                for upcoming in pending[index:index + self.settings.concurrency]:
                    if upcoming not in ahead:
                        resume = state.next if upcoming == state.current else None
                        ahead[upcoming] = pool.submit(self._first_page, upcoming, resume)
                bundle, listing = ahead.pop(actor).result()
                yield from self._actor_pages(actor, bundle, listing, state, resolver, window, imported,
                                             last=index == len(pending) - 1)
        finally:
            for future in ahead.values():
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
        log.info("fhir.fetched", connector=self.connector.name, actors=len(actors), resumed_after=len(state.done),
                 reference_reads=resolver.reads, references_unavailable=resolver.unavailable or None)

    def _actor_pages(self, actor: str, bundle: dict[str, Any], listing: Listing, state: FanOutCursor,
                     resolver: ReferenceResolver, window: FhirCursor, imported: set[str],
                     last: bool) -> Iterator[Batch]:
        pages = state.pages if actor == state.current else 0
        followed: set[str] = set()
        get: Callable[[str], tuple[dict[str, Any], Any]] = self.client.get_json
        while True:
            pages += 1
            records, rejected, _ = self.connector._page(bundle, listing, window, resolver)
            fresh = [r for r in records if r.record_id not in imported]
            imported.update(r.record_id for r in fresh if r.record_id)
            link = next((str(lk["url"]) for lk in items(bundle.get("link"))
                         if isinstance(lk, dict) and lk.get("relation") == "next" and lk.get("url")), None)
            source = f"Appointment {self.settings.by}={actor} page {pages}"
            if link is None:
                state.done = [] if last else [*state.done, actor]  # the last actor ends the round
                state.current, state.next, state.pages = None, None, 0
                yield Batch(fresh, state.dump(), rejected, source=source)
                return
            if link in followed:
                raise FatalConnectorError(f"connector {self.connector.name}: the server repeated a next link for "
                                          f"{self.settings.by} {actor}; stopping instead of looping")
            followed.add(link)
            state.current, state.next, state.pages = actor, self.client.url(link), pages
            yield Batch(fresh, state.dump(), rejected, source=source)
            bundle, _ = get(state.next)
