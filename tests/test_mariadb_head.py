"""The harness's MariaDB store at head (tests/mariadb_head.py): a test's database copied from
the worker's migrated one is what running every migration on a fresh database makes, table by
table (columns, keys, foreign keys, options) and row by row."""

from __future__ import annotations

import uuid
from typing import Any

import pymysql
import pytest

from clinicsync.sync.store.db import make_engine, upgrade
from tests.conftest import MARIADB
from tests.mariadb_head import HeadDatabase, copy_head, drop

pytestmark = pytest.mark.mariadb


def _state(database: str) -> list[tuple[str, str, list[tuple[Any, ...]]]]:
    connection = pymysql.connect(**{**MARIADB, "database": database}, autocommit=True)  # type: ignore[arg-type]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW FULL TABLES")
            tables = sorted(cursor.fetchall())
            out = []
            for table, _kind in tables:
                cursor.execute(f"SHOW CREATE TABLE `{table}`")
                ddl = cursor.fetchone()[1]
                cursor.execute(f"SELECT * FROM `{table}`")
                out.append((table, ddl, sorted(cursor.fetchall())))
            return out
    finally:
        connection.close()


def test_a_copy_of_the_head_database_is_a_migrated_database(mariadb_head: HeadDatabase) -> None:
    migrated, copied = f"t_{uuid.uuid4().hex[:12]}", f"t_{uuid.uuid4().hex[:12]}"
    admin = pymysql.connect(**MARIADB, autocommit=True)  # type: ignore[arg-type]
    try:
        with admin.cursor() as cursor:
            for name in (migrated, copied):
                cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        engine = make_engine(f"mysql+pymysql://root@127.0.0.1:3306/{migrated}?charset=utf8mb4")
        upgrade(engine)
        engine.dispose()
        copy_head(mariadb_head, MARIADB, copied)
        want, got = _state(migrated), _state(copied)
        assert len(want) > 20 and any(rows for _, _, rows in want)  # the store's tables, alembic's row
        assert any("FOREIGN KEY" in ddl for _, ddl, _ in want)
        assert [t for t, _, _ in got] == [t for t, _, _ in want]
        for (table, ddl, rows), (_, ddl_copy, rows_copy) in zip(want, got, strict=True):
            assert ddl_copy == ddl, table
            assert rows_copy == rows, table
    finally:
        admin.close()
        for name in (migrated, copied):
            drop(MARIADB, name)
