"""A push's transaction on PostgreSQL keeps the generic plans of its prepared statements
(sync/store/db.py ``push_plans``: ``plan_cache_mode = auto`` for the transaction), so a plan cached on a
pooled connection must stay what a plan for the values would be as the tables change under it:
no table scan when another source holds most rows (``enable_seqscan = off``), planned again when
a table grew after the plan was made while it was small (``DISCARD PLANS`` once the connection's
plans are PLAN_LIFETIME_SECONDS old), and when the push source's growth analyzes the tables its
read probes (an ANALYZE re-plans the statements that read the table). Each test fails without its
guard. Everything else (a first import above all) still plans each statement for its values."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Connection, text

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest import push
from clinicsync.sync.ingest.push import PushReceiver
from clinicsync.sync.store import db
from clinicsync.sync.store.db import PUSH_PLANS, begin_first
from clinicsync.sync.store.store import BatchOptions, Store
from tests.sync.test_push_statistics import booking
from tests.sync.test_push_statistics import settings as settings  # fixture: two REST sources, one key

pytestmark = pytest.mark.parametrize("store_url", [pytest.param("postgres", marks=pytest.mark.postgres)],
                                     indirect=True)
GROWN = 100_000  # rows another writer adds to a table the push reads


def push_new(receiver: PushReceiver, prefix: str, count: int) -> None:
    for number in range(count):
        assert receiver.receive(booking(f"{prefix}-{number}"), "test", quarantine_bad=False).outcome == "created"


def one_read(connection: Connection) -> tuple[str, str, int]:
    """The push's one read as psycopg prepared it on this connection: (name, text, generic plans)."""
    rows = connection.execute(text("SELECT name, statement, generic_plans FROM pg_prepared_statements "
                                   "WHERE statement LIKE '%appointment_source_fingerprint%'")).all()
    assert len(rows) == 1, rows
    return str(rows[0][0]), str(rows[0][1]), int(rows[0][2])


def explained(connection: Connection, name: str, statement: str) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the prepared read as a push runs it (its PUSH_PLANS, in its own
    transaction): the plan cached on this connection, for a new appointment of ``website``."""
    count = max(int(number) for number in re.findall(r"\$(\d+)", statement))
    connector = {int(number) for number in re.findall(r"connector = \$(\d+)", statement)}
    values = ", ".join("'website'" if number in connector else f"'none-{number}'" for number in range(1, count + 1))
    with connection.begin():
        connection.exec_driver_sql(PUSH_PLANS)
        lines = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) EXECUTE {name}({values})").all()
    return "\n".join(str(line[0]) for line in lines)


def buffers(plan: str) -> int:
    """Shared buffers the statement touched (hit and read), from the plan's top line's Buffers."""
    found = re.search(r"Buffers: shared( hit=(\d+))?( read=(\d+))?", plan)
    assert found is not None, plan
    return int(found.group(2) or 0) + int(found.group(4) or 0)


def cache_plans(store: Store, receiver: PushReceiver) -> int:
    """Pushes enough for psycopg to prepare the one read (its 5th run) and PostgreSQL to cache a
    generic plan of it (after 5 custom ones), on the pool's one connection; returns its generic
    plans so far. Fewer than ANALYZE_FIRST: no statistics refresh of the push's re-plans it."""
    push_new(receiver, "W", 12)
    assert push.ANALYZE_FIRST > 12
    with store.engine.connect() as connection:
        _name, _statement, generic = one_read(connection)
        connection.commit()  # not a rollback: psycopg deallocates its prepared statements at one
    assert generic > 0
    return generic


def plan_now(store: Store, generic: int) -> str:
    """The one read's plan as the pushes now run it (still a cached generic plan) and its buffers."""
    with store.engine.connect() as connection:
        name, statement, after = one_read(connection)
        connection.commit()
        assert after > generic  # the pushes since ran a generic plan too
        plan = explained(connection, name, statement)
    assert "Seq Scan" not in plan, plan
    return plan


def cached_while_empty(settings: Settings, store: Store) -> tuple[PushReceiver, int]:
    """Every table analyzed while empty, as a DBA's VACUUM ANALYZE (or the push's own first ANALYZE,
    of the tables it has not written yet) leaves them, so the planner knows them as empty; then the
    first source's read cached as a generic plan (cache_plans). Returns its receiver and that count."""
    with store.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    website = PushReceiver(settings, store, settings.connectors[0])
    return website, cache_plans(store, website)


def another_writer(store: Store, sql: str) -> None:
    """Rows another process writes (a poll): nothing of this process counts or analyzes them."""
    with store.engine.begin() as connection:
        connection.exec_driver_sql(sql)


