"""Twilio's Messages API on loopback, for dispatchers running as other processes: it takes
every request the official client sends, counts the messages it *accepted* per recipient
(the provider's side of "never twice"), and answers 201 with a fresh SID. It keeps
connections alive, as Twilio does, so 10,000 sends do not cost 10,000 handshakes."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import orjson

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token"
FROM = "+15005550006"
SETTLE_LIMIT = 60.0  # hang guards only
RENDEZVOUS_LIMIT = 90.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A killed client resets its connections: that is the test, not an error."""


class TwilioFake:
    """``parties``: hold every request until this many distinct senders (`From`) have sent
    one, so that as many dispatcher processes are surely sending side by side."""

    def __init__(self, parties: int = 0) -> None:
        self.accepted: Counter[str] = Counter()  # To -> messages accepted
        self.senders: Counter[str] = Counter()  # From -> messages accepted
        self._met = threading.Event()
        self._parties = parties
        self._waiting: set[str] = set()
        self._lock = threading.Lock()
        self._open = 0  # connections being served
        self._sids = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # TCP_NODELAY: see tests/connectors/fhir_fake.py

            def handle(self) -> None:
                with fake._lock:
                    fake._open += 1
                try:
                    super().handle()
                finally:
                    with fake._lock:
                        fake._open -= 1

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not self.path.endswith(f"/Accounts/{ACCOUNT}/Messages.json"):
                    self._answer(404, {"code": 20404, "message": "not found", "status": 404})
                    return
                form = parse_qs(body.decode())
                to, sender = form["To"][0], form.get("From", [""])[0]
                fake._rendezvous(sender)
                with fake._lock:  # taken: from here on the message counts as delivered
                    fake.accepted[to] += 1
                    fake.senders[sender] += 1
                    sid = f"SM{next(fake._sids):032x}"
                self._answer(201, {"sid": sid, "status": "queued", "account_sid": ACCOUNT, "to": to,
                                   "api_version": "2010-04-01", "direction": "outbound-api"})

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = orjson.dumps(payload)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def _rendezvous(self, sender: str) -> None:
        with self._lock:
            self._waiting.add(sender)
            if len(self._waiting) >= self._parties:
                self._met.set()
        if not self._met.wait(RENDEZVOUS_LIMIT):
            raise AssertionError(f"only {len(self._waiting)} of {self._parties} senders came (hang guard)")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> TwilioFake:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def settle(self) -> Counter[str]:
        """What was accepted once every connection has closed (a killed client's connections
        close with it): a request already on the wire is counted before anyone looks."""
        deadline = time.monotonic() + SETTLE_LIMIT
        while True:
            with self._lock:
                if self._open == 0:
                    return Counter(self.accepted)
            if time.monotonic() > deadline:
                raise AssertionError(f"connections still open after {SETTLE_LIMIT} s (hang guard)")
            time.sleep(0.01)

    def notifier(self, name: str = "texts", **keys: Any) -> dict[str, Any]:
        """A `notifiers:` entry sending SMS here through the official Twilio client."""
        return {"name": name, "kind": "twilio_sms", "account_sid": ACCOUNT, "auth_token": TOKEN,
                "from_number": FROM, "api_root": self.url, "timeout": 120, "rate_per_second": 100_000, **keys}
