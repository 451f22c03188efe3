"""Password hashes for the status page, through pwdlib: new hashes are argon2id in the
standard PHC string (``$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>``); hashes made
before (``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``, hashlib) still verify, so a
settings file need not change on upgrade. Comparisons are constant-time in both.

pwdlib replaced our own scrypt format (a maintained library over our own code): argon2id is the first choice of current
guidance (OWASP, RFC 9106), the PHC string carries its parameters so they can be raised
without a format of our own, and pwdlib identifies a hash's scheme and verifies it, so
the legacy scrypt hashes are one small hasher beside the maintained one.

Cost: m=19 MiB, t=2, p=1 (OWASP's argon2id minimum), about the 16 MiB of the scrypt
hashes, so ``ui.password_checks`` bounds memory as before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import Type, extract_parameters
from argon2.exceptions import InvalidHashError
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

MEMORY_KIB, TIME_COST, PARALLELISM = 19 * 1024, 2, 1
_FIX = "make one with `clinicsync ui hash-password`"


class _LegacyScrypt:
    """Verifies the ``scrypt$n$r$p$salt$hash`` hashes of earlier versions; makes none."""

    @classmethod
    def identify(cls, hash: str | bytes) -> bool:
        return _text(hash).startswith("scrypt$")

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        raise NotImplementedError("new hashes are argon2id")

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        n, r, p, salt, digest = _scrypt_parts(_text(hash))
        secret = password.encode("utf-8") if isinstance(password, str) else password
        derived = hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)
        return hmac.compare_digest(derived, digest)

    def check_needs_rehash(self, hash: str | bytes) -> bool:
        return True


def _text(hash: str | bytes) -> str:
    return hash.decode("ascii", "replace") if isinstance(hash, bytes) else hash


def _scrypt_parts(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 6:
        raise ValueError(f"malformed scrypt password hash ({_FIX})")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except ValueError:
        raise ValueError(f"malformed scrypt password hash ({_FIX})") from None
    if n < 2**10 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16 or len(salt) < 8 or not digest:
        raise ValueError(f"password hash parameters out of range ({_FIX})")
    return n, r, p, salt, digest


_HASHER = PasswordHash((Argon2Hasher(time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM),
                        _LegacyScrypt()))


def hash_password(password: str) -> str:
    """An argon2id hash of `password` with a fresh random salt."""
    return _HASHER.hash(password)


def check_hash_format(stored: str) -> None:
    """ValueError saying what is wrong with a stored hash (never echoing it), else None.

    Parameters are bounded so that a typo in a settings file cannot make each login
    check take gigabytes or minutes."""
    if stored.startswith("scrypt$"):
        _scrypt_parts(stored)
        return
    if not stored.startswith("$argon2id$"):
        raise ValueError(f"not a clinicsync password hash (expected $argon2id$…, or an older scrypt$…; {_FIX})")
    try:
        params = extract_parameters(stored)
    except InvalidHashError:
        raise ValueError(f"malformed argon2id password hash ({_FIX})") from None
    if (params.type is not Type.ID or not 8 * 1024 <= params.memory_cost <= 1024 * 1024
            or not 1 <= params.time_cost <= 10 or not 1 <= params.parallelism <= 16):
        raise ValueError(f"password hash parameters out of range ({_FIX})")


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored` (argon2id, or a legacy scrypt hash)."""
    check_hash_format(stored)
    return _HASHER.verify(password, stored)


DUMMY_HASH = hash_password(secrets.token_urlsafe(16))  # verified against for unknown users: same cost
