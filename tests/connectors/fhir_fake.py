"""A small FHIR R4 server on loopback for end-to-end tests, served to the connector's
real httpx client. It behaves like the servers we meet (HAPI-style paging that
snapshots a search and serves later pages by offset, _include, versions with ETags,
If-Match, hard deletes, OperationOutcome errors) and a SMART Backend Services token
endpoint that verifies the client assertion with the registered public key.

Its clock is the test's: resources are stamped with it and the Date header tells it,
so a test decides what was updated "between two runs" without sleeping.
"""

from __future__ import annotations

import copy
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SEARCH_PARAMS = {"_id", "_count", "_include", "_elements", "_lastUpdated", "date", "status", "patient", "actor",
                 "practitioner", "location"}
# HAPI marks a resource that _elements trimmed so (meta.tag), as the FHIR spec asks.
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
ACTOR_PARAMS = ("patient", "practitioner", "location")
INCLUDE_TYPES = {"Appointment:patient": "Patient", "Appointment:practitioner": "Practitioner",
                 "Appointment:location": "Location"}


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int = 0


@dataclass
class Fault:
    match: Callable[[Seen], bool]
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


def outcome(diagnostics: str, code: str = "processing") -> dict[str, Any]:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]}


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _compare(prefix_value: str, actual: datetime | None) -> bool:
    if actual is None:
        return False
    prefix, text = (prefix_value[:2], prefix_value[2:]) if prefix_value[:2].isalpha() else ("eq", prefix_value)
    wanted = _parse_time(text)
    return {"gt": actual > wanted, "ge": actual >= wanted, "lt": actual < wanted, "le": actual <= wanted,
            "eq": actual == wanted}[prefix]


