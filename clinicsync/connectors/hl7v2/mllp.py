"""The MLLP transport: ``<VT> message <FS><CR>`` frames over TCP (optionally TLS).

Each sender holds its own connection and waits for the ACK of one message before it
sends the next; many senders are served at once. What a frame means is the handler's
business: it returns the ACK to send, or None when the message could not be stored, and
then the connection is closed without an ACK so that the sender sends it again.

Kept rather than python-hl7's ``hl7.mllp``: its ``readblock`` bounds only the
size, has no idle or per-frame deadline (a sender trickling a byte a second holds the
connection for ever, and ``wait_for`` around it cannot tell "no frame yet" from "frame
begun"), raises on stray bytes before <VT> instead of letting us answer AR, and its
server helpers still go through the deprecated ``get_event_loop``/``loop=`` path; the
framing itself is the ~40 lines of FrameReader below.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress

import structlog

from clinicsync.connectors.hl7v2.ack import build_ack
from clinicsync.connectors.hl7v2.settings import KeepaliveSettings, MllpSettings
from clinicsync.connectors.hl7v2.tls import CHECK_EVERY_SECONDS, ListenerTls

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
Handler = Callable[[bytes, str], Awaitable[bytes | None]]
log = structlog.get_logger("clinicsync.mllp")


_READ_BYTES = 64 * 1024


class FrameTooLarge(Exception):
    pass


class IdleTimeout(TimeoutError):
    """No frame began within the idle timeout."""


class FrameTimeout(TimeoutError):
    """A frame began but did not end within the frame timeout (a trickling sender)."""


def frame(payload: bytes) -> bytes:
    return START_BLOCK + payload + END_BLOCK


class FrameReader:
    """Frames off one connection, within bounds: at most ``max_bytes`` per frame, a frame
    whole within ``frame_timeout`` of its first byte, and a next frame begun within
    ``idle_timeout``. A reader with only a per-read timeout would let a sender trickle one
    byte a second for ever; here the clock starts with the frame."""

    def __init__(self, reader: asyncio.StreamReader, max_bytes: int, idle_timeout: float,
                 frame_timeout: float) -> None:
        self.reader = reader
        self.max_bytes = max_bytes
        self.idle_timeout = idle_timeout
        self.frame_timeout = frame_timeout
        self.buffer = bytearray()

    async def next(self) -> bytes | None:
        """The next frame's payload; None when the sender closed (a partial frame is dropped:
        it was never acknowledged, so the sender will send it again). Bytes before <VT>
        (stray line ends between frames) are ignored; a frame without <VT> comes back whole,
        to be answered AR."""
        deadline: float | None = None
        while True:
            end = self.buffer.find(END_BLOCK)
            if end > self.max_bytes + len(START_BLOCK) or (end < 0 and len(self.buffer) > self.max_bytes + 3):
                raise FrameTooLarge
            if end >= 0:
                body = bytes(self.buffer[:end])
                del self.buffer[:end + len(END_BLOCK)]
                start = body.find(START_BLOCK)
                return body[start + 1:] if start >= 0 else body
            if deadline is None and self.buffer.strip():
                deadline = time.monotonic() + self.frame_timeout
            timeout = self.idle_timeout if deadline is None else deadline - time.monotonic()
            try:
                if timeout <= 0:
                    raise TimeoutError
                data = await asyncio.wait_for(self.reader.read(_READ_BYTES), timeout)
            except TimeoutError as exc:
                if exc.errno is not None:  # the kernel's ETIMEDOUT: keepalive found the sender gone
                    raise
                raise (IdleTimeout if deadline is None else FrameTimeout) from None
            if not data:
                return None
            self.buffer += data


class _Protocol(asyncio.StreamReaderProtocol):
    """asyncio's stream protocol, told whether its connections are upgraded to TLS.

    A TLS peer that closes right after its handshake (`openssl s_client`, a load balancer's TLS
    health check) can have its close_notify read in the same pass as its Finished, before
    ``StreamWriter.start_tls`` resumes and tells the protocol it is over TLS: the protocol still
    believes it is plain TCP, asks to keep a half-closed connection open (``eof_received``
    returns True) and asyncio's SSL protocol logs "returning true from eof_received() has no
    effect when using ssl" on the stdlib's stderr, once per such connection. On a TLS listener
    every connection is TLS from before its first byte is read (the upgrade comes before the
    handler's first await), and TLS has no half-close: never ask for one."""

    def __init__(self, reader: asyncio.StreamReader, serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                 Awaitable[None]], tls: bool) -> None:
        super().__init__(reader, serve)
        self._tls = tls

    def eof_received(self) -> bool:
        keep_open = super().eof_received()
        return bool(keep_open) and not self._tls


