"""`clinicsync discover` for a FHIR R4 server: read its CapabilityStatement
(``GET metadata``) and one sample Appointment search, and propose a ``kind: fhir``
connector with the ``fhir_r4`` preset and settings chosen from what the server offers:

- the cursor: ``last-updated`` when Appointment search declares ``_lastUpdated`` (a change
  feed), else ``date-window`` when it declares ``date``;
- ``include``: the participants the server declares it can ``_include`` (the connector
  reads the others one by one);
- ``fan_out``: when the server refuses a search without a practitioner, location or patient
  (the sample search answers 400/403/422 with an OperationOutcome naming one, or the
  statement's search-parameter-combination extension requires one), one search per actor,
  its actors found by a search of their own;
- the zone: where the sampled appointments state theirs (the start's tz-code, the R5-style
  timezone extension on the Appointment, its Location or Practitioner), else the zone given.

The sample search says which fields carry what (serviceType or appointmentType for the
visit type, the participants, the patient's telecom), every field of ``fhir_r4`` reported
with the path that answered. Nothing is written to the server; no credential is asked for
here (a server that wants one is named, with the settings to give it).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import httpx

from clinicsync.common.timeutil import iso_z
from clinicsync.common.types import utcnow
from clinicsync.connectors.fhir.capability import read_capability
from clinicsync.connectors.fhir.references import ENRICHED_KEYS, pick_participants
from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.model import MappingError
from clinicsync.sync.discover.naming import connector_name, region_of
from clinicsync.sync.discover.presets import carriers, preset, spec_paths
from clinicsync.sync.discover.proposal import Guess, Proposal, StatusWord

PRESET = "fhir_r4"
SAMPLE_SIZE = 50
_PARTICIPANTS = ("patient", "practitioner", "location")
_COMBINATION = "http://hl7.org/fhir/StructureDefinition/capabilitystatement-search-parameter-combination"
_REFUSED = (400, 403, 422)
_JSON = {"Accept": "application/fhir+json"}
_ZONE_PATHS = {
    "_start.extension[url=http://hl7.org/fhir/StructureDefinition/tz-code].valueCode": "the start's tz-code",
    "extension[url=http://hl7.org/fhir/StructureDefinition/timezone].valueCode": "the Appointment's timezone extension",
    "_location.extension[url=http://hl7.org/fhir/StructureDefinition/timezone].valueCode": "its Location's timezone",
    "_practitioner.extension[url=http://hl7.org/fhir/StructureDefinition/timezone].valueCode":
        "its Practitioner's timezone",
}


class _Answer:
    """A GET's status and JSON body (None when the body is no JSON object)."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        self.body: dict[str, Any] | None = body if isinstance(body, dict) else None


def _get(http: httpx.Client, url: str, params: list[tuple[str, str]] | None = None) -> _Answer:
    try:
        return _Answer(http.get(url, params=tuple(params or ()), headers=_JSON))
    except httpx.HTTPError as exc:
        raise ValueError(f"cannot reach {url.split('?')[0]} ({type(exc).__name__})") from None


def _appointment_entry(statement: dict[str, Any]) -> dict[str, Any]:
    for rest in statement.get("rest") or []:
        if isinstance(rest, dict) and rest.get("mode", "server") == "server":
            for resource in rest.get("resource") or []:
                if isinstance(resource, dict) and resource.get("type") == "Appointment":
                    return resource
    return {}


def _searchable(statement: dict[str, Any], kind: str) -> bool:
    for rest in statement.get("rest") or []:
        for resource in (rest or {}).get("resource") or []:
            if isinstance(resource, dict) and resource.get("type") == kind:
                return any(isinstance(i, dict) and i.get("code") == "search-type"
                           for i in resource.get("interaction") or [])
    return False


