"""Many small FHIR R4 servers behind one loopback port, for the many-sources bench
(bench/many_sources.py): each *tenant* is one practice's server at ``/t<k>/fhir``, with its own
appointments, which the bench moves while the service polls.

    python -m bench.fhir_tenants FIRST COUNT VISITS LATENCY_MS [HUNG,…]   # prints "ready http://127.0.0.1:PORT"

Tenants FIRST … FIRST+COUNT-1 each hold VISITS booked Appointments (a0 …), from 4 days ahead,
with a patient, a practitioner and a location, shaped as bench/fhir_server.py's (its builders
are reused). A search answers every match in one page (VISITS stays below the connector's page
size), with the ``_include``d resources; ``_lastUpdated=gt…`` (the connector's incremental poll)
answers only what changed since, so an idle poll is one empty page. Every answer waits
LATENCY_MS first, like a real server's search. A tenant listed in HUNG never answers a search
(the request sleeps for an hour): a practice whose server stalls mid-request.

The bench moves a visit with ``POST /control/move`` (JSON ``{"tenant": k, "id": "a3",
"minutes": 30}``): its start moves that many minutes and its ``meta.lastUpdated`` becomes now,
so the next incremental poll reads it. The answer is the new start (ISO, UTC).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from bench.fhir_server import _instant, appointment, location, patient, practitioner

HANG_SECONDS = 3600.0
PATIENTS_PER_TENANT = 20


@dataclass
class Visit:
    start: datetime
    updated: datetime
    version: int = 1


def first_start(now: datetime, n: int) -> datetime:
    """Visit n's start: from 4 days ahead (every reminder offset still to come), 4 a day."""
    day, slot = divmod(n, 4)
    base = (now + timedelta(days=4 + day)).replace(hour=14, minute=0, second=0, microsecond=0)
    return base + timedelta(minutes=45 * slot)


class Tenants:
    """Every tenant's appointments, in memory; one lock (moves are rare, reads are small)."""

    def __init__(self, first: int, count: int, visits: int) -> None:
        now = datetime.now(UTC).replace(microsecond=0)
        old = now - timedelta(hours=1)
        self.lock = threading.Lock()
        self.visits: dict[int, list[Visit]] = {
            k: [Visit(first_start(now, n), old) for n in range(visits)] for k in range(first, first + count)}

    def move(self, tenant: int, index: int, minutes: int) -> datetime:
        with self.lock:
            visit = self.visits[tenant][index]
            visit.start += timedelta(minutes=minutes)
            visit.updated = datetime.now(UTC)
            visit.version += 1
            return visit.start

    def bundle(self, base_url: str, tenant: int, since: datetime | None) -> bytes:
        with self.lock:
            chosen = [(n, v.start, v.updated, v.version) for n, v in enumerate(self.visits[tenant])
                      if since is None or v.updated > since]
        entries: list[dict[str, Any]] = []
        included: dict[str, dict[str, Any]] = {}
        for n, start, updated, version in chosen:
            stamp = _instant(updated)
            resource = appointment(n, start, stamp, PATIENTS_PER_TENANT)
            resource["meta"]["versionId"] = str(version)
            entries.append({"fullUrl": f"{base_url}/Appointment/a{n}", "resource": resource,
                            "search": {"mode": "match"}})
            for ref in (part["actor"]["reference"] for part in resource["participant"]):
                if ref not in included:
                    kind, ident = ref.split("/")
                    key = int(ident[1:])
                    build = {"Patient": patient, "Practitioner": practitioner, "Location": location}[kind]
                    included[ref] = build(key, stamp)
        entries += [{"fullUrl": f"{base_url}/{ref}", "resource": r, "search": {"mode": "include"}}
                    for ref, r in included.items()]
        return orjson.dumps({"resourceType": "Bundle", "type": "searchset", "total": len(chosen),
                             "link": [{"relation": "self", "url": f"{base_url}/Appointment"}], "entry": entries})


def _since(query: dict[str, list[str]]) -> datetime | None:
    for value in query.get("_lastUpdated", []):
        if value.startswith(("gt", "ge")):
            return datetime.fromisoformat(value[2:].replace("Z", "+00:00"))
    return None


def serve(first: int, count: int, visits: int, latency: float, hung: set[int]) -> None:
    tenants = Tenants(first, count, visits)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    server.request_queue_size = 128
    host, port = server.server_address[:2]
    root = f"http://{host}:{port}"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # TCP_NODELAY: see tests/connectors/fhir_fake.py

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes, kind: str = "application/fhir+json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            pieces = parts.path.strip("/").split("/")  # t<k>, fhir, Appointment
            if len(pieces) < 3 or not pieces[0].startswith("t") or pieces[1] != "fhir":
                self._answer(404, b"")
                return
            tenant = int(pieces[0][1:])
            if tenant not in tenants.visits:
                self._answer(404, b"")
                return
            if tenant in hung:
                time.sleep(HANG_SECONDS)
                return
            if latency:
                time.sleep(latency)
            if pieces[2] == "metadata":
                self._answer(200, orjson.dumps({"resourceType": "CapabilityStatement", "status": "active",
                                                "fhirVersion": "4.0.1", "rest": []}))
            elif pieces[2] == "Appointment" and len(pieces) == 3:
                base_url = f"{root}/t{tenant}/fhir"
                self._answer(200, tenants.bundle(base_url, tenant, _since(parse_qs(parts.query))))
            else:
                self._answer(404, b"")

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/control/move":
                self._answer(404, b"")
                return
            order = orjson.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            start = tenants.move(int(order["tenant"]), int(order["id"].lstrip("a")), int(order["minutes"]))
            self._answer(200, orjson.dumps({"start": _instant(start)}), "application/json")

        def date_time_string(self, timestamp: float | None = None) -> str:
            return formatdate(timestamp, usegmt=True)

    server.RequestHandlerClass = Handler
    print(f"ready {root}", flush=True)
    server.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    hung_arg = sys.argv[5] if len(sys.argv) > 5 else ""
    serve(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]) / 1000,
          {int(k) for k in hung_arg.split(",") if k})
