"""The status page's login defence shared by the server's replicas on one PostgreSQL store.
Per process (sync/ui/throttle.py, a dict of logouts), N replicas behind a
load balancer gave an attacker N times the guesses, a lockout on one replica did not hold on
another, and a cookie copied before a logout still opened every other replica.

- Failed logins and lockouts (``SharedLogins``): one row per throttle key in ``loginfailure``.
  An attempt reserves its place on each key in one atomic statement: an upsert that,
  unless the key is locked, counts the attempt and computes the new lock (the same doubling,
  cap and quiet-period reset as ``Throttle``), and otherwise returns how long the key is still
  locked. Two replicas (or threads) trying the same key at once serialize on its row, so the
  allowance is exactly the number of passwords checked. A success deletes its rows.
- Logouts (``SharedRevocations``): the session id's digest with the time its cookie would have
  expired in ``revokedsession``; a page view with a cookie looks it up by primary key.

Keys are keyed digests (HMAC-SHA256 under a key from the `ui:` settings every replica shares),
never a user name, an address or a session id: a user name and an address are personal data,
and an unkeyed digest of an address is reversed by trying all of them. Statements run alone in
autocommit, and rows quiet past their use are pruned at most once a minute per replica.

On SQLite (one host, in practice one process) and MySQL the state stays per process, as it is
when the store cannot be reached: a warning names the fix, and this replica counts on its own
(a lockout it earns meanwhile still holds here) rather than refusing every login because of a
database hiccup. The cache of verified credentials stays per process: it only saves a hash.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from clinicsync.sync.config.settings.ui import UiSettings
from clinicsync.sync.store.db import first_statement, on_live_connection, one_statement
from clinicsync.sync.ui.throttle import LocalLogins, Throttle

log = structlog.get_logger("clinicsync.ui.logins")
T = TypeVar("T")
PRUNE_SECONDS = 60.0  # a replica prunes each table at most this often
_FIX = ("the store did not answer (unreachable; or not upgraded: `clinicsync db upgrade`): this replica counts "
        "failed logins and remembers logouts on its own until it does")

# The failure count after this one: afresh when the key was quiet for 2 x its longest lockout.
_COUNT = "(CASE WHEN %(now)s - f.last_failure > %(quiet)s THEN 1 ELSE f.failures + 1 END)"


def _lock(count: str, otherwise: str) -> str:
    """From the ``free``-th failure on, locked for the first lockout doubled per failure past it, capped."""
    return (f"CASE WHEN {count} >= %(free)s THEN %(now)s + LEAST(%(max)s, %(base)s * "
            f"power(2.0::float8, LEAST({count} - %(free)s, 32))) ELSE {otherwise} END")


# One attempt on one key: counted (and locked when it reaches the allowance) unless the key is
# locked, atomically on the key's row; then (granted, 0), else (false, seconds still locked),
# read from the statement's snapshot (no row: a racing attempt locked it just now).
# Committed without waiting for its WAL flush, for its own implicit transaction only (as a
# rate bucket: sync/server/ratelimits.py): a crash that loses the last failures lets a few more
# guesses in, nothing else. Logouts are written with the flush: a lost one reopens a session.
_RESERVE = f"""
WITH counted AS (
    INSERT INTO loginfailure AS f (key, failures, last_failure, locked_until)
    SELECT %(key)s, 1, %(now)s, {_lock("1", "0")}
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS quick
    ON CONFLICT (key) DO UPDATE SET
        failures = {_COUNT},
        last_failure = GREATEST(f.last_failure, %(now)s),
        locked_until = {_lock(_COUNT, "f.locked_until")}
    WHERE f.locked_until <= %(now)s
    RETURNING f.key)
SELECT true, 0.0::float8 FROM counted
UNION ALL
SELECT false, locked_until - %(now)s FROM loginfailure WHERE key = %(key)s AND NOT EXISTS (SELECT 1 FROM counted)"""
_CLEAR = "DELETE FROM loginfailure WHERE key = ANY(%(keys)s::text[])"
_PRUNE_FAILURES = "DELETE FROM loginfailure WHERE last_failure < %(before)s"
_REVOKE = """INSERT INTO revokedsession (sid, expires_at) VALUES (%(sid)s, %(until)s)
ON CONFLICT (sid) DO UPDATE SET expires_at = GREATEST(revokedsession.expires_at, EXCLUDED.expires_at)"""
_REVOKED = "SELECT 1 FROM revokedsession WHERE sid = %(sid)s"
_PRUNE_REVOKED = "DELETE FROM revokedsession WHERE expires_at < %(before)s"


def _rows(engine: Engine, sql: str, values: dict[str, Any]) -> list[tuple[Any, ...]]:
    """``sql`` alone in autocommit (one statement is atomic on its own); its rows, if any. On a
    checkout without its pre-ping (sync/store/db.py ``on_live_connection``)."""
    def work() -> list[tuple[Any, ...]]:
        with one_statement(engine) as connection:
            result = first_statement(connection, sql, values)
            return [tuple(row) for row in result] if result.returns_rows else []
    return on_live_connection(work)


def _digest(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def digest_key(ui: UiSettings) -> bytes | None:
    """The key every replica derives alike from its `ui:` settings: ``session_secret`` (which
    replicas set to share sessions), else the token, else the users' password hashes (salted,
    so unguessable); None when there is none of them (then nothing can log in anyway). Changing
    that setting starts the shared counts afresh."""
    if ui.session_secret is not None:
        material = ui.session_secret.get_secret_value()
    elif ui.token is not None:
        material = ui.token.get_secret_value()
    elif ui.users:
        material = "\0".join(sorted(user.password_hash for user in ui.users))
    else:
        return None
    return hmac.new(material.encode(), b"clinicsync login state", hashlib.sha256).digest()


class _Shared:
    """A store-backed state: its statements, the fallback when the store cannot be reached,
    and the occasional prune."""

    blocking = True  # does I/O: async callers run it in the thread pool (``off_loop``)

    def __init__(self, engine: Engine, key: bytes, clock: Callable[[], float]) -> None:
        self.engine, self.key, self.clock = engine, key, clock
        self._pruned = -PRUNE_SECONDS
        self._prune_lock = threading.Lock()

    def _digests(self, keys: Sequence[str]) -> list[str]:
        return list(dict.fromkeys(_digest(self.key, key) for key in keys))

    def _run(self, sql: str, values: dict[str, Any]) -> list[tuple[Any, ...]] | None:
        """The statement's rows; None (logged, with the fix) when the store cannot be reached."""
        try:
            return _rows(self.engine, sql, values)
        except SQLAlchemyError as exc:
            log.warning("login.local", error=type(exc).__name__, fix=_FIX)
            return None

    def _prune(self, sql: str, before: float) -> None:
        """At most once every PRUNE_SECONDS per replica: one indexed delete of rows past their use."""
        with self._prune_lock:
            now = time.monotonic()
            if now - self._pruned < PRUNE_SECONDS:
                return
            self._pruned = now
        self._run(sql, {"before": before})


