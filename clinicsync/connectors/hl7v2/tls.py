"""The MLLP listener's TLS files over months: certificates renewed in place while the
listener runs (cert-manager rewriting a Kubernetes secret mount, certbot's ``live/``
links), every 60-90 days, with no restart.

- ``ListenerTls`` holds the context new connections get. Before each handshake it stats
  the files (inode, size, mtime, ctime: ~20 µs for three) and, when they changed, loads
  them into a fresh ``SSLContext``. A renewal written half (the new certificate beside the
  old key), a file gone or unreadable, keeps the context in use, logs an error naming the
  file and the reason (never key material), and is tried again at the next change or at
  the listener's periodic check (``CHECK_EVERY_SECONDS``).
- It counts failed handshakes (TLS errors; a connection closed or silent before any TLS is
  a load balancer's or Kubernetes' TCP probe, logged at info and not counted). Each is
  logged at info (a scan, a sender without a client certificate); failures in a row with
  no handshake that passed between are logged at warning, at most every
  ``WARN_EVERY_SECONDS`` (an expired certificate, a CA the senders do not trust).
- tls_files.py loads them, and reads them for `clinicsync status`, `check` and /metrics in
  any process (sync/checks/stalls.py): when the certificate expires, why the files do not load.
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from clinicsync.common.timeutil import iso_z
from clinicsync.common.types import utcnow
from clinicsync.connectors.hl7v2.settings import TlsSettings
from clinicsync.connectors.hl7v2.tls_files import EXPIRY_WARNING, TlsFilesError, load_context, ssl_reason

log = structlog.get_logger("clinicsync.mllp")

CHECK_EVERY_SECONDS = 60.0  # the periodic check: a retry after a failed reload, expiry warnings
REPEATED_HANDSHAKE_FAILURES = 3  # failed in a row: the warning
WARN_EVERY_SECONDS = 300.0
EXPIRY_LOG_EVERY_SECONDS = 24 * 3600.0


def _signature(tls: TlsSettings) -> tuple[tuple[int, ...], ...]:
    """What changes when a file is replaced or rewritten (a new inode through a swapped
    link, a new size or time) or its mode is (ctime): a stat per file, no read."""
    out: list[tuple[int, ...]] = []
    for path in (tls.cert_file, tls.key_file, tls.client_ca_file):
        if path is None:
            continue
        try:
            st = os.stat(path)
        except OSError as exc:
            out.append((-1, exc.errno or 0))
            continue
        out.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(out)


class ListenerTls:
    """The context new connections get, reloaded when the files change (see the module)."""

    def __init__(self, connector: str, tls: TlsSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.connector = connector
        self.tls = tls
        self.clock = clock
        self._signature = _signature(tls)
        self.context, self.not_after = load_context(tls)  # at start a bad file stops the listener
        self.problem: str | None = None  # why the files on disk do not load; the previous context serves
        self.problem_since: datetime | None = None
        self.reloads = 0
        self.reload_failures = 0
        self.handshakes = 0  # that passed: senders, and TLS health checks (a handshake, then close)
        self.handshake_failures = 0
        self._failing = 0  # handshakes failed since the last one that passed
        self._first_failed_at: datetime | None = None  # the first of those
        self._warned_at: float | None = None
        self._expiry_logged_at: float | None = None

    def current(self) -> ssl.SSLContext:
        """The context for a new connection: the files' latest that loads."""
        self.check()
        return self.context

    def check(self, retry: bool = False) -> None:
        """Reload when the files changed; ``retry`` (the periodic check) also tries again
        after a failed reload whose files did not change since (a permission put right)."""
        signature = _signature(self.tls)
        if signature == self._signature and not (retry and self.problem):
            return
        self._signature = signature
        try:
            context, not_after = load_context(self.tls)
        except TlsFilesError as exc:
            self.reload_failures += 1
            if self.problem is None:
                self.problem_since = utcnow()
            if str(exc) != self.problem:
                log.error("mllp.tls_reload_failed", connector=self.connector, file=str(exc.path), reason=exc.why,
                          serving_until=iso_z(self.not_after),
                          hint="the certificate loaded before still serves; retried when the files change "
                               f"and every {CHECK_EVERY_SECONDS:.0f} s")
            self.problem = str(exc)
            return
        self.context, self.problem, self.problem_since = context, None, None
        self.reloads += 1
        previous, self.not_after = self.not_after, not_after
        self._expiry_logged_at = None
        log.info("mllp.tls_reloaded", connector=self.connector, not_after=iso_z(not_after),
                 previous_not_after=iso_z(previous))

    def periodic(self, now: datetime | None = None) -> None:
        """The listener's periodic check: a reload retried, and a warning a day while the
        certificate in use is within EXPIRY_WARNING of its end (or past it)."""
        self.check(retry=True)
        left = self.not_after - (now or utcnow())
        if left >= EXPIRY_WARNING:
            return
        moment = self.clock()
        if self._expiry_logged_at is not None and moment - self._expiry_logged_at < EXPIRY_LOG_EVERY_SECONDS:
            return
        self._expiry_logged_at = moment
        if left <= timedelta(0):
            log.error("mllp.certificate_expired", connector=self.connector, not_after=iso_z(self.not_after),
                      file=str(self.tls.cert_file), hint="senders' TLS handshakes fail: renew the certificate")
        else:
            log.warning("mllp.certificate_expiring", connector=self.connector, not_after=iso_z(self.not_after),
                        days_left=round(left.total_seconds() / 86400, 1), file=str(self.tls.cert_file),
                        hint="renew it; new connections get the renewed files without a restart")

    def handshake_failed(self, peer: str, exc: ssl.SSLError) -> None:
        """One failed handshake: info; REPEATED_HANDSHAKE_FAILURES in a row: a warning, at most
        every WARN_EVERY_SECONDS, so a sender retrying each second is no log flood."""
        self.handshake_failures += 1
        self._failing += 1
        if self._failing == 1:
            self._first_failed_at = utcnow()
        reason = ssl_reason(exc)
        log.info("mllp.tls_handshake_failed", connector=self.connector, peer=peer, reason=reason)
        moment = self.clock()
        if self._failing < REPEATED_HANDSHAKE_FAILURES or (
                self._warned_at is not None and moment - self._warned_at < WARN_EVERY_SECONDS):
            return
        self._warned_at = moment
        log.warning("mllp.tls_handshakes_failing", connector=self.connector, failed_in_a_row=self._failing,
                    last_reason=reason, last_peer=peer, not_after=iso_z(self.not_after),
                    hint="an expired or renewed certificate, or a CA the senders do not trust (or, with "
                         "client_ca_file, senders whose certificates it does not sign)")

    @property
    def failing_since(self) -> datetime | None:
        """When the handshakes began failing, once REPEATED_HANDSHAKE_FAILURES failed in a row."""
        return self._first_failed_at if self._failing >= REPEATED_HANDSHAKE_FAILURES else None

    def handshake_passed(self) -> None:
        self.handshakes += 1
        self._first_failed_at = None
        self._failing = 0
        self._warned_at = None
