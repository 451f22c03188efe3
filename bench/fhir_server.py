"""A cheap FHIR R4 search server for W2, run in its own process: every searchset page is
rendered to bytes before the server listens, so a request costs a dict lookup and a
socket write, and the client (clinicsync, or the raw baseline) is what gets measured.

    python -m bench.fhir_server 50000 100 [LATENCY_MS]   # prints "ready http://127.0.0.1:PORT/fhir BYTES"

The data are shaped like the connector's loopback fake (tests/connectors/fhir_fake.py):
Appointments with a patient, an attending practitioner and a location, searched with
``_include`` of all three and paged HAPI-style (``?_getpages=…&_getpagesoffset=…``).
Every resource was last updated an hour before the server started, so a search with
``_lastUpdated`` (the connector's incremental poll) answers one empty page. LATENCY_MS
(default 0) makes every page answer that much later, like a real server's search.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson

SEARCH_ID = "w2search"
INCLUDES = ("Appointment:patient", "Appointment:practitioner", "Appointment:location")
PATIENTS_PER_APPOINTMENTS = 3  # 50,000 appointments -> 16,667 patients (some come back)
PRACTITIONERS = 40
LOCATIONS = 8


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _meta(updated: str, version: int = 1) -> dict[str, Any]:
    return {"versionId": str(version), "lastUpdated": updated}


def patient(pid: int, updated: str) -> dict[str, Any]:
    """Synthetic patient (made-up names and numbers in the 555-01xx fiction range)."""
    return {"resourceType": "Patient", "id": f"p{pid}", "meta": _meta(updated),
            "name": [{"use": "official", "family": f"Family{pid}", "given": ["Given", f"P{pid}"]}],
            "telecom": [{"system": "phone", "value": "+1 212 555 0199", "use": "home"},
                        {"system": "phone", "value": f"+1 212 555 01{pid % 100:02d}", "use": "mobile"},
                        {"system": "email", "value": f"patient-{pid}@example.org"}],
            "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es"}]},
                               "preferred": True}]}


def practitioner(did: int, updated: str) -> dict[str, Any]:
    return {"resourceType": "Practitioner", "id": f"d{did}", "meta": _meta(updated),
            "name": [{"family": f"Doc{did}", "given": ["Ana"], "prefix": ["Dr"]}],
            "telecom": [{"system": "email", "value": f"doctor-{did}@clinic.example", "use": "work"}]}


def location(lid: int, updated: str) -> dict[str, Any]:
    return {"resourceType": "Location", "id": f"l{lid}", "meta": _meta(updated), "name": f"Room {lid}"}


def appointment(aid: int, start: datetime, updated: str, patients: int) -> dict[str, Any]:
    return {
        "resourceType": "Appointment", "id": f"a{aid}", "meta": _meta(updated), "status": "booked",
        "appointmentType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0276",
                                        "code": "ROUTINE", "display": "Routine appointment"}]},
        "start": _instant(start), "end": _instant(start + timedelta(minutes=30)),
        "participant": [
            {"actor": {"reference": f"Patient/p{aid % patients}"}, "status": "needs-action"},
            {"type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                   "code": "ATND"}]}],
             "actor": {"reference": f"Practitioner/d{aid % PRACTITIONERS}"}, "status": "accepted"},
            {"actor": {"reference": f"Location/l{aid % LOCATIONS}"}, "status": "accepted"}]}


def render_pages(base_url: str, appointments: int, page_size: int) -> list[bytes]:
    """Every page of the one search, as the bytes sent: matches, then the page's includes."""
    now = datetime.now(UTC).replace(microsecond=0)
    updated = _instant(now - timedelta(hours=1))
    patients = max(1, appointments // PATIENTS_PER_APPOINTMENTS)
    first_start = now + timedelta(days=1)
    pages: list[bytes] = []
    for offset in range(0, max(appointments, 1), page_size):
        entries: list[dict[str, Any]] = []
        included: dict[str, dict[str, Any]] = {}
        for aid in range(offset, min(offset + page_size, appointments)):
            resource = appointment(aid, first_start + timedelta(minutes=15 * aid), updated, patients)
            entries.append({"fullUrl": f"{base_url}/Appointment/a{aid}", "resource": resource,
                            "search": {"mode": "match"}})
            for ref, build, key in ((f"Patient/p{aid % patients}", patient, aid % patients),
                                    (f"Practitioner/d{aid % PRACTITIONERS}", practitioner, aid % PRACTITIONERS),
                                    (f"Location/l{aid % LOCATIONS}", location, aid % LOCATIONS)):
                if ref not in included:
                    included[ref] = build(key, updated)
        entries += [{"fullUrl": f"{base_url}/{ref}", "resource": r, "search": {"mode": "include"}}
                    for ref, r in included.items()]
        links = [{"relation": "self",
                  "url": f"{base_url}?_getpages={SEARCH_ID}&_getpagesoffset={offset}&_count={page_size}"}]
        if offset + page_size < appointments:
            query = urlencode([("_getpages", SEARCH_ID), ("_getpagesoffset", offset + page_size),
                               ("_count", page_size)] + [("_include", i) for i in INCLUDES])
            links.append({"relation": "next", "url": f"{base_url}?{query}"})
        pages.append(orjson.dumps({"resourceType": "Bundle", "id": f"{SEARCH_ID}-{offset}", "type": "searchset",
                                   "total": appointments, "link": links, "entry": entries}))
    return pages


def empty_page(base_url: str) -> bytes:
    return orjson.dumps({"resourceType": "Bundle", "id": "empty", "type": "searchset", "total": 0,
                         "link": [{"relation": "self", "url": f"{base_url}/Appointment"}], "entry": []})


def serve(appointments: int, page_size: int, latency: float = 0.0) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    base_url = f"http://{host}:{port}/fhir"
    pages = render_pages(base_url, appointments, page_size)
    empty = empty_page(base_url)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # TCP_NODELAY: see tests/connectors/fhir_fake.py

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            body, status = b"", 404
            if parts.path == "/fhir/Appointment":
                body, status = (empty if "_lastUpdated" in query else pages[0]), 200
            elif parts.path == "/fhir" and query.get("_getpages") == [SEARCH_ID]:
                index = int(query.get("_getpagesoffset", ["0"])[0]) // page_size
                if 0 <= index < len(pages):
                    body, status = pages[index], 200
            if latency and body:
                time.sleep(latency)
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def date_time_string(self, timestamp: float | None = None) -> str:
            return formatdate(timestamp, usegmt=True)

    server.RequestHandlerClass = Handler
    print(f"ready {base_url} {sum(len(p) for p in pages)}", flush=True)
    server.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.0)
