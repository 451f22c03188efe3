"""Password hashes for the status page: scrypt (hashlib, no extra dependency), compared in
constant time. Format: ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1
_LENGTH = 32


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024,
                          dklen=_LENGTH)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _derive(password, salt, N, R, P)
    return "$".join(["scrypt", str(N), str(R), str(P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def check_hash_format(stored: str) -> tuple[int, int, int, bytes, bytes]:
    """The parts of a stored hash, or ValueError saying what is wrong (never echoing it)."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("not a clinicsync password hash (expected scrypt$n$r$p$salt$hash; "
                         "make one with `clinicsync ui hash-password`)")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except ValueError:
        raise ValueError("malformed password hash (make one with `clinicsync ui hash-password`)") from None
    if n < 2**10 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16 or len(salt) < 8 or not digest:
        raise ValueError("password hash parameters out of range (make one with `clinicsync ui hash-password`)")
    return n, r, p, salt, digest


def verify_password(password: str, stored: str) -> bool:
    n, r, p, salt, digest = check_hash_format(stored)
    return hmac.compare_digest(_derive(password, salt, n, r, p), digest)


DUMMY_HASH = hash_password(secrets.token_urlsafe(16))  # verified against for unknown users: same cost