def test_a_plan_cached_while_the_source_was_small_is_planned_again_once_it_is_large(
        settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "PLAN_LIFETIME_SECONDS", 3600.0)
    website, generic = cached_while_empty(settings, store)
    another_writer(store, "INSERT INTO appointment (connector, external_id, status, start_utc, end_utc, timezone, "
                   "practitioner_ref, content_hash, version, created_at, updated_at) SELECT 'website', 'A-' || n, "
                   "'booked', now(), now(), 'UTC', 'D-1', 'hash', 1, now(), now() "
                   f"FROM generate_series(1, {GROWN}) AS n")
    monkeypatch.setattr(db, "PLAN_LIFETIME_SECONDS", 0.0)  # the connection's plans are now due
    push_new(website, "W-after", 3)
    # By the source's unique key, a few pages: the plan chosen while it was small walked another
    # index of (connector, ...), every one of the source's rows, four times.
    assert buffers(plan_now(store, generic)) < 100


def test_a_push_source_that_grows_analyzes_the_quarantine_its_read_probes(
        settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "PLAN_LIFETIME_SECONDS", 3600.0)  # only the push's ANALYZE re-plans here
    website, generic = cached_while_empty(settings, store)
    another_writer(store, "INSERT INTO quarantine (run_id, connector, position, record_id, reason, item_key, status, "
                   "seen_count, created_at, last_seen) SELECT 'run', 'website', 'row ' || n, 'Q-' || n, 'bad', "
                   "'item-' || n, CASE WHEN mod(n, 2) = 0 THEN 'open' ELSE 'resolved' END, 1, now(), now() "
                   f"FROM generate_series(1, {GROWN}) AS n")
    push_new(website, "W-after", push.ANALYZE_FIRST - 12)  # the source's 32nd: its tables analyzed
    # The record's own items by (connector, status, record_id): with an empty table's statistics the
    # plan (for the values too) read every item of the source by (connector, status) instead.
    assert buffers(plan_now(store, generic)) < 100


def test_another_sources_rows_do_not_make_the_plan_a_table_scan(settings: Settings, store: Store,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "PLAN_LIFETIME_SECONDS", 3600.0)
    another_writer(store, "INSERT INTO tombstone (connector, external_id, deleted_at, recorded_at) "
                   f"SELECT 'kiosk', 'K-' || n, now(), now() FROM generate_series(1, {GROWN}) AS n")
    with store.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE tombstone")  # the statistics say: all of them are kiosk's
    website = PushReceiver(settings, store, settings.connectors[0])
    generic = cache_plans(store, website)
    push_new(website, "W-after", 2)
    # "Has website any tombstone" by tombstone's key: a plan made without the value scanned them all.
    assert buffers(plan_now(store, generic)) < 100


def _settings_in(connection: Connection) -> tuple[str, str]:
    row = connection.exec_driver_sql("SELECT current_setting('plan_cache_mode'), current_setting('enable_seqscan')")
    return tuple(row.one())  # type: ignore[return-value]


def test_only_a_push_keeps_plans_and_the_import_plans_each_statement(settings: Settings, store: Store) -> None:
    seen: list[tuple[str, str]] = []

    def within(connection: Connection) -> None:
        seen.append(_settings_in(connection))

    website = PushReceiver(settings, store, settings.connectors[0])
    assert website.receive(booking("W-1"), "test", quarantine_bad=False, within=within).outcome == "created"
    # A batch (a poll, a first import) on the same pooled connection, after the push committed.
    store.apply_batch("kiosk", "import-run", [], [], None, BatchOptions(within=within))
    with store.engine.connect() as connection:
        seen.append(_settings_in(connection))
    assert seen == [("auto", "off"), ("force_custom_plan", "on"), ("force_custom_plan", "on")]


def test_a_failed_push_leaves_the_connection_planning_each_statement(settings: Settings, store: Store) -> None:
    def within(connection: Connection) -> Any:
        assert _settings_in(connection) == ("auto", "off")
        raise RuntimeError("the push fails after its turn")

    website = PushReceiver(settings, store, settings.connectors[0])
    with pytest.raises(RuntimeError):
        website.receive(booking("W-1"), "test", quarantine_bad=False, within=within)
    with store.engine.connect() as connection:
        assert _settings_in(connection) == ("force_custom_plan", "on")


def test_a_transaction_begun_elsewhere_is_left_as_it_is(store: Store) -> None:
    """A push inside a transaction it did not begin (a dry run's one) does not change its plans."""
    with store.engine.begin() as connection:
        connection.exec_driver_sql("SELECT 1")  # psycopg's BEGIN: the transaction is not the push's
        begin_first(connection, "SELECT 2", cached_plans=True).close()
        assert _settings_in(connection) == ("force_custom_plan", "on")
