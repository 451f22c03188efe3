"""The MLLP listener's TLS files as a listener loads them, without the listener (no logging
set up, no event loop): `clinicsync status`, `check` and /metrics read them in any process
(sync/checks/stalls.py) and the running listener reloads them (tls.py)."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509

from clinicsync.common.timeutil import iso_z
from clinicsync.common.types import utcnow
from clinicsync.connectors.hl7v2.settings import TlsSettings

EXPIRY_WARNING = timedelta(days=14)  # a certificate closer than this to its end is a stall


class TlsFilesError(ssl.SSLError):
    """The TLS files do not load; ``path`` is the one at fault (never its content)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.why = reason
        self.reason = None  # type: ignore[assignment]  # OpenSSL's code; this error says it all in str()
        self.library = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return f"{self.path}: {self.why}"


def _certificate_ends(path: Path) -> list[datetime]:
    """When each certificate of a PEM file expires, in the file's order (a chain: the leaf
    first; a CA bundle: each CA)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TlsFilesError(path, f"cannot read it ({exc.strerror or type(exc).__name__})") from None
    try:
        return [certificate.not_valid_after_utc for certificate in x509.load_pem_x509_certificates(data)]
    except ValueError:
        raise TlsFilesError(path, "holds no PEM certificate (empty, cut short, or not PEM)") from None


def load_context(tls: TlsSettings) -> tuple[ssl.SSLContext, datetime]:
    """A fresh server context from the files, and when its certificate expires.
    TlsFilesError names the file at fault: a certificate that does not parse, a key that is
    unreadable or not the certificate's, a CA bundle that does not load."""
    not_after = _certificate_ends(tls.cert_file)[0]
    return _context(tls), not_after


def _context(tls: TlsSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except OSError as exc:  # ssl.SSLError is an OSError too
        reason = ssl_reason(exc)
        said = "does not belong to the certificate" if "MISMATCH" in reason.upper() else f"does not load ({reason})"
        raise TlsFilesError(tls.key_file, f"the key {said}") from None
    if tls.client_ca_file is not None:
        try:
            context.load_verify_locations(tls.client_ca_file)
        except OSError as exc:
            raise TlsFilesError(tls.client_ca_file, f"the client CA bundle does not load ({ssl_reason(exc)})") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def ssl_reason(exc: OSError) -> str:
    """OpenSSL's reason code (KEY_VALUES_MISMATCH, NO_START_LINE), or the OS's words."""
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    return exc.strerror or type(exc).__name__


@dataclass(frozen=True)
class FilesState:
    """The TLS files as a listener would load them now."""

    not_after: datetime | None  # the certificate's end, when it parses
    problem: str | None  # why they do not load (the file named), None when they do
    # With client_ca_file (mutual TLS): when the first CA of the bundle ends (it parses); after
    # that, the senders' certificates it signed are refused.
    client_ca_not_after: datetime | None = None


def files_state(tls: TlsSettings) -> FilesState:
    """For `status`, `check` and /metrics, from any process: each file read once by OpenSSL
    (the context) and the certificate and CA bundle once more here for their ends. A key this
    process may not read (status run by another user) is not held against the files."""
    try:
        not_after = _certificate_ends(tls.cert_file)[0]
        ca_not_after = min(_certificate_ends(tls.client_ca_file)) if tls.client_ca_file is not None else None
    except TlsFilesError as exc:
        return FilesState(None, str(exc))
    try:
        _context(tls)
    except TlsFilesError as exc:
        if exc.path == tls.key_file and not os.access(tls.key_file, os.R_OK) and tls.key_file.exists():
            return FilesState(not_after, None, ca_not_after)
        return FilesState(not_after, str(exc), ca_not_after)
    return FilesState(not_after, None, ca_not_after)


def certificate_words(tls: TlsSettings, now: datetime | None = None) -> tuple[str | None, str]:
    """`clinicsync check`'s words on the TLS files: (a problem that fails the check, or None;
    a note): files that do not load or a certificate past its end fail, one ending within
    EXPIRY_WARNING is a warning."""
    state = files_state(tls)
    if state.problem is not None:
        return f"listen.tls: the files do not load: {state.problem}", ""
    assert state.not_after is not None
    left = state.not_after - (now or utcnow())
    if left <= timedelta(0):
        return (f"listen.tls: the certificate expired at {iso_z(state.not_after)}: every sender's TLS "
                "handshake fails; renew it"), ""
    ca_end = state.client_ca_not_after
    ca_left = ca_end - (now or utcnow()) if ca_end is not None else None
    if ca_end is not None and ca_left is not None and ca_left <= timedelta(0):
        return (f"listen.tls: the client CA (client_ca_file) expired at {iso_z(ca_end)}: "
                "every sender's certificate it signed is refused; renew it and the senders' certificates"), ""
    ending = []  # both when both end soon, the first to end first
    if left < EXPIRY_WARNING:
        ending.append((left, f"the TLS certificate expires at {iso_z(state.not_after)}, in "
                             f"{left.total_seconds() / 86400:.1f} days: renew it"))
    if ca_end is not None and ca_left is not None and ca_left < EXPIRY_WARNING:
        ending.append((ca_left, f"the client CA (client_ca_file) expires at {iso_z(ca_end)}, in "
                                f"{ca_left.total_seconds() / 86400:.1f} days: renew it and the senders' certificates"))
    if ending:
        return None, "warning: " + "; and ".join(text for _left, text in sorted(ending))
    return None, f"TLS certificate valid until {iso_z(state.not_after)}"
