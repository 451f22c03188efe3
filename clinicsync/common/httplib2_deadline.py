"""An httplib2 client with an overall deadline per request, for the Google Calendar
client (googleapiclient sends through httplib2): httplib2's ``timeout`` is per socket operation,
so a server that trickles its answer never times out. Each request runs within
clinicsync/common/deadline.py's scope: past the deadline its sockets are shut and it fails with
``TimeoutError`` (an ``OSError``, which the calendar already retries as a passing fault).
A kept-alive connection is claimed by the request sending over it (``claim``), so a request
past its deadline cuts only its own connection."""

from __future__ import annotations

from typing import Any

import httplib2

from clinicsync.common.deadline import SocketScope, claim


class DeadlineHttp(httplib2.Http):
    """``httplib2.Http(**kwargs)``, each request (body included: httplib2 reads it whole) within
    ``deadline`` seconds in all."""

    def __init__(self, deadline: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deadline = deadline
        self._scope = SocketScope()

    def request(self, *args: Any, **kwargs: Any) -> Any:
        with self._scope.within(self.deadline) as deadline:
            try:
                return super().request(*args, **kwargs)
            except (httplib2.HttpLib2Error, OSError) as exc:
                if deadline.passed():
                    raise TimeoutError(f"no whole answer within the overall deadline of {self.deadline:g} s") from exc
                raise

    def _conn_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        """httplib2's per-request path over one connection: a kept-alive one is this request's now."""
        claim(conn.sock)
        return super()._conn_request(conn, *args, **kwargs)
