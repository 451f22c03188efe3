"""A MariaDB store at head for each test without running the migrations per test.

Running every migration on a fresh MariaDB database cost seconds per test on a loaded 2-core
machine (each DDL statement commits on its own). A worker migrates one database once (the head
database) and each test's database gets its tables as the head database shows them
(``SHOW CREATE TABLE``: columns, keys, foreign keys, collations) and its rows (the
``alembic_version`` row). The migrations add no view, trigger or routine; ``copy_head`` refuses
a head database that holds one, so a migration that adds one fails here instead of being lost.
tests/test_mariadb_head.py proves a copy is what the migrations make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pymysql

from clinicsync.sync.store.db import make_engine, upgrade


@dataclass(frozen=True)
class HeadDatabase:
    """The worker's migrated database: its name, its tables' DDL and which tables hold rows."""

    name: str
    tables: tuple[tuple[str, str], ...]  # (table, CREATE TABLE statement)
    with_rows: tuple[str, ...]


def _connect(server: dict[str, Any], database: str) -> pymysql.Connection:  # type: ignore[type-arg]
    return pymysql.connect(host=server["host"], port=server["port"], user=server["user"],
                           password=server["password"], database=database, autocommit=True)


def make_head(server: dict[str, Any], name: str) -> HeadDatabase:
    """Create database ``name``, run every migration on it, and read back what a copy needs."""
    with _connect(server, server["database"]) as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    engine = make_engine(f"mysql+pymysql://{server['user']}@{server['host']}:{server['port']}/{name}?charset=utf8mb4")
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    with _connect(server, name) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW FULL TABLES")
        kinds = dict(cursor.fetchall())
        others = sorted(t for t, kind in kinds.items() if kind != "BASE TABLE")
        cursor.execute("SELECT count(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s", (name,))
        (triggers,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s", (name,))
        (routines,) = cursor.fetchone()
        if others or triggers or routines:
            raise RuntimeError(f"the head database holds views {others}, {triggers} triggers, {routines} routines: "
                               "tests/mariadb_head.py copies tables only; teach it to copy these")
        tables, with_rows = [], []
        for table in sorted(kinds):
            cursor.execute(f"SHOW CREATE TABLE `{table}`")
            tables.append((table, cursor.fetchone()[1]))
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM `{table}`)")
            if cursor.fetchone()[0]:
                with_rows.append(table)
    return HeadDatabase(name, tuple(tables), tuple(with_rows))


def copy_head(head: HeadDatabase, server: dict[str, Any], target: str) -> None:
    """Give the empty database ``target`` the head database's tables and rows (foreign keys
    checked again once every table is there)."""
    with _connect(server, target) as connection, connection.cursor() as cursor:
        cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
        for _, ddl in head.tables:
            cursor.execute(ddl)
        for table in head.with_rows:
            cursor.execute(f"INSERT INTO `{table}` SELECT * FROM `{head.name}`.`{table}`")
        cursor.execute("SET FOREIGN_KEY_CHECKS = 1")


def drop(server: dict[str, Any], name: str) -> None:
    with _connect(server, server["database"]) as admin, admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
