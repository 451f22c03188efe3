"""A Cal.com webhook's first read and its receipt's claim are one statement on PostgreSQL
(sync/ingest/push_hooks.py ``claimed_unchained``, issue 32): the same webhooks end as with the read
and the claim one after the other (``read_then_claim``, the other stores' way) — the same
answer (claimed, a replay left out, duplicate, chained) and the same receipts afterwards,
including a copy that races past the read while another holds its receipt uncommitted. The
read and the claim at the driver decide alike on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event, insert, select

from clinicsync.common.types import utcnow
from clinicsync.sync.ingest import push_hooks
from clinicsync.sync.ingest.push import Withdrawn
from clinicsync.sync.store.model.push_hooks import ALIASES, RECEIPTS
from clinicsync.sync.store.store import Store

KEEP = timedelta(minutes=10)
First = Callable[[Connection, str, str, str, str, timedelta], Collection[str] | None]


def _answer(store: Store, first: First, connector: str, digest: str, uid: str) -> Any:
    try:
        with store.engine.begin() as connection:
            left_out = first(connection, connector, "p", digest, uid, KEEP)
            return sorted(left_out) if left_out else "claimed"
    except Withdrawn as why:
        return why.args[0]


def _receipts(store: Store, connector: str) -> list[str]:
    with store.engine.connect() as connection:
        return sorted(
            row[0] for row in connection.execute(select(RECEIPTS.c.digest).where(RECEIPTS.c.connector == connector))
        )


def _scenario(store: Store, first: First, connector: str) -> list[Any]:
    with store.engine.begin() as connection:
        connection.execute(
            insert(ALIASES),
            [{"connector": connector, "alias": "u-later", "external_id": "u-first", "created_at": utcnow()}],
        )
        connection.execute(
            insert(RECEIPTS), [{"connector": connector, "digest": "old", "received_at": utcnow() - 2 * KEEP}]
        )
    answers = [
        _answer(store, first, connector, digest, uid)
        for digest, uid in [
            ("old", "u0"),  # an expired receipt not yet pruned: still a duplicate (and no prune)
            ("d1", "u1"),  # new: claimed, and this process's first prune of the source takes "old"
            ("d1", "u1"),  # the same body again: duplicate
            ("d2", "u-later"),  # a uid that is an alias: chained (and its receipt rolled back)
            ("d3", "u-first"),  # a uid a later booking stands for: chained
            ("old", "u4"),  # pruned: claimed again
            ("d5", "u5"),  # claimed
        ]
    ]
    return [*answers, _receipts(store, connector)]


EXPECTED = ["duplicate", "claimed", "duplicate", "chained", "chained", "claimed", "claimed", ["d1", "d5", "old"]]


@pytest.mark.mariadb
def test_the_read_then_the_claim_on_mariadb(mariadb_store: Store) -> None:
    """The two statements at the driver in MySQL's style (``INSERT IGNORE``, ``%(name)s``)."""
    assert _scenario(mariadb_store, push_hooks.read_then_claim, "cal") == EXPECTED


def test_the_read_then_the_claim(store: Store) -> None:
    assert _scenario(store, push_hooks.read_then_claim, "cal") == EXPECTED


def test_the_claim_then_the_read_decides_as_the_read_then_the_claim_on_sqlite(store: Store) -> None:
    """SQLite claims first (``claim_then_read``, under the push's write lock) and reads only when
    nothing was claimed: the same answers and receipts as the read then the claim."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("the claim first is SQLite's (under BEGIN IMMEDIATE)")
    two = _scenario(store, push_hooks.read_then_claim, "cal-two")
    one = _scenario(store, push_hooks.claim_then_read, "cal-one")
    assert two == EXPECTED
    assert one == two


def test_a_new_webhook_is_one_statement_on_sqlite(store: Store) -> None:
    """What a SQLite push runs for a webhook's first read and claim (``Unchained``): one statement
    for a new body, the read after it only for a duplicate or a chained uid (was two for every body)."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("the claim first is SQLite's")
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        statements.append(sql.split(None, 1)[0])

    with store.engine.begin() as connection:
        connection.execute(insert(ALIASES).values(connector="cal", alias="u-later", external_id="u-first",
                                                  created_at=utcnow()))
    push_hooks._pruned_at[(id(store.engine), "cal")] = time.monotonic()  # no prune due: the claim's own statements
    event.listen(store.engine, "before_cursor_execute", count)
    try:
        answers = []
        for digest, uid in [("d1", "u1"), ("d2", "u2"), ("d1", "u3"), ("d4", "u-later")]:
            before = len(statements)
            first = push_hooks.unchained("cal", "p", digest, uid, KEEP)
            answers.append((_answer(store, lambda c, *_: first(c), "cal", digest, uid), statements[before:]))
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert answers == [("claimed", ["INSERT"]), ("claimed", ["INSERT"]), ("duplicate", ["INSERT", "SELECT"]),
                       ("chained", ["INSERT", "SELECT"])]


@pytest.mark.postgres
def test_one_statement_decides_as_the_read_then_the_claim(store: Store) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the claim in the read is PostgreSQL's")
    two = _scenario(store, push_hooks.read_then_claim, "cal-two")
    one = _scenario(store, push_hooks.claimed_unchained, "cal-one")
    assert two == EXPECTED
    assert one == two


@pytest.mark.postgres
def test_a_copy_racing_past_the_read_is_left_out_as_before(store: Store) -> None:
    """Another copy's receipt is written but not committed when this one reads: the read does not
    see it, the claim waits for it and then conflicts, so the body is left out as a replay."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the claim in the read is PostgreSQL's")
    for first, connector in ((push_hooks.read_then_claim, "cal-two"), (push_hooks.claimed_unchained, "cal-one")):
        answers: list[Any] = []
        with store.engine.connect() as other:
            with other.begin():  # the racing copy, in the middle of its push
                other.execute(insert(RECEIPTS).values(connector=connector, digest="d", received_at=utcnow()))
                racing = threading.Thread(
                    target=lambda f=first, c=connector: answers.append(_answer(store, f, c, "d", "u"))
                )
                racing.start()
                time.sleep(0.5)
                assert racing.is_alive(), "the claim waits for the other copy's receipt"
            racing.join(timeout=30)
        assert answers == [["p"]], (connector, answers)
        assert _receipts(store, connector) == ["d"]
