"""The harness's PostgreSQL schema pool (tests/pg_schemas.py): a schema handed on to the next
test is what a fresh replay of the head script makes, catalog and data alike, and a schema a
test altered or analyzed is never handed on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.conftest import POSTGRES_URL, SCHEMA_MARK, postgres_schema
from tests.pg_schemas import SchemaPool

pytestmark = pytest.mark.postgres

# What the planner and a test can see of a schema, besides its rows: every relation with its
# kind, pages and tuples as pg_class holds them, and each sequence's next value.
_STATE = """
SELECT c.relname, c.relkind, c.relpages, c.reltuples, pg_relation_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s ORDER BY c.relname
"""


def _state(schema: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(POSTGRES_URL) as connection:
        rows = connection.execute(_STATE, (schema,)).fetchall()
        sequences = [name for name, kind, *_ in rows if kind == "S"]
        values = [connection.execute(f'SELECT last_value, is_called FROM "{schema}"."{name}"').fetchone()
                  for name in sequences]
        counts = [connection.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()
                  for name, kind, *_ in rows if kind == "r"]
    return [*rows, *values, *counts]


@pytest.fixture
def pool(postgres_head_script: str | None) -> Iterator[tuple[SchemaPool, str]]:
    if postgres_head_script is None:
        pytest.skip("pg_dump is not installed: the suite replays no head script, so it pools nothing")
    pool = SchemaPool(POSTGRES_URL)
    pool.learn(postgres_head_script, SCHEMA_MARK)
    try:
        yield pool, postgres_head_script
    finally:
        pool.drain()


def _at_head(pool: SchemaPool, script: str, schema: str) -> None:
    """What tests/conftest.py ``migrate`` does for a fresh schema."""
    if not pool.take(schema):
        with psycopg.connect(POSTGRES_URL) as connection:
            connection.execute(script.replace(SCHEMA_MARK, f"{schema}."))
        pool.made(schema)


def _write(schema: str) -> None:
    """A test's rows: a source's run, an appointment of a new patient (sequences move on)."""
    with psycopg.connect(POSTGRES_URL) as connection:
        connection.execute(f'SET search_path = "{schema}"')
        connection.execute("INSERT INTO patient (connector, external_id, allow_sms, allow_email, content_hash, "
                           "updated_at) VALUES ('csv', 'P1', true, true, 'h', now())")
        connection.execute("INSERT INTO syncrun (run_id, connector, status, counts, started_at) "
                           "VALUES ('r1', 'csv', 'ok', '{}', now())")


def test_a_schema_handed_on_is_exactly_a_fresh_one(pool: tuple[SchemaPool, str]) -> None:
    pool_, script = pool
    with postgres_schema() as url:
        fresh = url.rsplit("search_path%3D", 1)[1]
        with psycopg.connect(POSTGRES_URL) as connection:
            connection.execute(script.replace(SCHEMA_MARK, f"{fresh}."))
        made = _state(fresh)
    with postgres_schema() as url:
        first = url.rsplit("search_path%3D", 1)[1]
        _at_head(pool_, script, first)
        _write(first)
        assert _state(first) != made  # the rows, their pages and the sequences moved
        pool_.release(first)
        pool_.settle()  # emptied on the pool's thread
        assert len(pool_.free) == 1
    with postgres_schema() as url:
        second = url.rsplit("search_path%3D", 1)[1]
        _at_head(pool_, script, second)
        assert not pool_.free  # the pooled schema, renamed to this test's
        assert _state(second) == made


@pytest.mark.parametrize("change", ["ALTER TABLE patient ADD COLUMN extra text", "ANALYZE patient",
                                    "CREATE INDEX ix_extra ON patient (name)", "TRUNCATE patient"])
def test_a_schema_a_test_altered_or_analyzed_is_dropped(pool: tuple[SchemaPool, str], change: str) -> None:
    pool_, script = pool
    with postgres_schema() as url:
        schema = url.rsplit("search_path%3D", 1)[1]
        _at_head(pool_, script, schema)
        _write(schema)
        with psycopg.connect(POSTGRES_URL) as connection:
            connection.execute(f'SET search_path = "{schema}"')
            connection.execute(change)
        pool_.release(schema)
        pool_.settle()
        assert not pool_.free


def test_a_schema_still_locked_by_a_connection_is_not_handed_on(pool: tuple[SchemaPool, str]) -> None:
    """A connection the test left in a transaction holds a lock on the schema: not recycled then
    (its rows could still change); the lock gone, the same schema is."""
    pool_, script = pool
    with postgres_schema() as url:
        schema = url.rsplit("search_path%3D", 1)[1]
        _at_head(pool_, script, schema)
        signature = pool_.held[schema]
        with psycopg.connect(POSTGRES_URL) as leaked:
            leaked.execute(f'SELECT count(*) FROM "{schema}".patient')
            assert not pool_._recycle(schema, signature)  # the decision itself
        pool_.release(schema)
        pool_.settle()
        assert len(pool_.free) == 1
