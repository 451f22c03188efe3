"""Read a CapabilityStatement: can this server do what the configured cursor needs? Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Capability:
    fhir_version: str | None
    software: str | None
    appointment_search: bool
    search_params: frozenset[str]

    @property
    def last_updated(self) -> bool:
        return "_lastUpdated" in self.search_params

    @property
    def date(self) -> bool:
        return "date" in self.search_params


def read_capability(statement: dict[str, Any]) -> Capability:
    software = statement.get("software") or {}
    name = " ".join(str(software[k]) for k in ("name", "version") if software.get(k)) or None
    search = False
    params: set[str] = set()
    for rest in statement.get("rest") or []:
        if not isinstance(rest, dict) or rest.get("mode", "server") != "server":
            continue
        common = _names(rest.get("searchParam"))
        for resource in rest.get("resource") or []:
            if not isinstance(resource, dict) or resource.get("type") != "Appointment":
                continue
            interactions = {i.get("code") for i in resource.get("interaction") or [] if isinstance(i, dict)}
            search |= "search-type" in interactions
            params |= common | _names(resource.get("searchParam"))
    return Capability(statement.get("fhirVersion"), name, search, frozenset(params))


def _names(search_params: Any) -> set[str]:
    return {str(p["name"]) for p in search_params or [] if isinstance(p, dict) and p.get("name")}


def assess(capability: Capability, cursor_mode: str) -> tuple[bool, str]:
    """Whether the configured cursor can work, and a one-line report with the fix."""
    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    parts = [f"FHIR {capability.fhir_version or '?'}" + (f" ({capability.software})" if capability.software else ""),
             f"Appointment search: {yes(capability.appointment_search)}",
             f"_lastUpdated: {yes(capability.last_updated)}", f"date: {yes(capability.date)}"]
    problems = []
    if not (capability.fhir_version or "").startswith("4.0"):
        problems.append("the server is not FHIR R4 (4.0.x)")
    if not capability.appointment_search:
        problems.append("the server does not offer Appointment search")
    elif cursor_mode == "last-updated" and not capability.last_updated:
        problems.append("Appointment search does not declare _lastUpdated: set `cursor: date-window`")
    elif cursor_mode == "date-window" and not capability.date:
        problems.append("Appointment search does not declare date, which `cursor: date-window` needs")
    return not problems, "; ".join(parts + problems)