class FakeFhir:
    def __init__(self, *, public_key: Any = None, algorithm: str = "RS384", client_id: str = "clinicsync",
                 kid: str = "test-key", token_lifetime: int = 300, per_actor: bool = False) -> None:
        self.lock = threading.RLock()
        # Oracle Health style: an Appointment search needs a date and a patient, practitioner or location.
        self.per_actor = per_actor
        # The search parameters this server knows; a strict one refuses the others (HAPI: 400).
        self.params = set(SEARCH_PARAMS)
        self.clock = datetime.now(UTC).replace(microsecond=0)
        self.resources: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, int] = {}
        self.deleted: set[str] = set()
        self.order: list[str] = []
        self.searches: dict[str, list[str]] = {}
        self.elements: dict[str, list[str]] = {}  # a search's _elements, kept for its later pages
        self.requests: list[Seen] = []
        self.subscriptions: list[dict[str, Any]] = []  # POSTed Subscriptions, as received
        self.faults: list[Fault] = []
        self.hooks: list[Callable[[Seen], None]] = []
        self.public_key = public_key
        self.algorithm = algorithm
        self.client_id = client_id
        self.kid = kid
        self.token_lifetime = token_lifetime
        self.tokens: dict[str, datetime] = {}
        self.jtis: set[str] = set()
        self.assertions: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (header, claims) accepted
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        host, port = self._server.server_address[:2]
        self.origin = f"http://{host}:{port}"
        self.base_url = f"{self.origin}/fhir"
        self.token_url = f"{self.origin}/auth/token"

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> FakeFhir:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- the test's side ------------------------------------------------------------------
    def tick(self, **delta: float) -> datetime:
        with self.lock:
            self.clock += timedelta(**delta)
            return self.clock

    def put(self, resource: dict[str, Any], updated: datetime | None = None) -> dict[str, Any]:
        """Create or update as the EHR would: a new version stamped with the clock."""
        with self.lock:
            key = f"{resource['resourceType']}/{resource['id']}"
            version = self.versions.get(key, 0) + 1
            stored = copy.deepcopy(resource)
            stored["meta"] = {**(stored.get("meta") or {}), "versionId": str(version),
                              "lastUpdated": _instant(updated or self.clock)}
            self.versions[key] = version
            self.resources[key] = stored
            self.deleted.discard(key)
            if key not in self.order:
                self.order.append(key)
            return copy.deepcopy(stored)

    def delete(self, key: str) -> None:
        with self.lock:
            self.versions[key] += 1  # a delete is a version too
            self.deleted.add(key)

    def fail(self, match: Callable[[Seen], bool], status: int, headers: dict[str, str] | None = None,
             times: int = 1) -> None:
        with self.lock:
            self.faults.append(Fault(match, status, headers or {}, times))

    def before(self, hook: Callable[[Seen], None]) -> None:
        """Run ``hook`` as each request arrives (e.g. someone else edits a resource first)."""
        with self.lock:
            self.hooks.append(hook)

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def seen(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if (method is None or r.method == method)
                    and (path is None or r.path == path)]

    def get(self, key: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.resources[key])

    # -- the server's side ----------------------------------------------------------------
    def handle(self, seen: Seen, body: bytes) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.requests.append(seen)
            for hook in self.hooks:
                hook(seen)
            for fault in self.faults:
                if fault.times > 0 and fault.match(seen):
                    fault.times -= 1
                    return fault.status, fault.headers, outcome(f"injected HTTP {fault.status}", "transient")
            if seen.path == "/auth/token" and seen.method == "POST":
                return self._token(body)
            if not seen.path.startswith("/fhir"):
                return 404, {}, outcome("no such endpoint", "not-found")
            route = seen.path[len("/fhir"):].strip("/")
            if route == "metadata":
                return 200, {}, self.capability()
            if route == ".well-known/smart-configuration":
                return 200, {}, {"token_endpoint": self.token_url, "grant_types_supported": ["client_credentials"],
                                 "token_endpoint_auth_methods_supported": ["private_key_jwt"]}
            if self.public_key is not None and not self._authorized(seen):
                return 401, {"WWW-Authenticate": "Bearer"}, outcome("missing or expired access token", "login")
            if route == "" and "_getpages" in seen.query:
                return self._page(seen)
            if route == "Appointment" and seen.method == "GET":
                return self._search(seen)
            if route in ("Practitioner", "Location") and seen.method == "GET":
                return self._list(route, seen)
            parts = route.split("/")
            if len(parts) == 2 and seen.method == "GET":
                return self._read(route)
            if len(parts) == 2 and seen.method == "PUT" and parts[0] == "Appointment":
                return self._update(route, seen, body)
            if route == "Subscription" and seen.method == "POST":
                return self._subscribe(body)
            if route == "Subscription" and seen.method == "GET":
                return self._subscriptions(seen)
            if len(parts) == 2 and seen.method == "PUT" and parts[0] == "Subscription" and route in self.resources:
                return self._update(route, seen, body)
            return 400, {}, outcome(f"unsupported request {seen.method} {route}", "not-supported")

    def capability(self) -> dict[str, Any]:
        return {"resourceType": "CapabilityStatement", "status": "active", "kind": "instance",
                "fhirVersion": "4.0.1", "format": ["json"], "software": {"name": "FakeFHIR", "version": "1"},
                "rest": [{"mode": "server", "resource": [
                    {"type": "Appointment", "interaction": [{"code": "read"}, {"code": "search-type"},
                                                            {"code": "update"}],
                     "searchParam": [{"name": n, "type": "token"} for n in sorted(SEARCH_PARAMS - {"_count"})]},
                    {"type": "Patient", "interaction": [{"code": "read"}]}]}]}

    def _authorized(self, seen: Seen) -> bool:
        header = seen.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip()
        expires = self.tokens.get(token)
        return expires is not None and expires > self.clock

    def _token(self, body: bytes) -> tuple[int, dict[str, str], Any]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}

        def refuse(why: str) -> tuple[int, dict[str, str], Any]:
            return 401, {}, {"error": "invalid_client", "error_description": why}

        if form.get("grant_type") != "client_credentials":
            return 400, {}, {"error": "unsupported_grant_type"}
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return refuse("client_assertion_type")
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, self.public_key, algorithms=[self.algorithm], audience=self.token_url,
                                issuer=self.client_id, options={"require": ["exp", "jti", "iss", "sub", "aud"]})
        except jwt.PyJWTError as exc:
            return refuse(f"assertion rejected: {exc}")
        if header.get("kid") != self.kid or header.get("typ") != "JWT":
            return refuse("unknown kid")
        if claims["sub"] != self.client_id or claims["jti"] in self.jtis:
            return refuse("bad sub or replayed jti")
        if claims["exp"] - datetime.now(UTC).timestamp() > 300:
            return refuse("exp more than five minutes ahead")
        self.jtis.add(claims["jti"])
        self.assertions.append((header, claims))
        token = secrets.token_hex(16)
        self.tokens[token] = self.clock + timedelta(seconds=self.token_lifetime)
        return 200, {}, {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime,
                         "scope": form.get("scope", "")}

    def _read(self, key: str) -> tuple[int, dict[str, str], Any]:
        if key in self.deleted:
            return 410, {}, outcome(f"{key} was deleted", "deleted")
        if key not in self.resources:
            return 404, {}, outcome(f"{key} is not known", "not-found")
        resource = self.resources[key]
        return 200, {"ETag": f'W/"{resource["meta"]["versionId"]}"'}, resource

    def _update(self, key: str, seen: Seen, body: bytes) -> tuple[int, dict[str, str], Any]:
        current = self.versions.get(key)
        if_match = seen.headers.get("if-match")
        if if_match is not None and if_match != f'W/"{current}"':
            return 412, {}, outcome(f"version conflict: {key} is at version {current}", "conflict")
        resource = json.loads(body)
        if f"{resource.get('resourceType')}/{resource.get('id')}" != key:
            return 400, {}, outcome("resource id does not match the URL", "invalid")
        stored = self.put(resource)
        return 200, {"ETag": f'W/"{stored["meta"]["versionId"]}"'}, stored

    def _subscribe(self, body: bytes) -> tuple[int, dict[str, str], Any]:
        """Create a Subscription as HAPI does: stored, answered 201 with its id."""
        resource = json.loads(body)
        if resource.get("resourceType") != "Subscription" or not resource.get("channel"):
            return 400, {}, outcome("not a Subscription", "invalid")
        resource["id"] = uuid.uuid4().hex[:12]
        self.subscriptions.append(resource)
        stored = self.put(resource)
        return 201, {"Location": f"{self.base_url}/Subscription/{resource['id']}"}, stored

    def _subscriptions(self, seen: Seen) -> tuple[int, dict[str, str], Any]:
        """Subscription search by ``url`` (channel.endpoint), as HAPI answers it: one page."""
        urls = seen.query.get("url", [])
        found = [self.resources[k] for k in self.order if k.startswith("Subscription/") and k not in self.deleted
                 and all(self.resources[k]["channel"].get("endpoint") == u for u in urls)]
        return 200, {}, {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                         "entry": [{"fullUrl": f"{self.base_url}/Subscription/{r['id']}", "resource": r,
                                    "search": {"mode": "match"}} for r in found]}

    def _matches(self, resource: dict[str, Any], query: dict[str, list[str]]) -> bool:
        updated = _parse_time(resource["meta"]["lastUpdated"])
        start = _parse_time(resource["start"]) if resource.get("start") else None
        actors = {(p.get("actor") or {}).get("reference", "") for p in resource.get("participant", [])}
        return (all(resource["id"] in v.split(",") for v in query.get("_id", []))  # comma: any of them
                and all(_compare(v, updated) for v in query.get("_lastUpdated", []))
                and all(_compare(v, start) for v in query.get("date", []))
                and all(resource.get("status") in v.split(",") for v in query.get("status", []))
                and all(any(ref == f"{param.capitalize()}/{v.split('/')[-1]}" for ref in actors)
                        for param in ACTOR_PARAMS for v in query.get(param, [])))

    def _list(self, kind: str, seen: Seen) -> tuple[int, dict[str, str], Any]:
        """Practitioner / Location search (discovery): every one known, active=true honoured."""
        keys = [k for k in self.order if k.startswith(f"{kind}/") and k not in self.deleted
                and (seen.query.get("active") != ["true"] or self.resources[k].get("active", True))]
        search_id = uuid.uuid4().hex
        self.searches[search_id] = keys
        return 200, {}, self._bundle(search_id, 0, int(seen.query.get("_count", ["10"])[0]), [])

    def _search(self, seen: Seen) -> tuple[int, dict[str, str], Any]:
        unknown = sorted(set(seen.query) - self.params)
        if unknown:
            return 400, {}, outcome(f'Unknown search parameter "{unknown[0]}" for resource type "Appointment"')
        if self.per_actor and (not seen.query.get("date")
                               or not any(seen.query.get(p) for p in ACTOR_PARAMS)):
            return 400, {}, outcome("The date parameter and one of patient, practitioner or location are required",
                                    "required")
        keys = [k for k in self.order if k.startswith("Appointment/") and k not in self.deleted
                and self._matches(self.resources[k], seen.query)]
        search_id = uuid.uuid4().hex
        self.searches[search_id] = keys
        self.elements[search_id] = [e for v in seen.query.get("_elements", []) for e in v.split(",")]
        count = int(seen.query.get("_count", ["10"])[0])
        return 200, {}, self._bundle(search_id, 0, count, seen.query.get("_include", []))

    def _page(self, seen: Seen) -> tuple[int, dict[str, str], Any]:
        search_id = seen.query["_getpages"][0]
        if search_id not in self.searches:
            return 410, {}, outcome(f"search {search_id} has expired", "not-found")
        offset = int(seen.query.get("_getpagesoffset", ["0"])[0])
        count = int(seen.query.get("_count", ["10"])[0])
        return 200, {}, self._bundle(search_id, offset, count, seen.query.get("_include", []))

    def _bundle(self, search_id: str, offset: int, count: int, includes: list[str]) -> dict[str, Any]:
        keys = self.searches[search_id]
        entries: list[dict[str, Any]] = []
        included: dict[str, dict[str, Any]] = {}
        wanted = {INCLUDE_TYPES[i] for i in includes if i in INCLUDE_TYPES}
        for key in keys[offset:offset + count]:
            if key in self.deleted:
                continue  # deleted since the search: the page shows the current state
            resource = self.resources[key]
            if self.elements.get(search_id):  # mandatory elements (resourceType, id, meta) and those asked for
                resource = {k: v for k, v in resource.items()
                            if k in ("resourceType", "id", *self.elements[search_id])}
                resource["meta"] = {**self.resources[key]["meta"], "tag": [SUBSETTED]}
            entries.append({"fullUrl": f"{self.base_url}/{key}", "resource": resource, "search": {"mode": "match"}})
            for participant in resource.get("participant", []):
                ref = (participant.get("actor") or {}).get("reference", "")
                if ref.split("/")[0] in wanted and ref in self.resources and ref not in self.deleted:
                    included[ref] = self.resources[ref]
        entries += [{"fullUrl": f"{self.base_url}/{k}", "resource": r, "search": {"mode": "include"}}
                    for k, r in included.items()]
        links = [{"relation": "self", "url": f"{self.base_url}?_getpages={search_id}&_getpagesoffset={offset}"}]
        if offset + count < len(keys):
            elements = self.elements.get(search_id)  # kept in the link, as HAPI does
            query = urlencode([("_getpages", search_id), ("_getpagesoffset", offset + count), ("_count", count)]
                              + [("_include", i) for i in includes]
                              + ([("_elements", ",".join(elements))] if elements else []))
            links.append({"relation": "next", "url": f"{self.base_url}?{query}"})
        return {"resourceType": "Bundle", "id": uuid.uuid4().hex, "type": "searchset", "total": len(keys),
                "meta": {"lastUpdated": _instant(self.clock)}, "link": links, "entry": entries}