class _StoreAway(Exception):
    """The store did not answer (logged by ``_run``): count here instead."""


class SharedLogins(_Shared):
    """``LocalLogins``' contract (``attempt``, ``succeeded``) on the store's ``loginfailure``
    table: the same per-client lockouts and per-account slow-down, counted over every replica."""

    def __init__(self, engine: Engine, key: bytes, ui: UiSettings, clock: Callable[[], float] = time.time) -> None:
        super().__init__(engine, key, clock)
        self.free, self.base = ui.failures_allowed, ui.lockout_seconds
        self.max_client, self.max_account = ui.max_lockout_seconds, ui.max_account_delay_seconds
        self.local = LocalLogins.for_settings(ui)  # while the store cannot be reached

    def attempt(self, client: str, account: str | None) -> int | None:
        """``LocalLogins.attempt`` in the store: the client's place, then the account's (one
        statement each); here if the store cannot be reached."""
        try:
            wait = self._reserve(client, self.max_client)
            if wait is None and account is not None:
                wait = self._reserve(account, self.max_account)
        except _StoreAway:
            return self.local.attempt(client, account)
        return wait

    def _reserve(self, key: str, longest: float) -> int | None:
        now = self.clock()
        values = {"key": _digest(self.key, key), "now": now, "free": self.free, "base": self.base, "max": longest,
                  "quiet": longest * 2}
        rows = self._run(_RESERVE, values)
        if rows is None:
            raise _StoreAway
        self._prune(_PRUNE_FAILURES, now - max(self.max_client, self.max_account) * 2)
        if rows and rows[0][0]:
            return None
        return Throttle.whole_seconds(rows[0][1] if rows else 1.0) or 1  # no row: locked by a racing attempt

    def succeeded(self, keys: list[str]) -> None:
        self.local.succeeded(keys)
        self._run(_CLEAR, {"keys": self._digests(keys)})


class LocalRevocations:
    """Session ids logged out in this process, each kept until its cookie would have expired."""

    blocking = False

    def __init__(self) -> None:
        self.until: dict[str, float] = {}

    def revoke(self, sid: str, until: float) -> None:
        now = time.time()
        for gone in [s for s, when in self.until.items() if when < now]:
            del self.until[gone]
        self.until[sid] = until

    def revoked(self, sid: str) -> bool:
        return sid in self.until


class SharedRevocations(_Shared):
    """Logouts in the store's ``revokedsession`` table, so a copied cookie fails on every
    replica; also kept here, which holds while the store cannot be reached."""

    def __init__(self, engine: Engine, key: bytes, clock: Callable[[], float] = time.time) -> None:
        super().__init__(engine, key, clock)
        self.local = LocalRevocations()

    def revoke(self, sid: str, until: float) -> None:
        self.local.revoke(sid, until)
        if self._run(_REVOKE, {"sid": _digest(self.key, sid), "until": until}) is not None:
            self._prune(_PRUNE_REVOKED, self.clock())  # the cookies of these rows have expired

    def revoked(self, sid: str) -> bool:
        """Logged out here or on any replica (one primary-key lookup)."""
        return self.local.revoked(sid) or bool(self._run(_REVOKED, {"sid": _digest(self.key, sid)}))


def login_state(engine: Engine, ui: UiSettings) -> LocalLogins | SharedLogins:
    """Shared on PostgreSQL (when the settings give a key), per process elsewhere."""
    key = digest_key(ui)
    if engine.dialect.name == "postgresql" and key is not None:
        return SharedLogins(engine, key, ui)
    return LocalLogins.for_settings(ui)


def revocations(engine: Engine | None, key: bytes) -> LocalRevocations | SharedRevocations:
    """Shared on PostgreSQL, keyed by the cookies' signing key (replicas that accept each
    other's cookies share it); per process elsewhere."""
    if engine is not None and engine.dialect.name == "postgresql":
        return SharedRevocations(engine, hmac.new(key, b"clinicsync revoked sessions", hashlib.sha256).digest())
    return LocalRevocations()


async def off_loop(state: Any, work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` in the thread pool when ``state`` is in the store (a statement never runs
    on the event loop, which serves every other request meanwhile), here when it is in memory."""
    if state.blocking:
        return await run_in_threadpool(work, *args)
    return work(*args)