def keep_alive(sock: socket.socket, keepalive: KeepaliveSettings) -> None:
    """TCP keepalive on an accepted connection, so that a sender whose host vanished is let go
    within ``keepalive.dead_after_seconds()``: the kernel probes a silent connection and, with
    no answer, ends it (the pending read fails with ETIMEDOUT). TCP_USER_TIMEOUT bounds the
    same way a connection whose last bytes (an ACK) the vanished host never acknowledged:
    keepalive does not probe while data waits to be acknowledged, and retransmissions alone
    would last ~15 minutes (tcp_retries2). Options a platform lacks are skipped (Linux has all;
    macOS names the idle time TCP_KEEPALIVE)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    idle = getattr(socket, "TCP_KEEPIDLE", None) or getattr(socket, "TCP_KEEPALIVE", None)
    for option, value in ((idle, keepalive.idle_seconds),
                          (getattr(socket, "TCP_KEEPINTVL", None), keepalive.interval_seconds),
                          (getattr(socket, "TCP_KEEPCNT", None), keepalive.count),
                          (getattr(socket, "TCP_USER_TIMEOUT", None), keepalive.dead_after_seconds() * 1000)):
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


def _peer_ip(writer: asyncio.StreamWriter) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    peer = writer.get_extra_info("peername")
    if not peer:
        return None
    address = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class MllpListener:
    """One listening socket for one connector."""

    def __init__(self, name: str, settings: MllpSettings, handler: Handler) -> None:
        self.name = name
        self.settings = settings
        self.handler = handler
        self._networks = settings.allowed_networks()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.tls: ListenerTls | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> tuple[str, int]:
        """Bind and start accepting; returns the bound address (port 0 picks a free one).

        With ``tls:`` the server is plain TCP and each accepted connection is upgraded with
        ``StreamWriter.start_tls`` and the context of that moment (connectors/hl7v2/tls.py):
        ``start_server(ssl=...)`` fixes one context for the server's life, and asyncio has no
        public way to swap it. The SNI callback (``ssl_object.context = new``) is meant to pick
        a certificate by server name; OpenSSL's switch (SSL_set_SSL_CTX) takes the new
        certificate and key but keeps the verify mode and options the connection began with,
        so a renewed client CA would be half applied. Upgrading after accept also refuses a
        sender not in ``allowed_senders`` before any handshake, and lets a failed handshake be
        seen here (counted, and a warning when repeated) instead of inside asyncio's SSL
        protocol."""
        self.tls = ListenerTls(self.name, self.settings.tls) if self.settings.tls else None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Protocol(asyncio.StreamReader(_READ_BYTES, loop), self._serve, self.tls is not None),
            self.settings.host, self.settings.port)
        host, port = self._server.sockets[0].getsockname()[:2]
        log.info("mllp.listening", connector=self.name, host=host, port=port, tls=self.tls is not None)
        if self.tls is not None:
            self._watch = asyncio.create_task(self._watch_tls(self.tls))
        return str(host), int(port)

    async def _watch_tls(self, tls: ListenerTls) -> None:
        """Every minute: a failed reload tried again, an expiry near or past logged."""
        while True:
            tls.periodic()
            await asyncio.sleep(CHECK_EVERY_SECONDS)

    async def close(self) -> None:
        """Stop accepting and drop open connections. A message being stored finishes in
        its thread; its ACK is not sent, so the sender resends and gets the duplicate's AA."""
        if self._watch is not None:
            self._watch.cancel()
            with suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        peer = _peer_ip(writer)
        try:
            if peer is None or not any(peer in network for network in self._networks):
                log.warning("mllp.refused", connector=self.name, peer=str(peer))
                return
            if len(self._connections) > self.settings.max_connections:
                log.warning("mllp.busy", connector=self.name, peer=str(peer),
                            max_connections=self.settings.max_connections)
                return
            if self.settings.keepalive is not None:
                keep_alive(writer.get_extra_info("socket"), self.settings.keepalive)
            if self.tls is not None and not await self._handshake(writer, self.tls, str(peer)):
                return
            await self._exchange(reader, writer, str(peer))
        except IdleTimeout:
            log.info("mllp.idle_closed", connector=self.name, peer=str(peer))
        except FrameTimeout:
            log.warning("mllp.frame_timeout", connector=self.name, peer=str(peer),
                        seconds=self.settings.frame_timeout_seconds)
        except asyncio.CancelledError:
            # close() cancels the open connections. Ended here: a task ended cancelled makes
            # asyncio's stream protocol print "Exception in callback ... CancelledError" with a
            # traceback for each connection open at a stop (its done-callback asks the task for
            # its exception).
            log.info("mllp.disconnected", connector=self.name, peer=str(peer), reason="listener_stopped")
        except (ConnectionError, ssl.SSLError, TimeoutError) as exc:
            if isinstance(exc, TimeoutError) and exc.errno is not None and self.settings.keepalive is not None:
                log.info("mllp.sender_vanished", connector=self.name, peer=str(peer),
                         unanswered_for_seconds=self.settings.keepalive.dead_after_seconds(),
                         hint="no answer to TCP keepalive probes (the sender's host or the network between went "
                              "away): its connection was closed; it reconnects when it is back")
            else:
                log.info("mllp.disconnected", connector=self.name, peer=str(peer), reason=type(exc).__name__)
        finally:
            writer.close()
            with suppress(ConnectionError, ssl.SSLError, TimeoutError, asyncio.CancelledError):
                await writer.wait_closed()
            if task is not None:
                self._connections.discard(task)

    async def _handshake(self, writer: asyncio.StreamWriter, tls: ListenerTls, peer: str) -> bool:
        """TLS over the accepted connection, with the files' current context. Nothing is
        awaited between the accept and here, so the sender's first bytes (its ClientHello)
        are still in the socket, not read into the plain stream's buffer."""
        try:
            await writer.start_tls(tls.current(), ssl_handshake_timeout=self.settings.frame_timeout_seconds)
        except ssl.SSLError as exc:  # a TLS conversation that failed: counted
            tls.handshake_failed(peer, exc)
            return False
        except (OSError, TimeoutError) as exc:  # closed or silent with no TLS said: a TCP probe, a scan
            log.info("mllp.disconnected", connector=self.name, peer=peer, reason=type(exc).__name__,
                     during="tls_handshake")
            return False
        tls.handshake_passed()
        return True

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        """Frame in, ACK out, one at a time, until the sender closes or a bound is hit."""
        frames = FrameReader(reader, self.settings.max_message_bytes, self.settings.idle_timeout_seconds,
                             self.settings.frame_timeout_seconds)
        while True:
            try:
                payload = await frames.next()
            except FrameTooLarge:
                reason = f"message larger than {self.settings.max_message_bytes} bytes (max_message_bytes)"
                log.warning("mllp.too_large", connector=self.name, peer=peer)
                await self._reply(writer, frame(build_ack("AR", None, reason).encode()))
                return  # the rest of that frame is still coming: no way to find the next one
            if payload is None:
                return
            reply = await self.handler(payload, peer)
            if reply is None:
                return
            await self._reply(writer, frame(reply))

    async def _reply(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        """Send, bounded too: a sender that never reads its ACKs cannot hold the connection."""
        writer.write(data)
        await asyncio.wait_for(writer.drain(), self.settings.frame_timeout_seconds)
