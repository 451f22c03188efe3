"""One-tap links of waitlist offers (issue 33): ``/w/<token>``, the offer's row id in base62
then a truncated HMAC of it (10 characters, about 58 bits, as an SMS's short answer link), signed
with ``server.secret_key`` under a salt of its own, so a reminder's link can never open an offer
nor one offer another. The link says nothing by itself: what it may do is the offer's state in
the store (sync/responses/offer_page.py)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from clinicsync.sync.responses.links import BASE62, MAC_CHARS, MAX_ROW_ID, LinkProblem
from clinicsync.sync.settings import Settings

SALT = b"clinicsync.waitlist-offer\x00"


def _base62(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
        if number == 0:
            return digits


def _mac(secret: str, offer_id: int) -> str:
    digest = hmac.new(secret.encode(), SALT + str(offer_id).encode(), hashlib.sha256).digest()
    return _base62(int.from_bytes(digest[:8], "big")).rjust(11, "0")[:MAC_CHARS]


def _secret(settings: Settings) -> str | None:
    server = settings.server
    return None if server is None or server.secret_key is None else server.secret_key.get_secret_value()


def make_offer_token(settings: Settings, offer_id: int) -> str:
    secret = _secret(settings)
    if secret is None:
        raise ValueError("server.secret_key is not set: offer links cannot be signed")
    return _base62(offer_id) + _mac(secret, offer_id)


def read_offer_token(settings: Settings, token: str) -> int:
    """The offer id a token names, or LinkProblem('invalid') (forged, altered, foreign, no key)."""
    secret = _secret(settings)
    if secret is None or not (MAC_CHARS < len(token) <= MAC_CHARS + 11) or any(c not in BASE62 for c in token):
        raise LinkProblem("invalid")
    offer_id = 0
    for char in token[:-MAC_CHARS]:
        offer_id = offer_id * 62 + BASE62.index(char)
    if _base62(offer_id) != token[:-MAC_CHARS] or offer_id > MAX_ROW_ID:
        raise LinkProblem("invalid")
    if not hmac.compare_digest(_mac(secret, offer_id), token[-MAC_CHARS:]):
        raise LinkProblem("invalid")
    return offer_id


def offer_link_maker(settings: Settings) -> Callable[[int], str] | None:
    """offer id -> ``https://host/w/<token>``, when the server has a public URL and a secret key."""
    server = settings.server
    if server is None or server.public_url is None or server.secret_key is None:
        return None
    base = str(server.public_url).rstrip("/")
    return lambda offer_id: f"{base}/w/{make_offer_token(settings, offer_id)}"