def _handler(fake: FakeFhir) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY on each accepted socket. The handler writes the headers and then the
        # body; with Nagle's algorithm on, the body waits for the client's ACK of the headers,
        # which a keep-alive client delays by up to 40 ms (delayed ACK): 44 ms a request
        # against 0.4 ms without it. A real server (uvicorn, nginx) sets it too.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            return formatdate(fake.clock.timestamp(), usegmt=True)

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Seen(self.command, parts.path, parse_qs(parts.query),
                        {k.lower(): v for k, v in self.headers.items()})
            status, headers, payload = fake.handle(seen, body)
            seen.status = status
            data = json.dumps(payload).encode()
            self.send_response(status)
            content_type = "application/json" if parts.path.startswith("/auth") else "application/fhir+json"
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

    return Handler


# -- resources for tests -------------------------------------------------------------------
def patient(pid: str, phone: str = "+1 212 555 0100", language: str | None = "es") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient", "id": pid,
        "name": [{"use": "official", "family": f"Family{pid}", "given": ["Given", pid]}],
        "telecom": [{"system": "phone", "value": "+1 212 555 0199", "use": "home"},
                    {"system": "phone", "value": phone, "use": "mobile"},
                    {"system": "email", "value": f"patient-{pid}@example.org"}]}
    if language:
        resource["communication"] = [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": language}]},
                                      "preferred": True}]
    return resource


