"""The status page's login state that replicas on one PostgreSQL store share (sync/ui/shared_login.py):
failed logins and lockouts per throttle key, and the session ids logged out. Keys are keyed digests
(HMAC-SHA256, hex), never the user name, client address or session id itself: a user name and an
address are personal data, and a digest keyed outside the store cannot be reversed by trying every
address. Times are epoch seconds (the replicas' wall clocks; a skew between them shifts a lockout's
end by as much, nothing worse)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class LoginFailure(SQLModel, table=True):
    __tablename__ = "loginfailure"

    key: str = Field(primary_key=True, max_length=64)  # digest of "ip:…", "user:…" or "device:…"
    failures: int
    last_failure: float = Field(index=True)  # epoch seconds; rows quiet for 2 x the longest lockout are pruned
    locked_until: float  # epoch seconds; in the past (or 0) when not locked


class RevokedSession(SQLModel, table=True):
    __tablename__ = "revokedsession"

    sid: str = Field(primary_key=True, max_length=64)  # digest of the logged-out session id
    expires_at: float = Field(index=True)  # epoch seconds: the cookie cannot be valid past this, so the row may go
