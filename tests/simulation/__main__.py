"""The soak: ``uv run --frozen python -m tests.simulation`` runs each seed of
CLINICSYNC_SIM_SEEDS (default 1-5) for CLINICSYNC_SIM_DAYS (default 365) with
CLINICSYNC_SIM_FAULTS (comma-separated fault names, ``none``, or ``combinable``, the
default; ``combinable,late_commit`` adds a fault to the set) on CLINICSYNC_SIM_STORE (a
store URL; default a SQLite file in a temporary folder), prints each verdict, and exits 1
if any failed. A failure's report ends with the line that replays it.

Each seed needs a store of its own: a second seed on the first one's store would find its
appointments and calendars and report them as strays. So a PostgreSQL URL names the database
in which each seed gets a fresh schema (dropped after a pass, kept and named after a failure,
for a look); any other URL must point at an empty store."""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.simulation.faults import COMBINABLE, POSTGRESQL_ONLY, Fault
from tests.simulation.run import simulate
from tests.simulation.scenario import generate


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    return out


def _faults(text: str) -> frozenset[Fault]:
    """Fault names, ``none``, and ``combinable`` (the combinable set), comma-separated."""
    names = {name.strip() for name in text.split(",")} - {"", "none"}
    return frozenset(COMBINABLE if "combinable" in names else ()) | {Fault(n) for n in names - {"combinable"}}


def _ddl(store: str, statement: str) -> None:
    """``statement`` in the PostgreSQL database of ``store``, outside any schema it names."""
    admin = create_engine(make_url(store).set(query={}), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def _schema_of_its_own(store: str, seed: int) -> tuple[str, str]:
    """A fresh schema in ``store``'s PostgreSQL database: (its store URL, its name)."""
    schema = f"sim_{seed}_{uuid.uuid4().hex[:8]}"
    _ddl(store, f'CREATE SCHEMA "{schema}"')
    url = make_url(store).set(query={"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def _refuse_a_used_store(store: str) -> None:
    """A store that holds tables already would blur one seed's verdict with another run's data."""
    engine = create_engine(store)
    try:
        tables = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise SystemExit(f"CLINICSYNC_SIM_STORE holds {len(tables)} tables already: each seed needs an empty "
                         "store (a PostgreSQL URL gives each seed a schema of its own)")


def main() -> int:
    seeds = _seeds(os.environ.get("CLINICSYNC_SIM_SEEDS", "1-5"))
    days = int(os.environ.get("CLINICSYNC_SIM_DAYS", "365"))
    faults = _faults(os.environ.get("CLINICSYNC_SIM_FAULTS", "combinable"))
    store = os.environ.get("CLINICSYNC_SIM_STORE")
    if faults & POSTGRESQL_ONLY and (not store or make_url(store).get_backend_name() != "postgresql"):
        names = ", ".join(sorted(faults & POSTGRESQL_ONLY))
        raise SystemExit(f"CLINICSYNC_SIM_FAULTS has {names}, which needs a PostgreSQL store: set CLINICSYNC_SIM_STORE "
                         "to a PostgreSQL URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    failed = 0
    for seed in seeds:
        began = time.perf_counter()
        schema = None
        with tempfile.TemporaryDirectory(prefix=f"sim-{seed}-") as folder:
            url = f"sqlite:///{folder}/store.db"
            if store and make_url(store).get_backend_name() == "postgresql":
                url, schema = _schema_of_its_own(store, seed)
            elif store:
                _refuse_a_used_store(store)
                url = store
            verdict = simulate(generate(seed, days, faults), url, Path(folder))
        if schema and verdict.ok:
            _ddl(store or "", f'DROP SCHEMA "{schema}" CASCADE')
        elif schema:
            print(f"     kept PostgreSQL schema {schema} for a look (DROP SCHEMA {schema} CASCADE when done)")
        failed += not verdict.ok
        print(verdict.report() if not verdict.ok else
              f"ok   {verdict.scenario.describe()}: {verdict.expected} messages as expected, "
              f"calendars right at {verdict.calendar_checks} checks", flush=True)
        for note in (n for n in verdict.notes if n.startswith(("desk:", "waitlist")) and verdict.ok):
            print(f"     {note}", flush=True)  # what the desk's and the waiting list's actors came to, and the oracle
        print(f"     {time.perf_counter() - began:.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
