"""One-tap links of waitlist offers: ``/w/<token>``, the offer's row id in base62
then a truncated HMAC of it (10 characters, about 58 bits, as an SMS's short answer link), signed
with ``server.secret_key`` under a salt of its own, so a reminder's link can never open an offer
nor one offer another. The link says nothing by itself: what it may do is the offer's state in
the store (sync/responses/offer_page.py)."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.links import LinkProblem, server_secret, short_mac, short_token, split_short_token

SALT = b"clinicsync.waitlist-offer\x00"


def make_offer_token(settings: Settings, offer_id: int) -> str:
    secret = server_secret(settings)
    if secret is None:
        raise ValueError("server.secret_key is not set: offer links cannot be signed")
    return short_token(offer_id, short_mac(secret, SALT, str(offer_id)))


def read_offer_token(settings: Settings, token: str) -> int:
    """The offer id a token names, or LinkProblem('invalid') (forged, altered, foreign, no key)."""
    secret = server_secret(settings)
    if secret is None:
        raise LinkProblem("invalid")
    offer_id, mac = split_short_token(token)
    if not hmac.compare_digest(short_mac(secret, SALT, str(offer_id)), mac):
        raise LinkProblem("invalid")
    return offer_id


def offer_link_maker(settings: Settings) -> Callable[[int], str] | None:
    """offer id -> ``https://host/w/<token>``, when the server has a public URL and a secret key."""
    server = settings.server
    if server is None or server.public_url is None or server.secret_key is None:
        return None
    base = str(server.public_url).rstrip("/")
    return lambda offer_id: f"{base}/w/{make_offer_token(settings, offer_id)}"
