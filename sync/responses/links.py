"""One-click answer links in emails: a signed, expiring token bound to one reminder (its
key) and one answer. Signed with ``server.secret_key`` (itsdangerous), so a link cannot be
forged or pointed at another appointment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from clinicsync.common.timeutil import parse_duration
from clinicsync.sync.settings import Settings

SALT = "clinicsync.reply-link"
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
