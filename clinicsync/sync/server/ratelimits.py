"""Rate limits of the push endpoints (REST API, booking webhooks, FHIR notifications), shared
by the server's replicas when they share a PostgreSQL store: each request takes a token from
the source's bucket in the store with one atomic statement (an upsert that refills by the
time elapsed and takes a token only if one is there), so two replicas allow a source its
configured rate, not twice it. On SQLite (one host, usually one process) and
MySQL the buckets stay per process (``KeyedBuckets``), as they are when the store cannot be
reached: a limiter must never turn a database hiccup into refused bookings."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.common.ratelimit import KeyedBuckets
from clinicsync.sync.store.db import first_at_cursor, on_live_connection, one_statement

log = structlog.get_logger("clinicsync.ratelimits")

# Refill, then take one token when at least one is there; RETURNING says whether it was taken.
# Run at the driver (psycopg's placeholders; a SQLAlchemy construct costs ~30-60 us more per
# request), alone in autocommit (one statement is atomic on its own: no BEGIN and COMMIT
# round trips), and committed without waiting for its WAL flush (``synchronous_commit`` off for
# its own implicit transaction only, set in the statement itself: no round trip of its own): a
# bucket is no record, and a crash that loses its last refills only lets a few more requests in.
_TAKE = """
INSERT INTO ratebucket (key, tokens, refilled_at)
SELECT %(key)s, %(capacity)s - 1, %(now)s FROM (SELECT set_config('synchronous_commit', 'off', true)) AS quick
ON CONFLICT (key) DO UPDATE SET
    tokens = LEAST(%(capacity)s, ratebucket.tokens + GREATEST(0, %(now)s - ratebucket.refilled_at) * %(rate)s) - 1,
    refilled_at = GREATEST(ratebucket.refilled_at, %(now)s)
WHERE LEAST(%(capacity)s, ratebucket.tokens + GREATEST(0, %(now)s - ratebucket.refilled_at) * %(rate)s) >= 1
RETURNING tokens"""
_LEVEL = text("SELECT LEAST(:capacity, tokens + GREATEST(0, :now - refilled_at) * :rate) FROM ratebucket "
              "WHERE key = :key")


class SharedBuckets:
    """``KeyedBuckets``' contract (``try_acquire``) on the store's ``ratebucket`` table (PostgreSQL's)."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine, self._clock = engine, clock
        self._local = KeyedBuckets()  # while the store cannot be reached

    def try_acquire(self, key: str, rate: float, capacity: float) -> float:
        """0 when ``key`` may go ahead now; otherwise the seconds until it may."""
        now = self._clock()
        values = {"key": key, "rate": rate, "capacity": float(capacity), "now": now}
        try:
            level = on_live_connection(lambda: self._take(values))
        except SQLAlchemyError as exc:
            log.warning("ratelimit.local", key=key, error=type(exc).__name__,
                        fix="the store is unreachable: this replica limits on its own until it is back")
            return self._local.try_acquire(key, rate, capacity)
        return 0.0 if level is None else max(0.0, (1 - level) / rate)

    def _take(self, values: dict[str, Any]) -> float | None:
        """None when a token was taken; else the bucket's level. On a checkout without its
        pre-ping (sync/store/db.py ``on_live_connection``: the statement itself finds a dead connection,
        and is sent again on a pinged one; a token the lost answer had taken is lost with it)."""
        with one_statement(self.engine) as connection:
            # On the DB-API cursor: ~30-60 us less than exec_driver_sql per request.
            cursor = first_at_cursor(connection, _TAKE, values)
            try:
                taken = cursor.fetchone() is not None
            finally:
                cursor.close()
            if taken:
                return None
            return float(connection.execute(_LEVEL, values).scalar_one_or_none() or 0)


def push_limiter(engine: Engine) -> SharedBuckets | KeyedBuckets:
    """The limiter for a server on ``engine``: shared on PostgreSQL, per process elsewhere."""
    return SharedBuckets(engine) if engine.dialect.name == "postgresql" else KeyedBuckets()
