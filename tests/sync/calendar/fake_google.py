"""A loopback fake of the Google Calendar API and Google's OAuth token endpoint.

Driven by the real google-api-python-client and google-auth: it verifies the service
account's JWT (signature, audience, scope; the delegation subject is recorded), serves
events insert/get/patch/update/delete/list with Google's semantics (deleted events keep
their id with status "cancelled"; a second insert of an id is 409; deleting a deleted
event is 410), parses the multipart/mixed batch endpoint, and injects faults on demand:
scripted ones (``fail``), or at random from seeded plans (``chaos`` for whole requests:
429/500/503, resets before or after taking the request, no answer at all; ``part_chaos``
for the calls inside a batch). It counts every HTTP request so tests can assert how many
calls were made.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import secrets
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

import jwt

from tests.faults import AMBIGUOUS, ERROR, RESET_BEFORE, THROTTLE, TIMEOUT, FaultPlan, hard_close, wait_for_hang_up

SCOPE = "https://www.googleapis.com/auth/calendar.events"
SERVICE_ACCOUNT = "clinicsync@test-project.iam.gserviceaccount.com"
JWT_AUDIENCE = "https://oauth2.googleapis.com/token"  # google-auth's fixed audience, whatever token_uri is
_EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 409: "Conflict", 410: "Gone", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class Fault:
    status: int
    reason: str
    times: int = 1
    method: str | None = None  # POST insert, PATCH, PUT, DELETE, GET
    event_id: str | None = None
    batch: bool = False  # fail the outer batch request itself
    principal: str | None = None  # only calls made as this user (None: anyone's)


@dataclass
class Call:
    method: str
    calendar: str  # resolved calendar id (an email for primary)
    event_id: str | None
    query: dict[str, list[str]]
    body: dict[str, Any] | None
    principal: str
    in_batch: bool
    status: int = 0


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()


def google_error(status: int, reason: str, message: str = "") -> Reply:
    message = message or _REASONS.get(status, "error")
    domain = "usageLimits" if "RateLimit" in reason or status == 429 else "global"
    return Reply(status, {"error": {"errors": [{"domain": domain, "reason": reason, "message": message}],
                                    "code": status, "message": message}})


def chaos_error(fault: str, retry_after: int) -> Reply:
    """Google's answer for a drawn 429/500/503."""
    if fault == THROTTLE:
        reply = google_error(429, "rateLimitExceeded", "Rate Limit Exceeded")
        reply.headers["Retry-After"] = str(retry_after)
        return reply
    if fault == ERROR:
        return google_error(500, "backendError", "Backend Error")
    return google_error(503, "backendError", "The service is currently unavailable.")


