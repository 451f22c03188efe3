"""One-click answer links. In emails: a signed, expiring token bound to one reminder (its
key) and one answer (``/r/<token>``). In an SMS, where every character counts: a short
link ``/a/<token>``, the reminder's row id in base62 and a truncated HMAC of that id and the
reminder's key (10 characters, about 58 bits). Both are signed with ``server.secret_key``, so a
link cannot be forged or pointed at another appointment.

A link stays usable until the visit it names is over: a patient who booked six weeks
ahead can still answer from the confirmation in the last weeks. Once the signature holds, the
first thing read is the end of the reminder's appointment; past it the link is ``closed`` (the
410 "this visit has passed" page). ``responses.link_max_age`` is only an upper bound for a link
whose appointment cannot be found (then ``expired``, 410), so nothing without a visit lives forever."""

from __future__ import annotations

import hashlib
import hmac
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from clinicsync.common.timeutil import parse_duration
from clinicsync.common.types import utcnow
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.store.model import ROW_ID_MAX, Appointment, table_of
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store

SALT = "clinicsync.reply-link"
SHORT_SALT = b"clinicsync.short-link\x00"
BASE62 = string.digits + string.ascii_letters
MAC_CHARS = 10  # about 58 bits of the MAC: guessing online is hopeless, and the SMS stays short
LinkAction = Literal["confirm", "decline"]
A = table_of(Appointment)


@dataclass(frozen=True)
class LinkClaim:
    key: str  # the reminder's key
    action: LinkAction


class LinkProblem(ValueError):
    """The token is not ours (``invalid``), its visit is over (``closed``) or, its appointment
    unknown, it is older than ``responses.link_max_age`` (``expired``)."""

    def __init__(self, reason: Literal["expired", "invalid", "closed"]) -> None:
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


def visit_end(store: Store, key: str) -> datetime | None:
    """The end of the appointment a reminder (by key) is about, or None when there is none."""
    with store.engine.connect() as connection:
        joined = REMINDERS.join(A, A.c.id == REMINDERS.c.appointment_id)
        return connection.execute(select(A.c.end_utc).select_from(joined)
                                  .where(REMINDERS.c.key == key)).scalar_one_or_none()


def check_validity(settings: Settings, store: Store, key: str, issued: datetime) -> None:
    """Until the visit is over (``closed`` after its end); ``link_max_age`` after ``issued``
    bounds only a link whose appointment cannot be found (``expired``)."""
    now, end = utcnow(), visit_end(store, key)
    if end is not None:
        if end <= now:
            raise LinkProblem("closed")
    elif now - issued > parse_duration(settings.responses.link_max_age):
        raise LinkProblem("expired")


def read_token(settings: Settings, store: Store, token: str) -> LinkClaim:
    """The claim of an email's link: the signature first (``invalid``, the uniform 404), then
    how long it lives (check_validity); the signing time only matters without a visit."""
    serializer = _serializer(settings)
    if serializer is None:
        raise LinkProblem("invalid")
    try:
        data, signed_at = serializer.loads(token, return_timestamp=True)
    except BadSignature:
        raise LinkProblem("invalid") from None
    if not isinstance(data, dict) or data.get("a") not in ("confirm", "decline") or not isinstance(data.get("k"), str):
        raise LinkProblem("invalid")
    check_validity(settings, store, data["k"], signed_at)
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


def short_mac(secret: str, salt: bytes, message: str) -> str:
    """The truncated HMAC a short token ends with (``MAC_CHARS`` base62 characters, ~58 bits);
    each kind of short link has its own ``salt``, so one kind's token never opens another's."""
    digest = hmac.new(secret.encode(), salt + message.encode(), hashlib.sha256).digest()
    return _base62(int.from_bytes(digest[:8], "big")).rjust(11, "0")[:MAC_CHARS]


def _short_mac(secret: str, reminder_id: int, key: str) -> str:
    return short_mac(secret, SHORT_SALT, f"{reminder_id}:{key}")


def server_secret(settings: Settings) -> str | None:
    server = settings.server
    return None if server is None or server.secret_key is None else server.secret_key.get_secret_value()


def short_token(row_id: int, mac: str) -> str:
    """A short token: the row id in base62 (one spelling: no leading zeros), then its MAC."""
    return _base62(row_id) + mac


def split_short_token(token: str) -> tuple[int, str]:
    """(row id, MAC) of a short token's shape, or LinkProblem('invalid'): wrong length or
    alphabet, an id spelt with leading zeros, or one no row can have (above ``ROW_ID_MAX``:
    PostgreSQL would raise comparing it with its INTEGER ids). The MAC is the caller's to check."""
    if not (MAC_CHARS < len(token) <= MAC_CHARS + 11) or any(c not in BASE62 for c in token):
        raise LinkProblem("invalid")
    row_id = 0
    for char in token[:-MAC_CHARS]:
        row_id = row_id * 62 + BASE62.index(char)
    if _base62(row_id) != token[:-MAC_CHARS] or row_id > ROW_ID_MAX:
        raise LinkProblem("invalid")
    return row_id, token[-MAC_CHARS:]




def make_short_token(settings: Settings, reminder_id: int, key: str) -> str:
    """The reminder's row id in base62, then the MAC: ``"w7e" + "K3x9QpZ2aB"``."""
    secret = server_secret(settings)
    if secret is None:
        raise ValueError("server.secret_key is not set: answer links cannot be signed")
    return short_token(reminder_id, _short_mac(secret, reminder_id, key))


def read_short_token(settings: Settings, store: Store, token: str) -> LinkClaim:
    """The claim of a short link: its reminder must exist and the MAC match (else ``invalid``,
    the same answer for a forged, altered or foreign token), then it lives as an email's link
    does (check_validity, from when it was sent). A bare POST confirms."""
    secret = server_secret(settings)
    if secret is None:
        raise LinkProblem("invalid")
    reminder_id, mac = split_short_token(token)
    with store.engine.connect() as connection:
        row = connection.execute(select(REMINDERS.c.key, REMINDERS.c.sent_at, REMINDERS.c.created_at)
                                 .where(REMINDERS.c.id == reminder_id)).first()
    if row is None or not hmac.compare_digest(_short_mac(secret, reminder_id, row.key), mac):
        raise LinkProblem("invalid")
    check_validity(settings, store, row.key, row.sent_at or row.created_at)
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
