"""Fixtures the discover tests share."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL

# What each test's database holds at its start: a ``public`` as a new database has it (owned by
# pg_database_owner, usable by all) with one unrelated table in it, and no other schema.
_FRESH_PUBLIC = """
CREATE SCHEMA public AUTHORIZATION pg_database_owner;
GRANT USAGE ON SCHEMA public TO PUBLIC;
CREATE TABLE public.app_settings (key text PRIMARY KEY, value text);
"""
# Every schema a test may have made (the server's own excepted), public included.
_MADE_SCHEMAS = """
SELECT quote_ident(nspname) FROM pg_namespace
WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
"""


@pytest.fixture(scope="session")
def _schemas_database() -> Iterator[str]:
    """One PostgreSQL database per worker for the ``database`` tests, dropped with the session.

    A database of each test's own cost a CREATE DATABASE and a DROP DATABASE a test, and the
    drop makes the server write a checkpoint (up to 6.6 s of one test's teardown at load ~10,
    and every other test on the server waited on the disk meanwhile); emptying the schemas is
    a few catalog rows."""
    name = f"cs_schema_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def database(_schemas_database: str) -> Iterator[str]:
    """A PostgreSQL database whose ``public`` holds only an unrelated table and which has no
    other schema: for tests of where discover looks for the tables (schemas, search path).
    The worker's database, emptied before each test: every schema in it dropped (the
    connections a test left open ended first, as DROP DATABASE … WITH (FORCE) did) and public
    made again as a new database has it."""
    url = _schemas_database
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        schemas = [row[0] for row in connection.execute(_MADE_SCHEMAS)]
        connection.execute("; ".join(f"DROP SCHEMA {schema} CASCADE" for schema in schemas) + ";" + _FRESH_PUBLIC)
    yield url
