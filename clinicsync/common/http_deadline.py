"""An httpx transport with an overall deadline per request: connect, the request and
the whole response body, not only each read (httpx's ``Timeout`` is per operation, so a server
that sends one byte every 2 s never times out). It uses clinicsync/common/deadline.py: the
sockets the transport opens are shut when the deadline passes, and the request fails as on a
dropped connection (``httpx.TransportError``), which callers already classify. The body is read
inside the deadline, so a response comes back whole (these clients read JSON, never stream).
Requests overlap on one client (the FHIR fan-out): each network stream claims its socket for the
request reading or writing it (``claim``), so a request past its deadline cuts only the
connection it is using, never a neighbour's kept-alive one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from clinicsync.common.deadline import SocketScope, claim


class DeadlineTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport(**kwargs)``, each request within ``deadline`` seconds in all. One
    per client; requests may overlap in several threads, each under its own deadline."""

    def __init__(self, deadline: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deadline = deadline
        self._scope = SocketScope()
        pool: Any = self._pool  # httpcore's pool (a proxy's too) connects through its network backend
        pool._network_backend = _ClaimingBackend(pool._network_backend)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._scope.within(self.deadline) as deadline:
            try:
                response = super().handle_request(request)
                response.read()
            except httpx.TransportError as exc:
                if deadline.passed():
                    raise httpx.ReadTimeout(f"no whole answer within the overall deadline of {self.deadline:g} s",
                                            request=request) from exc
                raise
        return response


class _ClaimingBackend(httpcore.NetworkBackend):
    """httpcore's network backend, its streams claiming their socket for the request using them."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _ClaimingStream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _ClaimingStream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _ClaimingStream(httpcore.NetworkStream):
    """A network stream whose every read and write claims its socket for the calling request's
    deadline: a kept-alive connection taken from the pool belongs to the request on it."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream
        self._socket = stream.get_extra_info("socket")

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        claim(self._socket)
        return self._stream.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        claim(self._socket)
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _ClaimingStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)
