"""A Cal.com webhook's first read and receipt claim (sync/ingest/push_hooks.py ``Unchained``) read in
the push's own one read on PostgreSQL (``PushOptions.folded``, issue 32): the same
webhooks through a receiver end as with the claim-and-read as a statement of its own before it
(the same ``within`` passed as a plain callable): the same answers (created, a replay left out,
duplicate, chained, an expired receipt before and after the prune), receipts, rows, events and
runs; a copy racing past the read is left out as a replay; and the fold sends one statement fewer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, insert

from clinicsync.common.types import utcnow
from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest import push_hooks
from clinicsync.sync.ingest.push import PushReceiver, Withdrawn
from clinicsync.sync.store.model.push_hooks import ALIASES, RECEIPTS
from clinicsync.sync.store.store import Store
from tests.sync.test_push_folded import _all_rows
from tests.sync.test_push_turns import booking
from tests.sync.test_receipt_claim_read import _receipts

KEEP = timedelta(minutes=10)
CONNECTORS = ("cal-folded", "cal-apart")
pytestmark = pytest.mark.postgres


@pytest.fixture
def settings(write_settings: Callable[..., Path]) -> Settings:
    digest = key_digest("csk_test-receipt-folded-0123456789abcdefghijk")
    return load_settings(write_settings(connectors="".join(f"""
- name: {name}
  kind: rest_api
  api_keys: [{{name: site, sha256: {digest}}}]
""" for name in CONNECTORS)))


def _within(connector: str, digest: str, uid: str, folded: bool) -> Callable[[Connection], Collection[str] | None]:
    first = push_hooks.unchained(connector, f"hook {digest}", digest, uid, KEEP)
    return first if folded else (lambda connection: first(connection))  # a plain callable: never folded


def _push(receiver: PushReceiver, digest: str, uid: str, folded: bool) -> Any:
    try:
        return receiver.receive(booking(uid), f"hook {digest}", quarantine_bad=True,
                                within=_within(receiver.name, digest, uid, folded)).outcome
    except Withdrawn as why:
        return why.args[0]


def _scenario(settings: Settings, store: Store, index: int) -> list[Any]:
    receiver = PushReceiver(settings, store, settings.connectors[index])
    connector, folded = receiver.name, index == 0
    with store.engine.begin() as connection:
        connection.execute(insert(ALIASES), [{"connector": connector, "alias": "u-later", "external_id": "u-first",
                                              "created_at": utcnow()}])
        connection.execute(insert(RECEIPTS), [{"connector": connector, "digest": "old",
                                               "received_at": utcnow() - 2 * KEEP}])
    answers = [_push(receiver, digest, uid, folded) for digest, uid in [
        ("old", "u0"),  # an expired receipt not yet pruned: still a duplicate
        ("d1", "u1"),  # new: created, and the source's first prune takes "old"
        ("d1", "u1"),  # the same body again: duplicate
        ("d2", "u-later"),  # an alias: chained, its receipt rolled back
        ("d3", "u-first"),  # a uid a later booking stands for: chained
        ("old", "u4"),  # pruned: created
        ("d5", "u1"),  # another body of u1: unchanged
    ]]
    return [*answers, _receipts(store, connector)]


def test_folded_claims_answer_and_store_as_the_statement_before(settings: Settings, store: Store) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the fold is PostgreSQL's")
    folded, apart = _scenario(settings, store, 0), _scenario(settings, store, 1)
    assert apart == ["duplicate", "created", "duplicate", "chained", "chained", "created", "unchanged",
                     ["d1", "d5", "old"]]
    assert folded == apart
    assert _all_rows(store, CONNECTORS[0]) == _all_rows(store, CONNECTORS[1])


def test_a_copy_racing_past_the_folded_read_is_left_out(settings: Settings, store: Store) -> None:
    """Another copy's receipt is written, not committed, when this push reads: the claim waits
    for it, then conflicts; the push is left out as a replay (unchanged, nothing stored)."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the fold is PostgreSQL's")
    for index, connector in enumerate(CONNECTORS):
        receiver = PushReceiver(settings, store, settings.connectors[index])
        answers: list[Any] = []
        with store.engine.connect() as other:
            with other.begin():
                other.execute(insert(RECEIPTS).values(connector=connector, digest="d", received_at=utcnow()))
                racing = threading.Thread(target=lambda r=receiver, i=index: answers.append(
                    _push(r, "d", "u9", i == 0)))
                racing.start()
                time.sleep(0.5)
                assert racing.is_alive(), "the claim waits for the other copy's receipt"
            racing.join(timeout=30)
        assert answers == ["unchanged"], (connector, answers)
        assert _receipts(store, connector) == ["d"]
    assert _all_rows(store, CONNECTORS[0]) == _all_rows(store, CONNECTORS[1])


def test_the_fold_sends_one_statement_fewer(settings: Settings, store: Store) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the fold is PostgreSQL's")
    sent: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    counts = []
    for index, connector in enumerate(CONNECTORS):
        receiver = PushReceiver(settings, store, settings.connectors[index])
        _push(receiver, "warm", "w0", index == 0)  # the source's first prune, not counted
        sent.clear()
        assert _push(receiver, "d1", "u1", index == 0) == "created"
        counts.append(len(sent))
    assert counts[0] == counts[1] - 1, counts