def declared_includes(entry: dict[str, Any]) -> list[str] | None:
    """The participants Appointment search can ``_include`` (``Appointment:patient``, or the
    spec's own ``Appointment.patient`` spelling, or ``*``); None when nothing is declared."""
    declared = entry.get("searchInclude")
    if not isinstance(declared, list):
        return None
    names = {str(d).replace(".", ":").split(":")[-1] for d in declared}
    if "*" in names or "actor" in names:
        return list(_PARTICIPANTS)
    return [p for p in _PARTICIPANTS if p in names]


def required_actor(entry: dict[str, Any]) -> str | None:
    """An actor every Appointment search must name, by the search-parameter-combination
    extension (R4: ``required`` parameters of each allowed combination)."""
    for extension in entry.get("extension") or []:
        if not isinstance(extension, dict) or extension.get("url") != _COMBINATION:
            continue
        required = {str(e.get("valueString")) for e in extension.get("extension") or []
                    if isinstance(e, dict) and e.get("url") == "required"}
        for actor in ("practitioner", "location", "patient"):
            if actor in required:
                return actor
    return None


def _records(bundle: dict[str, Any], base_url: str) -> list[dict[str, Any]]:
    """The bundle's Appointments with the participants it included, as the connector hands
    them to the mapping (``_patient``, ``_practitioner``, ``_location``)."""
    included: dict[str, dict[str, Any]] = {}
    appointments: list[dict[str, Any]] = []
    for entry in bundle.get("entry") or []:
        resource = (entry or {}).get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        if resource.get("resourceType") == "Appointment":
            appointments.append(resource)
        elif resource.get("id"):
            included[f"{resource.get('resourceType')}/{resource['id']}"] = resource
    records = []
    for appointment in appointments:
        record = dict(appointment)
        for kind, (key, _participant) in pick_participants(appointment, base_url).items():
            found = included.get(key)
            if found is not None and kind in ENRICHED_KEYS:
                record[ENRICHED_KEYS[kind]] = found
        records.append(record)
    return records


def discover_fhir(base_url: str, *, name: str | None = None, timezone: str | None = None,
                  client: httpx.Client | None = None) -> Proposal:
    """Read the server at ``base_url`` (metadata and one sample Appointment search) and
    propose a ``kind: fhir`` connector for it. ``client`` is used as given (tests pass one
    whose transport is faked); else a plain client with a 30 s timeout."""
    base = base_url.rstrip("/")
    http = client or httpx.Client(timeout=30.0, follow_redirects=False)
    try:
        return _discover(http, base, name, timezone)
    finally:
        if client is None:
            http.close()


def _discover(http: httpx.Client, base: str, name: str | None, timezone: str | None) -> Proposal:
    answer = _get(http, f"{base}/metadata")
    if answer.status != 200 or answer.body is None or answer.body.get("resourceType") != "CapabilityStatement":
        raise ValueError(f"{base}/metadata answered {answer.status} without a CapabilityStatement: is this the "
                         "FHIR base URL (…/fhir/r4)?")
    statement = answer.body
    capability = read_capability(statement)
    entry = _appointment_entry(statement)
    host = httpx.URL(base).host
    name = name or connector_name(host.split(".")[0] if host else "", "fhir")
    connector: dict[str, Any] = {"name": name, "kind": "fhir", "base_url": base}
    notes: dict[str, str] = {"name": "from the server's host name", "base_url": "given to discover"}
    proposal = Proposal(kind="fhir", name=name, product=None, product_confidence=0.0,
                        connector=connector, connector_notes=notes, mapping_preset=PRESET)
    proposal.notes.append(f"FHIR {capability.fhir_version or '?'}"
                          + (f" ({capability.software})" if capability.software else "")
                          + f"; Appointment search: {'yes' if capability.appointment_search else 'no'}; "
                          f"parameters: {', '.join(sorted(capability.search_params)) or 'none declared'}")
    if not (capability.fhir_version or "").startswith("4.0"):
        proposal.notes.append("the server is not FHIR R4 (4.0.x): the fhir connector reads R4")
    if not capability.appointment_search:
        proposal.notes.append("the server does not declare Appointment search: the connector needs it")
    _cursor(proposal, capability.last_updated, capability.date)
    includes = declared_includes(entry)
    if includes is not None and includes != list(_PARTICIPANTS):
        connector["include"] = includes
        notes["include"] = (f"the server declares _include for {', '.join(includes) or 'none of them'}; the "
                            "other participants are read one by one")
    _auth_note(proposal, statement)
    bundle = _sample(http, base, proposal, entry, statement, includes)
    records = _records(bundle, base) if bundle else []
    if records:
        _fields(proposal, records)
        _zone(proposal, records, timezone)
        _rehearse(proposal, records, timezone)
    else:
        if timezone:
            connector["timezone"] = timezone
            notes["timezone"] = "given to discover (no sampled appointment stated a zone)"
        proposal.notes.append("the sample search returned no Appointment: fields and zones are not confirmed; "
                              "run `clinicsync check` once the window holds appointments")
    return proposal


