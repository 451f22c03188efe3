"""Peers that trickle (issue 59): a loopback SMTP server and a loopback HTTP server that answer
one byte at a time, every ``interval`` seconds, as a mail server or an API behind a failing link
did in the audit: each byte arrives well within a per-read timeout, so only an overall
deadline ends the exchange. Real sockets on 127.0.0.1 (an asyncio server in its own thread);
the clients under test are the real smtplib and the Twilio client (requests).

The ``-split`` modes serve a slow and a healthy exchange side by side, as one notifier's send
workers meet them: only the recipient ``slow@…`` (SMTP) or the path ``/slow`` (HTTP) trickles,
and every other answer is held back while a trickling exchange is still connected, so a healthy
send is mid-exchange when the slow one's deadline passes. Connections are kept alive."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["smtp-banner", "smtp-after-data", "http", "smtp-split", "http-split"]


@dataclass
class Trickler:
    """What the server saw: messages whose content arrived (DATA ended), requests whose body arrived."""

    interval: float
    mode: Mode
    received: list[bytes] = field(default_factory=list)
    port: int = 0
    connections: int = 0
    slow_open: int = 0  # trickling exchanges whose client is still connected

    async def _slowly(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> None:
        """Trickle ``data``, until the client shuts the connection (seen within 20 ms)."""
        self.slow_open += 1
        try:
            for byte in data:
                writer.write(bytes([byte]))
                await writer.drain()
                for _ in range(max(1, round(self.interval / 0.02))):
                    if reader.at_eof() or writer.is_closing():
                        return
                    await asyncio.sleep(min(self.interval, 0.02))
        except ConnectionError:
            return
        finally:
            self.slow_open -= 1

    async def _held(self) -> None:
        """A healthy answer waits while a trickling exchange is connected."""
        while self.slow_open:
            await asyncio.sleep(0.01)

    async def _trickle(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        for byte in data:
            if writer.is_closing():
                return
            writer.write(bytes([byte]))
            try:
                await writer.drain()
            except ConnectionError:
                return
            await asyncio.sleep(self.interval)

    async def _say(self, writer: asyncio.StreamWriter, line: str) -> None:
        writer.write(line.encode() + b"\r\n")
        await writer.drain()

    async def _smtp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "smtp-banner":
            await self._trickle(writer, b"220 slow.example ESMTP\r\n")
            return
        await self._say(writer, "220 slow.example ESMTP")
        slow = self.mode == "smtp-after-data"
        while line := await reader.readline():
            command = line.decode("ascii", "replace").strip().upper()
            if command.startswith(("EHLO", "HELO")):
                await self._say(writer, "250 slow.example")
            elif command.startswith("RCPT TO:") and self.mode == "smtp-split":
                slow = "<SLOW@" in command
                await self._say(writer, "250 OK")
            elif command == "DATA":
                await self._say(writer, "354 go ahead")
                content = b""
                while (part := await reader.readline()) and part != b".\r\n":
                    content += part
                self.received.append(content)
                if slow:  # the message is here; the answer crawls
                    await self._slowly(reader, writer, b"250 2.0.0 OK queued\r\n")
                else:
                    await self._held()
                    await self._say(writer, "250 2.0.0 OK queued")
            elif command == "QUIT":
                await self._say(writer, "221 bye")
                return
            else:
                await self._say(writer, "250 OK")

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        self.received.append(await reader.readexactly(length))
        body = b'{"sid": "SM00000000000000000000000000000001", "status": "queued"}'
        # One answer a connection but in http-split: say so, or a client that reuses the kept-alive
        # connection for its next request races the close and reads a reset.
        closing = b"" if self.mode == "http-split" else b"Connection: close\r\n"
        answer = (b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n%s"
                  b"Content-Length: %d\r\n\r\n%s" % (closing, len(body), body))
        if self.mode == "http":
            await self._trickle(writer, answer)
        elif head.startswith(b"POST /slow "):
            await self._slowly(reader, writer, answer)
        else:
            await self._held()
            writer.write(answer)
            await writer.drain()
        if self.mode == "http-split" and not writer.is_closing():
            await self._http(reader, writer)  # kept alive: the next request on this connection

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await (self._http if self.mode.startswith("http") else self._smtp)(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went, or the server stops (a cancelled task ends quietly: no callback noise)
        finally:
            writer.close()


@contextmanager
def trickling(mode: Mode, interval: float = 2.0) -> Iterator[Trickler]:
    """A trickling server on 127.0.0.1 for the block; its connections are dropped at the end."""
    trickler = Trickler(interval, mode)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    server: list[asyncio.Server] = []

    async def start() -> None:
        server.append(await asyncio.start_server(trickler._serve, "127.0.0.1", 0))
        trickler.port = server[0].sockets[0].getsockname()[1]
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    assert ready.wait(10), "the trickling server did not start"
    try:
        yield trickler
    finally:
        async def stop() -> None:
            server[0].close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