def _merge(into: dict[str, Any], patch: dict[str, Any]) -> None:
    """Google's patch semantics: objects merge, arrays and scalars replace."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, dict) or "dateTime" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value["dateTime"])
        if "timeZone" in value:
            ZoneInfo(value["timeZone"])
    except (ValueError, KeyError):
        return None
    return parsed if parsed.tzinfo else None


class FakeGoogle:
    def __init__(self, public_key_pem: bytes) -> None:
        self.public_key = public_key_pem
        self.lock = threading.RLock()
        self.calendars: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.shared: dict[str, set[str]] = {}  # calendar id → principals that may write it
        self.tokens: dict[str, str] = {}
        self.assertions: list[dict[str, Any]] = []  # decoded, verified JWT claims
        self.refused_subjects: set[str] = set()  # delegation not granted for these users
        self.token_requests = 0
        self.api_requests: list[tuple[str, str]] = []  # outer HTTP requests to the Calendar API
        self.calls: list[Call] = []  # every API call, batched or not
        self.batch_bodies: list[bytes] = []
        self.faults: list[Fault] = []
        self.chaos: FaultPlan | None = None  # faults of whole API requests (never the token endpoint)
        self.part_chaos: FaultPlan | None = None  # 429/500/503 answers to calls inside a batch
        self.token_chaos: FaultPlan | None = None  # faults of the OAuth token endpoint
        self.page_size = 250
        self._etag = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.fake = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def start(self) -> FakeGoogle:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- test helpers ---------------------------------------------------------------------
    def key_file(self, folder: Path, private_key_pem: bytes) -> Path:
        path = folder / "service-account.json"
        path.write_text(json.dumps({
            "type": "service_account", "project_id": "test-project", "private_key_id": "k1",
            "private_key": private_key_pem.decode(), "client_email": SERVICE_ACCOUNT, "client_id": "1",
            "auth_uri": f"{self.url}auth", "token_uri": f"{self.url}token",
        }))
        return path

    def fail(self, status: int, reason: str, **kwargs: Any) -> None:
        self.faults.append(Fault(status, reason, **kwargs))

    def live(self, calendar: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.calendars.get(calendar, {}).items() if v.get("status") != "cancelled"}

    def clear(self) -> None:
        """Empty calendars and faults (between property-test examples)."""
        with self.lock:
            self.calendars.clear()
            self.faults.clear()
            self.reset_counts()

    def reset_counts(self) -> None:
        with self.lock:
            self.api_requests.clear()
            self.calls.clear()
            self.batch_bodies.clear()
            self.token_requests = 0

    # -- dispatch ---------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        parts = urlsplit(target)
        with self.lock:
            if parts.path == "/token":
                return self._token(body)
            self.api_requests.append((method, parts.path))
            principal = self._principal(headers.get("Authorization"))
            if principal is None:
                return google_error(401, "authError", "Invalid Credentials")
            if parts.path == "/batch/calendar/v3":
                fault = self._fault(method, None, batch=True)
                return fault or self._batch(headers.get("Content-Type", ""), body, principal)
            return self._api(method, parts.path, parse_qs(parts.query), body, principal, in_batch=False)

    def _principal(self, authorization: str | None) -> str | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        return self.tokens.get(authorization.removeprefix("Bearer ").strip())

    def _fault(self, method: str, event_id: str | None, batch: bool = False,
               principal: str | None = None) -> Reply | None:
        for fault in self.faults:
            if fault.times <= 0 or fault.batch != batch or fault.principal not in (None, principal):
                continue
            if fault.method not in (None, method) or fault.event_id not in (None, event_id):
                continue
            fault.times -= 1
            return google_error(fault.status, fault.reason)
        return None

    # -- OAuth ------------------------------------------------------------------------------
    def _token(self, body: bytes) -> Reply:
        self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Reply(400, {"error": "unsupported_grant_type"})
        try:
            claims = jwt.decode(form.get("assertion", ""), self.public_key, algorithms=["RS256"],
                                audience=JWT_AUDIENCE)
        except jwt.PyJWTError as exc:
            return Reply(400, {"error": "invalid_grant", "error_description": str(exc)})
        self.assertions.append(claims)
        if claims.get("iss") != SERVICE_ACCOUNT or claims.get("scope") != SCOPE:
            return Reply(400, {"error": "invalid_scope"})
        if claims.get("sub") in self.refused_subjects:
            return Reply(401, {"error": "unauthorized_client", "error_description":
                               "Client is unauthorized to retrieve access tokens using this method."})
        token = secrets.token_hex(12)
        self.tokens[token] = claims.get("sub") or claims["iss"]
        return Reply(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    # -- batch ------------------------------------------------------------------------------
    def _batch(self, content_type: str, body: bytes, principal: str) -> Reply:
        self.batch_bodies.append(body)
        parts = _multipart(content_type, body)
        if parts is None:
            return google_error(400, "badRequest", "not multipart/mixed")
        if len(parts) > 50:
            return google_error(400, "batchSizeTooLarge")
        boundary = "batch_fake_" + secrets.token_hex(6)
        out = []
        for part_headers, raw in parts:
            content_id = part_headers.get("content-id", "").strip()
            method, path, query, inner_headers, inner_body = _parse_http(raw)
            inner_principal = self._principal(inner_headers.get("authorization")) or principal
            reply = self._api(method, path, query, inner_body, inner_principal, in_batch=True)
            payload = reply.payload()
            head = f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'X')}\r\n"
            head += "Content-Type: application/json; charset=UTF-8\r\n" if payload else ""
            head += "".join(f"{name}: {value}\r\n" for name, value in reply.headers.items())
            head += f"Content-Length: {len(payload)}\r\n\r\n"
            out.append(f"--{boundary}\r\nContent-Type: application/http\r\n"
                       f"Content-ID: <response-{content_id[1:-1]}>\r\n\r\n".encode() + head.encode() + payload
                       + b"\r\n")
        data = b"".join(out) + f"--{boundary}--\r\n".encode()
        return Reply(200, data, {"Content-Type": f"multipart/mixed; boundary={boundary}"})

    # -- the events resource ----------------------------------------------------------------
    def _api(self, method: str, path: str, query: dict[str, list[str]], body: bytes, principal: str,
             in_batch: bool) -> Reply:
        match = re.fullmatch(r"/calendar/v3/calendars/([^/]+)/events(?:/([^/]+))?", path)
        if not match:
            return google_error(404, "notFound", f"no route {path}")
        calendar_id, event_id = unquote(match.group(1)), unquote(match.group(2)) if match.group(2) else None
        calendar = principal if calendar_id == "primary" else calendar_id
        data = json.loads(body) if body else None
        call = Call(method, calendar, event_id, query, data, principal, in_batch)
        self.calls.append(call)
        if calendar != principal and principal not in self.shared.get(calendar, set()):
            reply = google_error(404, "notFound", "calendar not found")
        elif in_batch and self.part_chaos is not None and (fault := self.part_chaos.draw(None)):
            reply = chaos_error(fault, self.part_chaos.retry_after)
        else:
            reply = self._fault(method, event_id or (data or {}).get("id"), principal=principal) or self._event_call(
                method, self.calendars[calendar], event_id, query, data, calendar)
        call.status = reply.status
        return reply

    def _event_call(self, method: str, events: dict[str, dict[str, Any]], event_id: str | None,
                    query: dict[str, list[str]], data: Any, calendar: str) -> Reply:
        if isinstance(data, dict) and "conferenceData" in data:
            data = _conference(data, query, events.get(event_id or data.get("id") or ""))
            if isinstance(data, Reply):
                return data
        if event_id is None:
            return self._list(events, query) if method == "GET" else self._insert(events, data, calendar)
        event = events.get(event_id)
        if event is None:
            return google_error(404, "notFound")
        if method == "GET":
            return Reply(200, event)
        if method == "DELETE":
            if event.get("status") == "cancelled":
                return google_error(410, "deleted", "Resource has been deleted")
            event["status"] = "cancelled"
            event["etag"] = self._next_etag()
            return Reply(204)
        candidate = copy.deepcopy(event)
        if method == "PATCH":
            _merge(candidate, data)
        elif method == "PUT":
            candidate = {**copy.deepcopy(data), "id": event_id, "status": data.get("status", "confirmed"),
                         "sequence": event.get("sequence", 0), "organizer": event["organizer"]}
        else:
            return google_error(405, "methodNotAllowed")
        invalid = _invalid(candidate)
        if invalid:
            return invalid
        if (candidate.get("start"), candidate.get("end")) != (event.get("start"), event.get("end")):
            candidate["sequence"] = int(event.get("sequence", 0)) + 1
        candidate["etag"] = self._next_etag()
        events[event_id] = candidate
        return Reply(200, candidate)

    def _insert(self, events: dict[str, dict[str, Any]], data: Any, calendar: str) -> Reply:
        event_id = (data or {}).get("id")
        if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
            return google_error(400, "invalid", "Invalid resource id value.")
        if event_id in events:
            return google_error(409, "duplicate", "The requested identifier already exists.")
        event = {**copy.deepcopy(data), "kind": "calendar#event", "status": data.get("status", "confirmed"),
                 "sequence": 0, "organizer": {"email": calendar, "self": True}}
        invalid = _invalid(event)
        if invalid:
            return invalid
        event["etag"] = self._next_etag()
        events[event_id] = event
        return Reply(200, event)

    def _list(self, events: dict[str, dict[str, Any]], query: dict[str, list[str]]) -> Reply:
        wanted = [p.split("=", 1) for p in query.get("privateExtendedProperty", [])]
        show_deleted = query.get("showDeleted", ["false"])[0] == "true"
        time_min = datetime.fromisoformat(query["timeMin"][0]) if "timeMin" in query else None
        items = []
        for event_id in sorted(events):
            event = events[event_id]
            private = (event.get("extendedProperties") or {}).get("private") or {}
            if any(private.get(k) != v for k, v in wanted):
                continue
            if event.get("status") == "cancelled" and not show_deleted:
                continue
            end = _time(event.get("end"))
            if time_min is not None and end is not None and end <= time_min:
                continue
            items.append(event)
        size = min(self.page_size, int(query.get("maxResults", ["250"])[0]))
        offset = int(query.get("pageToken", ["0"])[0])
        page: dict[str, Any] = {"kind": "calendar#events", "items": items[offset:offset + size]}
        if offset + size < len(items):
            page["nextPageToken"] = str(offset + size)
        return Reply(200, page)

    def _next_etag(self) -> str:
        self._etag += 1
        return f'"{self._etag}"'


def _conference(data: dict[str, Any], query: dict[str, list[str]], existing: dict[str, Any] | None) -> Any:
    """Google's conferenceData rules: without conferenceDataVersion=1 it is ignored (dropped
    from the body); a createRequest makes a Meet conference (hangoutLink too), once per
    requestId; otherwise a conference needs a conferenceSolution and at least one entry point
    with a uri. Returns the body as stored, or an error Reply."""
    data = copy.deepcopy(data)
    if query.get("conferenceDataVersion", ["0"])[0] != "1":
        data.pop("conferenceData")
        return data
    conference = data["conferenceData"]
    if conference is None:
        data["conferenceData"] = None
        data.pop("hangoutLink", None)
        return data
    request = conference.get("createRequest")
    if request is not None:
        before = (existing or {}).get("conferenceData") or {}
        if (before.get("createRequest") or {}).get("requestId") == request.get("requestId"):
            data["conferenceData"] = before  # the same request again: ignored, the conference stays
            data["hangoutLink"] = existing.get("hangoutLink") if existing else None
            return data
        if (request.get("conferenceSolutionKey") or {}).get("type") != "hangoutsMeet":
            return google_error(400, "invalid", "Invalid conference type value.")
        code = "-".join(secrets.token_hex(2)[:n] for n in (3, 4, 3))
        link = f"https://meet.google.com/{code}"
        data["conferenceData"] = {
            "createRequest": {**request, "status": {"statusCode": "success"}}, "conferenceId": code,
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
            "entryPoints": [{"entryPointType": "video", "uri": link, "label": link.removeprefix("https://")}]}
        data["hangoutLink"] = link
        return data
    entries = conference.get("entryPoints") or []
    if not conference.get("conferenceSolution") or not entries or not all(e.get("uri") for e in entries):
        return google_error(400, "invalid", "Invalid conference data.")
    return data


def _invalid(event: dict[str, Any]) -> Reply | None:
    start, end = _time(event.get("start")), _time(event.get("end"))
    if start is None or end is None:
        return google_error(400, "required", "Missing or invalid time (dateTime with an offset and timeZone).")
    if end <= start:
        return google_error(400, "timeRangeEmpty", "The specified time range is empty.")
    return None


def _multipart(content_type: str, body: bytes) -> list[tuple[dict[str, str], bytes]] | None:
    """Split a multipart/mixed body into (part headers, part payload)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/mixed") or not match:
        return None
    delimiter = b"--" + match.group(1).encode()
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, payload = chunk.replace(b"\r\n", b"\n").strip(b"\n").partition(b"\n\n")
        headers = {}
        for line in head.decode().split("\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts.append((headers, payload))
    return parts


def _parse_http(raw: bytes) -> tuple[str, str, dict[str, list[str]], dict[str, str], bytes]:
    """One application/http part: request line, headers, body (the client writes \\n line ends)."""
    text = raw.replace(b"\r\n", b"\n")
    head, _, body = text.partition(b"\n\n")
    lines = head.decode().split("\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    parts = urlsplit(target)
    return method, parts.path, parse_qs(parts.query), headers, body.strip()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY: see tests/connectors/fhir_fake.py

    def _serve(self) -> None:
        fake: FakeGoogle = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        chaos = fake.token_chaos if self.path.startswith("/token") else fake.chaos
        fault = chaos.draw(None) if chaos is not None else None
        if fault == RESET_BEFORE:  # the request is not taken
            self._drop(None)
            return
        if fault is not None and fault not in AMBIGUOUS:
            assert chaos is not None
            reply = chaos_error(fault, chaos.retry_after)
        else:
            reply = fake.handle(self.command, self.path, self.headers, body)
        if fault in AMBIGUOUS:  # taken (and done), but the answer never comes
            self._drop(chaos if fault == TIMEOUT else None)
            return
        payload = reply.payload()
        self.send_response(reply.status)
        headers = {"Content-Type": "application/json; charset=UTF-8", **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def _drop(self, hang_for: FaultPlan | None) -> None:
        """Close without answering; for a "timeout", first wait until the client gives up."""
        self.close_connection = True
        if hang_for is not None:
            wait_for_hang_up(self.connection, hang_for)
        hard_close(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # a connection reset on purpose
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass
