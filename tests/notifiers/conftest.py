"""Real peers at the boundary for the notifier tests: an aiosmtpd server on loopback (plain,
STARTTLS or implicit TLS, with AUTH), and a loopback HTTP server that records what the
vendors' official clients send and answers as the vendor would."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message as HeaderMap
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from clinicsync.notifiers.base import Attachment, Message

# --- SMTP ------------------------------------------------------------------------------


@dataclass
class Received:
    session: Session  # one per connection
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool  # the message came over an encrypted connection


@dataclass
class MailSink:
    """aiosmtpd handler: keeps each accepted message; refuses addresses as told."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> SMTP reply
    drop_after_data: bool = False
    servers: list[SMTPServer] = field(default_factory=list)  # the connections' server sides

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.drop_after_data:  # the message arrived, the answer never leaves
            assert server.transport is not None
            server.transport.close()
            return "250 OK"
        self.servers.append(server)
        tls = server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
        self.received.append(Received(session, str(envelope.mail_from), list(envelope.rcpt_tos),
                                      bytes(envelope.original_content or b""), tls))
        return "250 2.0.0 OK queued"


class LoopbackController(Controller):
    """aiosmtpd on 127.0.0.1 with a port the OS picks (parallel test runs never collide)."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=0, **kwargs)

    def hang_up_all(self, sink: MailSink) -> None:
        """Close every connection from the server side, as a server does with idle clients."""

        async def close() -> None:
            for server in sink.servers:
                if server.transport is not None:
                    server.transport.close()
            await asyncio.sleep(0)  # connection_lost runs on the next turn of the loop
            await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=10)

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A self-signed certificate for 127.0.0.1; the client trusts it through ca_file."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return Tls(folder / "cert.pem", folder / "key.pem")


SMTP_USER, SMTP_PASSWORD = "mailer", "s3cret-pw"


def _authenticator(server: SMTPServer, session: Session, envelope: Envelope, mechanism: str,
                   auth_data: Any) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
          and auth_data.password == SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # unhandled failure: aiosmtpd answers 535


SmtpFactory = Callable[..., tuple[LoopbackController, MailSink]]


@pytest.fixture
def smtp_server() -> Iterator[SmtpFactory]:
    """Start an SMTP server: ``mode`` plain | starttls (required, with AUTH) | ssl (implicit TLS, AUTH)."""
    started: list[LoopbackController] = []

    def start(mode: str = "plain", tls: Tls | None = None) -> tuple[LoopbackController, MailSink]:
        sink = MailSink()
        kwargs: dict[str, Any] = {}
        if mode == "starttls":
            assert tls is not None
            kwargs = {"tls_context": tls.server_context(), "require_starttls": True,
                      "authenticator": _authenticator, "auth_required": True}
        elif mode == "ssl":
            assert tls is not None
            # The whole connection is TLS, which aiosmtpd does not see: let it offer AUTH anyway.
            kwargs = {"ssl_context": tls.server_context(), "authenticator": _authenticator,
                      "auth_required": True, "auth_require_tls": False}
        controller = LoopbackController(sink, **kwargs)
        controller.start()
        started.append(controller)
        return controller, sink

    yield start
    for controller in started:
        controller.stop()


# --- HTTP ------------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: HeaderMap
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int
    body: Any = None  # dict -> JSON, str/bytes as is
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # read the request, then close without answering


class FakeApi:
    """A vendor's HTTP API on loopback: records every request, answers from a queue of replies."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.replies: list[Reply] = []
        self.default = Reply(500, {"message": "no reply queued"})
        self.on_request: Callable[[], None] | None = None  # e.g. a slow provider: moves a test's clock
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # TCP_NODELAY: see tests/connectors/fhir_fake.py

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with api._lock:
                    api.requests.append(Recorded(self.command, self.path, self.headers, body))
                    reply = api.replies.pop(0) if api.replies else api.default
                    if api.on_request is not None:
                        api.on_request()
                if reply.drop:
                    self.close_connection = True
                    return
                data = reply.body if isinstance(reply.body, bytes) else (
                    reply.body.encode() if isinstance(reply.body, str) else
                    b"" if reply.body is None else json.dumps(reply.body).encode())
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reply(self, status: int, body: Any = None, **headers: str) -> None:
        self.replies.append(Reply(status, body, {k.replace("_", "-"): v for k, v in headers.items()}))

    def drop(self) -> None:
        self.replies.append(Reply(0, drop=True))


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi()
    api.thread.start()
    yield api
    api.server.shutdown()
    api.server.server_close()


@contextmanager
def refusing_port(port: int = 0) -> Iterator[int]:
    """A loopback port (``port``, or one the system picks) that refuses connections while this
    holds it: a socket bound to it that does not listen. A port merely closed could be given
    to another test's server on the other worker meanwhile, which would answer (a 404: a
    permanent failure where the test expects a refused connection)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        yield sock.getsockname()[1]


@pytest.fixture
def closed_port_url() -> Iterator[str]:
    """An address where nothing listens, for the whole test: the connection is refused, nothing is sent."""
    with refusing_port() as port:
        yield f"http://127.0.0.1:{port}"


# --- messages --------------------------------------------------------------------------

ICS = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//clinicsync//test//EN\r\nMETHOD:REQUEST\r\n"
       b"BEGIN:VEVENT\r\nUID:appt-42@clinicsync\r\nSEQUENCE:2\r\nDTSTAMP:20250301T120000Z\r\n"
       b"DTSTART:20250310T143000Z\r\nDTEND:20250310T150000Z\r\nSUMMARY:Appointment\r\n"
       b"END:VEVENT\r\nEND:VCALENDAR\r\n")


def email_message(**changes: Any) -> Message:
    values: dict[str, Any] = {
        "channel": "email", "recipient": "ana.garcia@example.com",
        "subject": "Your appointment on Monday, March 10",
        "body_text": "Hello Ana,\nyour appointment is on Monday, March 10 at 10:30.\n",
        "body_html": "<p>Hello Ana,<br>your appointment is on <b>Monday, March 10</b> at 10:30.</p>",
        "idempotency_key": "demo-csv:A-1001/patient/reminder/P1D/v3",
        "attachments": (Attachment("appointment.ics", "text/calendar; method=REQUEST", ICS),),
        "metadata": {"reminder_id": "42"},
    }
    values.update(changes)
    return Message(**values)


def text_message(channel: str = "sms", **changes: Any) -> Message:
    values: dict[str, Any] = {
        "channel": channel, "recipient": "+14155550123",
        "body_text": "Hi Ana, reminder: Dr. Lee tomorrow 10:30. Reply C to confirm.",
        "idempotency_key": "demo-csv:A-1001/patient/reminder/P1D/v3", "metadata": {"reminder_id": "42"},
    }
    values.update(changes)
    return Message(**values)
