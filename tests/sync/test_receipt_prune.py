"""Webhook receipts (sync/ingest/push_hooks.py): a process prunes a source's expired receipts at most
once a minute, not on every webhook, and each body is still claimed exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from clinicsync.common.types import utcnow
from clinicsync.sync.ingest import push_hooks
from clinicsync.sync.store.model.push_hooks import RECEIPTS
from clinicsync.sync.store.store import Store

KEEP = timedelta(minutes=10)


def _expired(store: Store, digest: str) -> None:
    with store.engine.begin() as connection:
        connection.execute(insert(RECEIPTS).values(connector="cal", digest=digest, received_at=utcnow() - 2 * KEEP))


def _receive(store: Store, digest: str) -> bool:
    """One webhook's receipt, as the push's transaction claims it; True if it was new."""
    with store.engine.begin() as connection:
        return not push_hooks.receipt_and_alias("cal", "p", digest, KEEP)(connection)


def _kept(store: Store) -> set[str]:
    with store.engine.connect() as connection:
        return {row[0] for row in connection.execute(select(RECEIPTS.c.digest).where(RECEIPTS.c.connector == "cal"))}


def test_expired_receipts_are_pruned_once_a_minute(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_000.0]
    monkeypatch.setattr(push_hooks.time, "monotonic", lambda: clock[0])
    _expired(store, "old-1")
    assert _receive(store, "a")  # the first webhook of the process prunes
    assert _kept(store) == {"a"}
    _expired(store, "old-2")
    clock[0] += push_hooks.PRUNE_EVERY_SECONDS - 1
    assert _receive(store, "b")  # within the minute: no prune
    assert not _receive(store, "b")  # a replay is still a replay
    assert _kept(store) == {"a", "b", "old-2"}
    clock[0] += 1
    assert _receive(store, "c")  # a minute on: pruned again
    assert _kept(store) == {"a", "b", "c"}
    with store.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(RECEIPTS)).scalar_one() == 3


def test_a_digest_is_claimed_once(store: Store) -> None:
    """The second claim of a digest fails on every store (on PostgreSQL the INSERT's rowcount
    was -1, so every claim succeeded and a racing replay was applied again)."""
    for expected in (True, False, False):
        with store.engine.begin() as connection:
            assert push_hooks.claim_receipt(connection, "cal", "d" * 64, KEEP) is expected
