"""The FHIR connector's cursor: where the last complete listing began, which versions
it saw at the boundary, and how far an unfinished listing got.

A listing is one search followed through its ``next`` links. Results are not sorted,
so the high-water mark can only move once a listing is complete: it becomes the
server's time when the listing began (anything updated after that may be missing from
it). The next search asks for ``_lastUpdated=gt{since - overlap}``, re-reading the
boundary; the versions kept in ``seen`` recognise what was already stored. While a
listing is under way each stored page records the next link, so a crash resumes after
the last stored page (or starts the listing over if the server forgot the search).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from clinicsync.common.hashing import content_hash
from clinicsync.common.timeutil import iso_z
from clinicsync.connectors.fhir.shape import obj

log = structlog.get_logger("clinicsync.fhir")
VERSION = 1


def version_key(resource: dict[str, Any]) -> str:
    """meta.versionId, or a content hash where the server keeps no versions."""
    version = obj(resource.get("meta")).get("versionId")
    if version not in (None, ""):
        return str(version)
    try:
        return "h:" + content_hash(resource)
    except TypeError:  # JSON orjson refuses (integers past 64 bits, lone surrogates)
        text = json.dumps(resource, sort_keys=True, default=str)  # ASCII: escapes what UTF-8 cannot hold
        return "h:" + content_hash(text)


def last_updated(resource: dict[str, Any]) -> datetime | None:
    value = obj(resource.get("meta")).get("lastUpdated")
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def floor_second(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None


@dataclass
class Listing:
    """A search under way: its next link, when it began, the versions at its boundary."""

    started: datetime
    overlap: timedelta
    next: str | None = None
    pages: int = 0
    boundary: dict[str, str] = field(default_factory=dict)

    def saw(self, resource_id: str, resource: dict[str, Any]) -> None:
        """Remember the version of what the next listing will re-read (its overlap)."""
        updated = last_updated(resource)
        if updated is not None and updated > self.started - self.overlap:
            self.boundary[resource_id] = version_key(resource)


@dataclass
class FhirCursor:
    mode: str
    overlap: timedelta
    since: datetime | None = None
    seen: dict[str, str] = field(default_factory=dict)
    listing: Listing | None = None

    @classmethod
    def load(cls, raw: dict[str, Any] | None, mode: str, overlap: timedelta, connector: str) -> FhirCursor:
        """The stored cursor; one from another cursor mode or version starts afresh."""
        fresh = cls(mode=mode, overlap=overlap)
        if not raw:
            return fresh
        if raw.get("v") != VERSION or raw.get("mode") != mode:
            log.warning("fhir.cursor.reset", connector=connector, stored_mode=raw.get("mode"), mode=mode)
            return fresh
        listing = None
        if isinstance(raw.get("listing"), dict) and raw["listing"].get("next"):
            data = raw["listing"]
            listing = Listing(started=_time(data["started"]) or datetime.now(UTC), overlap=overlap,
                              next=data["next"], pages=int(data.get("pages", 0)),
                              boundary=dict(data.get("boundary") or {}))
        return cls(mode=mode, overlap=overlap, since=_time(raw.get("since")), seen=dict(raw.get("seen") or {}),
                   listing=listing)

    def already_stored(self, resource_id: str, resource: dict[str, Any]) -> bool:
        """Only ids seen at the boundary are compared: a version key may be a content hash."""
        if self.mode != "last-updated" or resource_id not in self.seen:
            return False
        return self.seen[resource_id] == version_key(resource)

    def last_updated_param(self) -> str | None:
        """The _lastUpdated search value, or None on a first run / in date-window mode."""
        if self.mode != "last-updated" or self.since is None:
            return None
        return f"gt{iso_z(self.since - self.overlap)}"

    def _dump(self, since: datetime | None, seen: dict[str, str], listing: Listing | None) -> dict[str, Any]:
        return {
            "v": VERSION, "mode": self.mode,
            "since": iso_z(since) if since else None,
            "seen": seen if self.mode == "last-updated" else {},
            "listing": None if listing is None else {
                "next": listing.next, "started": iso_z(listing.started), "pages": listing.pages,
                "boundary": listing.boundary if self.mode == "last-updated" else {}},
        }

    def in_progress(self, listing: Listing) -> dict[str, Any]:
        """After a page that has a next link: same high-water mark, resume at the link."""
        return self._dump(self.since, self.seen, listing)

    def completed(self, listing: Listing) -> dict[str, Any]:
        """After the last page: the listing's start is the new high-water mark."""
        return self._dump(listing.started, listing.boundary, None)