def _cursor(proposal: Proposal, last_updated: bool, date: bool) -> None:
    connector, notes = proposal.connector, proposal.connector_notes
    if last_updated:
        connector["cursor"] = "last-updated"
        notes["cursor"] = "Appointment search declares _lastUpdated: each run reads only what changed"
    elif date:
        connector["cursor"] = "date-window"
        notes["cursor"] = "Appointment search declares date but not _lastUpdated: each run reads the window"
    else:
        proposal.notes.append("Appointment search declares neither _lastUpdated nor date: the connector needs one")


def _auth_note(proposal: Proposal, statement: dict[str, Any]) -> None:
    services = {str(c.get("code")) for rest in statement.get("rest") or []
                for s in ((rest or {}).get("security") or {}).get("service") or []
                for c in (s or {}).get("coding") or [] if isinstance(c, dict)}
    if "SMART-on-FHIR" in services:
        proposal.notes.append("the server declares SMART-on-FHIR security: if it refuses anonymous reads, give "
                              "`auth: {kind: smart_backend, client_id: …, private_key_file: …, kid: …}` "
                              "(docs/connectors/fhir.md)")


def _sample(http: httpx.Client, base: str, proposal: Proposal, entry: dict[str, Any], statement: dict[str, Any],
            includes: list[str] | None) -> dict[str, Any] | None:
    """One page of the next month's appointments; a refusal that asks for an actor means fan-out."""
    now = utcnow()
    params = [("date", f"ge{iso_z(now - timedelta(days=7))}"), ("date", f"lt{iso_z(now + timedelta(days=30))}"),
              ("_count", str(SAMPLE_SIZE))]
    params += [("_include", f"Appointment:{p}") for p in (includes if includes is not None else _PARTICIPANTS)]
    actor = required_actor(entry)
    answer = _get(http, f"{base}/Appointment", params)
    if answer.status in (401, 403) and not _asks_for_actor(answer.body):
        proposal.notes.append(f"the sample search was refused ({answer.status}): the server wants credentials; give "
                              "`auth:` (basic, bearer or smart_backend) and run `clinicsync check`")
        return None
    if answer.status in _REFUSED and _asks_for_actor(answer.body):
        actor = actor or "practitioner"
    if actor is not None:
        _fan_out(proposal, actor, statement, answer.status)
        return None if answer.status != 200 else answer.body
    if answer.status != 200 or answer.body is None:
        proposal.notes.append(f"the sample search answered {answer.status}: fields are not confirmed")
        return None
    return answer.body


def _asks_for_actor(body: dict[str, Any] | None) -> bool:
    text = " ".join(str(i.get("diagnostics") or (i.get("details") or {}).get("text") or "")
                    for i in (body or {}).get("issue") or [] if isinstance(i, dict)).lower()
    return any(word in text for word in _PARTICIPANTS)


