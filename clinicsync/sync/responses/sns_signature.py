"""Amazon SNS message signatures, checked before anything in a notification is acted on.

SNS signs every HTTP(S) delivery with the private key of a certificate it publishes at
``SigningCertURL``. Anyone can post a JSON body that *names* a certificate, so the URL is
trusted only when it is an HTTPS URL on ``sns.<region>.amazonaws.com`` for the region of
the topic the message claims to come from, and the topic must be one the settings list.
SignatureVersion 1 is SHA1withRSA, 2 is SHA256withRSA, both over the canonical
"Key\\nValue\\n" string of the fields AWS documents for the message type.

Certificates are fetched with httpx (a timeout, no redirects) and cached per URL, so a
burst of replies costs one fetch; a test serves its own certificate at that URL through
the same client (respx), so the production path is the one under test.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CERT_HOST = re.compile(r"^sns\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?$")
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
MAX_AGE = timedelta(hours=1)  # SNS retries an HTTP endpoint for minutes by default; older is a replay
MAX_SKEW = timedelta(minutes=5)
MAX_CERT_BYTES = 16 * 1024


class SignatureError(Exception):
    """Why a message is refused; the reason names fields, never their values."""


def topic_region(topic_arn: str) -> str:
    parts = topic_arn.split(":")
    if len(parts) != 6 or parts[0] not in ("arn",) or parts[2] != "sns":
        raise SignatureError("TopicArn is not an SNS topic ARN")
    return parts[3]


def trusted_sns_url(url: str, region: str) -> bool:
    """An https URL on the SNS host of ``region`` (no credentials, no port): the only place
    a signing certificate or a subscription confirmation may come from."""
    parts = urlsplit(url)
    match = CERT_HOST.match(parts.hostname or "")
    return (parts.scheme == "https" and match is not None and match.group(1) == region
            and parts.port is None and not parts.username and not parts.password)


def string_to_sign(message: dict[str, Any]) -> bytes:
    kind = message.get("Type")
    if kind not in SIGNED_FIELDS:
        raise SignatureError("Type is not Notification, SubscriptionConfirmation or UnsubscribeConfirmation")
    lines: list[str] = []
    for key in SIGNED_FIELDS[kind]:
        value = message.get(key)
        if value is None and key == "Subject":
            continue  # the only optional signed field
        if not isinstance(value, str):
            raise SignatureError(f"{key} is missing or not a string")
        lines += [key, value]
    return ("\n".join(lines) + "\n").encode("utf-8")


class CertificateCache:
    """SNS signing certificates by URL (a few at a time: one per region and key rotation)."""

    def __init__(self, timeout: float = 5.0, size: int = 16) -> None:
        self.timeout, self.size = timeout, size
        self._certificates: OrderedDict[str, x509.Certificate] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str, headers: dict[str, str] | None = None) -> x509.Certificate:
        """``headers``: a rehearsal's only (see rehearsal_headers)."""
        with self._lock:
            if url in self._certificates:
                self._certificates.move_to_end(url)
                return self._certificates[url]
        try:
            response = httpx.get(url, timeout=self.timeout, follow_redirects=False,
                                 headers=headers)
        except httpx.HTTPError as exc:
            raise SignatureError(f"the signing certificate could not be fetched ({type(exc).__name__})") from None
        if response.status_code != 200 or len(response.content) > MAX_CERT_BYTES:
            raise SignatureError(f"the signing certificate could not be fetched (HTTP {response.status_code})")
        try:
            certificate = x509.load_pem_x509_certificate(response.content)
        except ValueError:
            raise SignatureError("the signing certificate is not a PEM certificate") from None
        with self._lock:
            self._certificates[url] = certificate
            while len(self._certificates) > self.size:
                self._certificates.popitem(last=False)
        return certificate


def certificate_location(cert_url: str, rehearsal_server: str | None) -> str:
    """Where the certificate is fetched: the trusted SNS URL itself, or, in a rehearsal only
    (responses.insecure_sns_signing_certs_from_local_server_for_rehearsal, refused without
    CLINICSYNC_REHEARSAL=1), the same path on the local SNS server (moto serves each
    certificate it signs with at the path its SigningCertURL names)."""
    if rehearsal_server is None:
        return cert_url
    return rehearsal_server.rstrip("/") + urlsplit(cert_url).path


def rehearsal_headers(region: str) -> dict[str, str]:
    """moto's server picks the service a request is for from its SigV4 credential scope; an
    unsigned GET would reach its S3. This names SNS (no secret: moto checks no signature)."""
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential=rehearsal/20260101/{region}/sns/aws4_request, "
                             "SignedHeaders=host, Signature=0"}


def verify(message: dict[str, Any], allowed_topics: set[str], certificates: CertificateCache,
           now: datetime | None = None, rehearsal_server: str | None = None) -> None:
    """Raise SignatureError unless an allowed topic's SNS signed this message, recently.
    ``rehearsal_server``: see certificate_location (a local rehearsal only)."""
    topic = message.get("TopicArn")
    if not isinstance(topic, str) or topic not in allowed_topics:
        raise SignatureError("TopicArn is not one of the configured inbound_topic_arns")
    region = topic_region(topic)
    version = message.get("SignatureVersion")
    if version not in HASHES:
        raise SignatureError("SignatureVersion is not 1 or 2")
    cert_url = message.get("SigningCertURL")
    if not isinstance(cert_url, str) or not trusted_sns_url(cert_url, region):
        raise SignatureError(f"SigningCertURL is not an https URL on sns.{region}.amazonaws.com")
    signed = string_to_sign(message)
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("Signature is not base64") from None
    _check_age(message.get("Timestamp"), now or datetime.now(UTC))
    local = certificate_location(cert_url, rehearsal_server)
    certificate = certificates.get(local, rehearsal_headers(region) if local != cert_url else None)
    now = now or datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise SignatureError("the signing certificate is expired or not yet valid")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("the signing certificate's key is not RSA")
    try:
        key.verify(signature, signed, padding.PKCS1v15(), HASHES[version]())
    except InvalidSignature:
        raise SignatureError("the signature does not match") from None


def _check_age(timestamp: Any, now: datetime) -> None:
    try:
        sent = datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
    except ValueError:
        raise SignatureError("Timestamp is not an ISO 8601 time") from None
    if sent.tzinfo is None:
        raise SignatureError("Timestamp has no zone")
    if sent < now - MAX_AGE or sent > now + MAX_SKEW:
        raise SignatureError("Timestamp is too old or in the future (a replay?)")