def practitioner(did: str) -> dict[str, Any]:
    return {"resourceType": "Practitioner", "id": did,
            "name": [{"family": f"Doc{did}", "given": ["Ana"], "prefix": ["Dr"]}],
            "telecom": [{"system": "email", "value": f"doctor-{did}@clinic.example", "use": "work"}]}


def location(lid: str) -> dict[str, Any]:
    return {"resourceType": "Location", "id": lid, "name": f"Room {lid}"}


def appointment(aid: str, start: datetime | None, patient_id: str, doctor_id: str, location_id: str | None = None,
                status: str = "booked", minutes: int = 30) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Appointment", "id": aid, "status": status,
        "appointmentType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0276",
                                        "code": "ROUTINE", "display": "Routine appointment"}]},
        "participant": [
            {"actor": {"reference": f"Patient/{patient_id}"}, "status": "needs-action"},
            {"type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                   "code": "ATND"}]}],
             "actor": {"reference": f"Practitioner/{doctor_id}"}, "status": "accepted"}]}
    if location_id:
        resource["participant"].append({"actor": {"reference": f"Location/{location_id}"}, "status": "accepted"})
    if start is not None:
        resource["start"] = _instant(start)
        resource["end"] = _instant(start + timedelta(minutes=minutes))
    else:
        resource["minutesDuration"] = minutes
    return resource


# -- keys and settings for tests -----------------------------------------------------------
@cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def with_meta(resource: dict[str, Any], version: str = "1", updated: str = "2026-01-10T09:00:00Z") -> dict[str, Any]:
    return {**resource, "meta": {"versionId": version, "lastUpdated": updated}}
