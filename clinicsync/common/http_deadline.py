"""An httpx transport with an overall deadline per request (issue 59): connect, the request and
the whole response body, not only each read (httpx's ``Timeout`` is per operation, so a server
that sends one byte every 2 s never times out). It uses clinicsync/common/deadline.py: the
sockets the transport opens are shut when the deadline passes, and the request fails as on a
dropped connection (``httpx.TransportError``), which callers already classify. The body is read
inside the deadline, so a response comes back whole (these clients read JSON, never stream)."""

from __future__ import annotations

from typing import Any

import httpx

from clinicsync.common.deadline import SocketScope


class DeadlineTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport(**kwargs)``, each request within ``deadline`` seconds in all. One
    per client, used from one thread at a time (as the FHIR and callback clients are)."""

    def __init__(self, deadline: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deadline = deadline
        self._scope = SocketScope()

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
