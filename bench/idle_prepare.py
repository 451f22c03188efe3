"""Prepare the folders that bench/idle_once.py measures, for this tree or an exported
one, so the figure in docs/performance.md can be measured again on any machine.

    python -m bench.idle_prepare DIR [--case demo|sql] [--tree TREE]

``demo``: the repository's sample (settings.yaml, examples/), `demo reset`, then two `sync
--once` (the second already idle). ``sql``: one SQL source reading a
PostgreSQL table of 500 visits with an updated-at column (bench/many_sources.py's table and
query, schema ``idle60_<DIR's name>``, recreated), a SQLite store, the dry-run outbox and no
calendar, `db upgrade` and two `sync --once`. ``--tree``: an export of another commit (`git
archive`), run with PYTHONPATH=TREE, whose settings and sample are used; without it, this
checkout. The idle_once run then compares: ``python -m bench.idle_once DIR --before TREE=DIR2``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg

from bench.many_sources import SQL_MAPPING, ZONE, Source, create_sql_tables, source_query

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("CLINICSYNC_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _clinicsync(tree: Path | None, folder: Path, *args: str) -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    subprocess.run([sys.executable, "-m", "clinicsync", *args], cwd=folder, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def prepare_demo(folder: Path, tree: Path | None) -> None:
    source = tree or ROOT
    shutil.copy(source / "settings.yaml", folder / "settings.yaml")
    shutil.copytree(source / "examples", folder / "examples")
    _clinicsync(tree, folder, "demo", "reset")


def prepare_sql(folder: Path, tree: Path | None) -> None:
    schema = f"idle60_{folder.name}".replace("-", "_").lower()
    with psycopg.connect(PG, autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    create_sql_tables(PG, schema, [Source("sql0000", "sql", 0)], 500)
    (folder / "sql_mapping.yaml").write_text(SQL_MAPPING, encoding="utf-8")
    url = PG.replace("postgresql://", "postgresql+psycopg://", 1)
    query = source_query(f"{schema}.t0000")
    (folder / "settings.yaml").write_text(
        f"clinic: {{name: Idle Bench, timezone: {ZONE}, default_region: US}}\n"
        f"store: {{url: 'sqlite:///{folder / 'store.db'}'}}\n"
        f"notifiers:\n  - {{name: outbox, kind: outbox, directory: {folder / 'outbox'}}}\n"
        f"connectors:\n  - {{name: sql0000, kind: sql, url: '{url}', query: '{query}', "
        f"mapping: {folder / 'sql_mapping.yaml'}, cursor_column: updated_at, timezone: {ZONE}}}\n",
        encoding="utf-8")
    _clinicsync(tree, folder, "db", "upgrade")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--case", choices=("demo", "sql"), default="demo")
    parser.add_argument("--tree", type=Path, help="an exported tree of another commit (git archive)")
    args = parser.parse_args()
    folder, tree = args.folder.resolve(), args.tree.resolve() if args.tree else None
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (prepare_demo if args.case == "demo" else prepare_sql)(folder, tree)
    for _ in range(2):  # the first stores everything, the second is the first idle run
        _clinicsync(tree, folder, "sync", "--once")
    print(f"{folder}: {args.case} ready; measure with python -m bench.idle_once {folder}")


if __name__ == "__main__":
    main()
