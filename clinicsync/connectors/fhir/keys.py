"""The private key of SMART Backend Services, read and checked once: by settings validation
(connectors/fhir/settings.py) and by the token client (auth.py), which both import it."""

from __future__ import annotations

from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@lru_cache(maxsize=8)
def load_private_key(pem: str, algorithm: str) -> PrivateKey:
    """Parse a PEM private key and check it suits ``algorithm`` (RS384: RSA, ES384: P-384).

    A key given through an environment variable often has its line breaks written as
    ``\\n``; those are restored. Errors never echo the key. Cached: checking an RSA key
    costs a quarter of a second, and settings validation and the connector both need it.
    """
    text = pem.strip()
    if "\n" not in text and "\\n" in text:
        text = text.replace("\\n", "\n")
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError) as exc:
        reason = "it is encrypted (give an unencrypted key)" if "encrypted" in str(exc).lower() else (
            "it is not a PEM private key (-----BEGIN PRIVATE KEY----- …)")
        raise ValueError(f"private_key cannot be read: {reason}") from None
    if algorithm == "RS384":
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("private_key is not an RSA key, which algorithm RS384 needs")
        if key.key_size < 2048:
            raise ValueError("private_key: RSA keys shorter than 2048 bits are refused")
        return key
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp384r1":
        raise ValueError("private_key is not an EC P-384 key, which algorithm ES384 needs")
    return key
