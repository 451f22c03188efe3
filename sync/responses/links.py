"""One-click answer links. In emails: a signed, expiring token bound to one reminder (its
key) and one answer (``/r/<token>``). In an SMS, where every character counts: a short
link ``/a/<token>``, the reminder's row id in base62 and a truncated HMAC of that id and the
reminder's key (10 characters, about 58 bits); it expires ``responses.link_max_age`` after the
message was sent. Both are signed with ``server.secret_key``, so a link cannot be forged or
pointed at another appointment."""

from __future__ import annotations

import hashlib
import hmac
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from clinicsync.common.timeutil import parse_duration
from clinicsync.common.types import utcnow
from clinicsync.sync.model.reminders import REMINDERS
from clinicsync.sync.settings import Settings
from clinicsync.sync.store import Store

SALT = "clinicsync.reply-link"
SHORT_SALT = b"clinicsync.short-link\x00"
BASE62 = string.digits + string.ascii_letters
MAC_CHARS = 10  # about 58 bits of the MAC: guessing online is hopeless, and the SMS stays short
LinkAction = Literal["confirm", "decline"]


@dataclass(frozen=True)
class LinkClaim:
    key: str  # the reminder's key
    action: LinkAction


class LinkProblem(ValueError):
    """The token is expired (``expired``) or not ours (``invalid``)."""

    def __init__(self, reason: Literal["expired", "invalid"]) -> None:
        super().__init__(reason)
        self.reason = reason


def _serializer(settings: Settings) -> URLSafeTimedSerializer | None:
    server = settings.server
    if server is None or server.secret_key is None:
        return None
    return URLSafeTimedSerializer(server.secret_key.get_secret_value(), salt=SALT)


def make_token(settings: Settings, key: str, action: LinkAction) -> str:
    serializer = _serializer(settings)
    if serializer is None:
        raise ValueError("server.secret_key is not set: answer links cannot be signed")
    return serializer.dumps({"k": key, "a": action})


def read_token(settings: Settings, token: str) -> LinkClaim:
    serializer = _serializer(settings)
    if serializer is None:
        raise LinkProblem("invalid")
    max_age = int(parse_duration(settings.responses.link_max_age).total_seconds())
    try:
        data = serializer.loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkProblem("expired") from None
    except BadSignature:
        raise LinkProblem("invalid") from None
    if not isinstance(data, dict) or data.get("a") not in ("confirm", "decline") or not isinstance(data.get("k"), str):
        raise LinkProblem("invalid")
    return LinkClaim(data["k"], data["a"])


def link_maker(settings: Settings) -> Callable[[str], dict[str, str]] | None:
    """reminder key -> {confirm_url, decline_url}, when the server has a public URL and a secret key."""
    server = settings.server
    if server is None or server.public_url is None or server.secret_key is None:
        return None
    base = str(server.public_url).rstrip("/")

    def links(key: str) -> dict[str, str]:
        return {f"{action}_url": f"{base}/r/{make_token(settings, key, action)}"
                for action in ("confirm", "decline")}

    return links


def _base62(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
        if number == 0:
            return digits


def _short_mac(secret: str, reminder_id: int, key: str) -> str:
    digest = hmac.new(secret.encode(), SHORT_SALT + f"{reminder_id}:{key}".encode(), hashlib.sha256).digest()
    return _base62(int.from_bytes(digest[:8], "big")).rjust(11, "0")[:MAC_CHARS]


def _secret(settings: Settings) -> str | None:
    server = settings.server
    return None if server is None or server.secret_key is None else server.secret_key.get_secret_value()


MAX_ROW_ID = 2**63 - 1  # a row id is a signed 64-bit integer in every store


def make_short_token(settings: Settings, reminder_id: int, key: str) -> str:
    """The reminder's row id in base62, then the MAC: ``"w7e" + "K3x9QpZ2aB"``."""
    secret = _secret(settings)
    if secret is None:
        raise ValueError("server.secret_key is not set: answer links cannot be signed")
    return _base62(reminder_id) + _short_mac(secret, reminder_id, key)


def read_short_token(settings: Settings, store: Store, token: str) -> LinkClaim:
    """The claim of a short link: its reminder must exist and the MAC match (else ``invalid``,
    the same answer for a forged, altered or foreign token), and it was sent less than
    ``responses.link_max_age`` ago (else ``expired``). A bare POST confirms."""
    secret = _secret(settings)
    if secret is None or not (MAC_CHARS < len(token) <= MAC_CHARS + 11) or any(c not in BASE62 for c in token):
        raise LinkProblem("invalid")
    reminder_id = 0
    for char in token[:-MAC_CHARS]:
        reminder_id = reminder_id * 62 + BASE62.index(char)
    if _base62(reminder_id) != token[:-MAC_CHARS]:  # one spelling per id: no leading zeros
        raise LinkProblem("invalid")
    if reminder_id > MAX_ROW_ID:  # no row has it; the store's integer would overflow (a 400, not the uniform 404)
        raise LinkProblem("invalid")
    with store.engine.connect() as connection:
        row = connection.execute(select(REMINDERS.c.key, REMINDERS.c.sent_at, REMINDERS.c.created_at)
                                 .where(REMINDERS.c.id == reminder_id)).first()
    if row is None or not hmac.compare_digest(_short_mac(secret, reminder_id, row.key), token[-MAC_CHARS:]):
        raise LinkProblem("invalid")
    if utcnow() - (row.sent_at or row.created_at) > parse_duration(settings.responses.link_max_age):
        raise LinkProblem("expired")
    return LinkClaim(row.key, "confirm")


def short_link_maker(settings: Settings) -> Callable[[int, str], str] | None:
    """(reminder id, key) -> ``https://host/a/<token>``, when the server has a public URL and a secret key."""
    server = settings.server
    if server is None or server.public_url is None or server.secret_key is None:
        return None
    base = str(server.public_url).rstrip("/")

    def link(reminder_id: int, key: str) -> str:
        return f"{base}/a/{make_short_token(settings, reminder_id, key)}"

    return link
