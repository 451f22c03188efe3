"""Small things every file-and-server discoverer needs: a connector name from what it read,
and the clinic's region (for phone numbers without a country code and d/m vs m/d dates)
from the zone the admin gave."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_NOT_NAME = re.compile(r"[^a-z0-9]+")


def connector_name(text: str, fallback: str) -> str:
    """A connector name from a file or host name: lower case letters, digits and '-'."""
    name = _NOT_NAME.sub("-", text.lower()).strip("-")
    return name[:40].strip("-") or fallback


@cache
def _zone_countries() -> dict[str, str]:
    """IANA zone -> ISO 3166 country, from the tz database's own zone.tab (tzdata)."""
    try:
        text = resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return {}
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            if len(parts) >= 3:
                found[parts[2]] = parts[0]
    return found


def region_of(timezone: str | None, default: str = "US") -> str:
    """The country of an IANA zone ('Europe/Madrid' -> 'ES'); ``default`` when none is known."""
    if not timezone:
        return default
    return _zone_countries().get(timezone, default)
