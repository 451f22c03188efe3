"""Fixtures the discover tests share."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database (dropped afterwards) whose ``public`` holds only an unrelated
    table: for tests of where discover looks for the tables (schemas, search path)."""
    name = f"cs_schema_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE TABLE public.app_settings (key text PRIMARY KEY, value text)")
    try:
        yield url
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