def _fan_out(proposal: Proposal, actor: str, statement: dict[str, Any], status: int) -> None:
    kind = actor.capitalize()
    discover = f"{kind}?active=true" if kind in ("Practitioner", "Location") else kind
    proposal.connector["cursor"] = "date-window"
    proposal.connector_notes["cursor"] = "per-actor searches must carry a date (fan_out needs date-window)"
    proposal.connector["fan_out"] = {"by": actor, "discover": discover}
    why = (f"the server refused a search without one ({status})" if status in _REFUSED
           else "the CapabilityStatement requires it in every Appointment search")
    proposal.connector_notes["fan_out"] = f"one search per {actor}: {why}"
    if not _searchable(statement, kind):
        proposal.notes.append(f"the server does not declare {kind} search: replace fan_out.discover by "
                              f"`ids: [...]`, the {actor}s' ids")


def _fields(proposal: Proposal, records: list[dict[str, Any]]) -> None:
    """Each fhir_r4 field the sample carries, with the path that answered it most."""
    total = len(records)
    fields = preset(PRESET)["fields"]
    for target, spec in fields.items():
        answered = carriers(records, spec_paths(spec))
        carried = sum(answered.values())
        if not carried:
            continue
        best, count = answered.most_common(1)[0]
        proposal.guesses.append(Guess(target, best, round(0.6 + 0.4 * carried / total, 2),
                                      f"{PRESET} reads it; {carried}/{total} sampled appointments carry it "
                                      f"({count} at {best})", {}))
    missing = [t for t in ("patient.phone", "patient.email", "type", "practitioner.external_id")
               if t not in {g.field for g in proposal.guesses}]
    if missing:
        proposal.notes.append(f"no sampled appointment carries {', '.join(missing)} where {PRESET} reads it: "
                              "override those fields in a mapping that extends fhir_r4 if the server keeps them "
                              "elsewhere (docs/mappings.md, FHIR R4)")
    statuses = Counter(str(r.get("status")) for r in records if r.get("status"))
    proposal.status_words = [StatusWord(word, word if word in _FHIR_STATUSES else None, count,
                                        1.0 if word in _FHIR_STATUSES else 0.0)
                             for word, count in statuses.most_common()]


_FHIR_STATUSES = frozenset({"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
                            "entered-in-error", "checked-in", "waitlist"})


def _zone(proposal: Proposal, records: list[dict[str, Any]], timezone: str | None) -> None:
    answered = carriers(records, list(_ZONE_PATHS))
    connector, notes = proposal.connector, proposal.connector_notes
    if answered:
        where = ", ".join(f"{_ZONE_PATHS[p]} ({n})" for p, n in answered.most_common())
        proposal.notes.append(f"appointments state their zone: {where}")
        if timezone and sum(answered.values()) < len(records):
            connector["timezone"] = timezone
            notes["timezone"] = "for the appointments that state no zone of their own"
        return
    if timezone:
        connector["timezone"] = timezone
        notes["timezone"] = "given to discover: no sampled appointment states its zone"
    else:
        proposal.notes.append("no sampled appointment states its zone: reminders use clinic.timezone (or set "
                              "`timezone:` on the connector)")


def _rehearse(proposal: Proposal, records: list[dict[str, Any]], timezone: str | None) -> None:
    compiled = load_mapping(PRESET, timezone or "UTC", region_of(timezone))
    failed: Counter[str] = Counter()
    for record in records:
        try:
            compiled.apply({**record, "_timezone": timezone} if timezone else record)
        except MappingError as exc:
            failed[exc.field] += 1
    mapped = len(records) - sum(failed.values())
    line = f"{PRESET} maps {mapped} of {len(records)} sampled appointment(s)"
    if failed:
        line += "; would quarantine: " + ", ".join(f"{f} x{n}" for f, n in failed.most_common())
    proposal.notes.append(line)
