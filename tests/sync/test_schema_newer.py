"""A worker of an older release meets a store a newer release migrated: a cron job
forgotten on another host, still on the previous version, after `clinicsync db upgrade` ran with
the new one. On main it read "the database schema is not current: run `clinicsync db upgrade`"
on PostgreSQL (and that `db upgrade` then failed inside alembic: it cannot locate the revision),
and on SQLite, which migrates by itself, alembic's own error. Now every command refuses with
both revisions and the fix (exit 2, as every StoreNotReady), and nothing migrates the store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from clinicsync.sync.store.db import (
    HEAD_REVISION,
    StoreNotReady,
    alembic_config,
    current_revision,
    ensure_schema,
    known_revisions,
    make_engine,
)


@pytest.fixture
def stamped(write_settings: Callable[..., Path], store_url: str) -> Iterator[Callable[[str], tuple[Path, Engine]]]:
    """A real store at head whose alembic_version then says ``revision``; put back at the end
    (a PostgreSQL schema may be handed to a later test)."""
    path = write_settings()
    engine = make_engine(store_url)
    ensure_schema(engine)  # SQLite: migrated here; PostgreSQL: write_settings did

    def stamp(revision: str) -> tuple[Path, Engine]:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
        return path, engine

    yield stamp
    stamp(HEAD_REVISION)
    engine.dispose()


def tables(engine: Engine) -> int:
    with engine.connect() as connection:
        return len(engine.dialect.get_table_names(connection))


def test_the_revisions_known_are_alembics() -> None:
    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    assert known_revisions() == {r.revision for r in script.walk_revisions()}
    assert HEAD_REVISION in known_revisions()


@pytest.mark.parametrize("revision", ["0099", "9a1f3c2b7e4d"])
def test_a_store_newer_than_this_release_is_refused_by_every_command_and_never_migrated(
        stamped: Callable[[str], tuple[Path, Engine]], cli: Any, revision: str) -> None:
    path, engine = stamped(revision)
    before = tables(engine)
    with pytest.raises(StoreNotReady) as refused:
        ensure_schema(engine)
    message = str(refused.value)
    assert f"schema revision {revision}" in message and HEAD_REVISION in message
    assert "Upgrade clinicsync where this runs" in message and "never migrate the store down" in message
    if revision.isdigit():
        assert f"newer than this clinicsync's {HEAD_REVISION}" in message and "runs an older one" in message
    else:
        assert "does not know" in message
    for command in (("status",), ("sync", "--once"), ("db", "upgrade")):
        code, _out, err = cli(path)(*command, expect=None)
        assert code == 2, (command, code, err)
        assert f"schema revision {revision}" in err and "not current" not in err, command
    assert current_revision(engine) == revision and tables(engine) == before  # nothing migrated, up or down


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)  # SQLite migrates on its own, as always
def test_a_store_behind_this_release_on_postgresql_names_both_revisions(
        stamped: Callable[[str], tuple[Path, Engine]], cli: Any) -> None:
    path, _engine = stamped("0036")
    _, _, err = cli(path)("status", expect=2)
    assert f"at revision 0036, older than this clinicsync's {HEAD_REVISION}: run `clinicsync db upgrade`" in err
