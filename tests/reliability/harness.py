"""What the crash and fault tests share: a large generated CSV drop, `clinicsync`
subprocesses, and a probe that reads the store to find kill points and check invariants."""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml
from sqlalchemy import Engine, text

from clinicsync.sync.cli.demo import COLUMNS
from clinicsync.sync.store.db import make_engine

CLINICSYNC = Path(sys.executable).parent / "clinicsync"
WAIT_LIMIT = 240.0  # a hang guard only: no assertion depends on how fast anything is


def soak_after_first(seeds: list[int]) -> list[Any]:
    """Seeds of a kill test as parameters: the first runs in the main suite (the crash path
    stays proven on every run), the others under the ``soak`` marker (``pytest -m soak``)."""
    import pytest

    return [seed if n == 0 else pytest.param(seed, marks=pytest.mark.soak) for n, seed in enumerate(seeds)]


def child_env() -> dict[str, str]:
    """The environment of a `clinicsync` child. Bytecode caching stays on so that each
    child does not recompile every module it imports."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("CLINICSYNC_CONFIG", None)
    return env


@dataclass(frozen=True)
class Drop:
    """A generated export: which rows are valid, which must be quarantined."""

    path: Path
    ids: list[str]
    bad: frozenset[int]  # 0-based data-row indexes that fail mapping
    digest: str

    @property
    def valid_ids(self) -> set[str]:
        return {i for n, i in enumerate(self.ids) if n not in self.bad}

    def stored_through(self, rows: int) -> set[str]:
        return {i for n, i in enumerate(self.ids[:rows]) if n not in self.bad}

    def bad_positions_through(self, rows: int) -> set[str]:
        return {f"{self.path.name}:{n + 2}" for n in self.bad if n < rows}  # line 1 is the header


def write_drop(folder: Path, name: str, rows: int, prefix: str, bad_every: int = 97) -> Drop:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    ids, bad = [], set()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for n in range(rows):
            ident = f"{prefix}{n:06d}"
            day, slot = divmod(n, 40)
            row = {c: "" for c in COLUMNS}
            row.update({
                "appointment_id": ident,
                "start": f"2031-{1 + day // 28 % 12:02d}-{1 + day % 28:02d} {8 + slot // 4:02d}:{slot % 4 * 15:02d}",
                "duration_minutes": "15", "status": "booked", "type": "Follow-up",
                "patient_id": f"P{n % 500:04d}", "patient_name": f"Patient {n % 500}",
                "patient_phone": f"+1212555{n % 500:04d}", "doctor_id": f"D{n % 7}",
                "doctor_name": f"Doctor {n % 7}", "doctor_email": f"doctor{n % 7}@clinic.example.org",
                "location": "Main",
            })
            if n % bad_every == bad_every - 1:
                row["start"] = "not a date"
                bad.add(n)
            writer.writerow(row)
            ids.append(ident)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Drop(path, ids, frozenset(bad), digest)


def write_settings(folder: Path, store_url: str, connectors: list[dict[str, Any]]) -> Path:
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump({
        "clinic": {"timezone": "America/New_York", "default_region": "US"},
        "store": {"url": store_url},
        "logging": {"level": "info", "format": "json"},
        "connectors": [{"kind": "csv", "mapping": "csv_default", "settle_seconds": 0, **c} for c in connectors],
    }), encoding="utf-8")
    return path


class Child:
    """One `clinicsync` process, its output in files (a full pipe must never block it)."""

    def __init__(self, config: Path, *args: str, tag: str = "run") -> None:
        folder = config.parent
        self.stdout_path = folder / f"{tag}.{time.monotonic_ns()}.out"
        self.stderr_path = self.stdout_path.with_suffix(".err")
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen([str(CLINICSYNC), "--config", str(config), *args],
                                            stdout=out, stderr=err, env=child_env(), cwd=folder)

    def running(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no handler, no cleanup, like a crash or an OOM kill
        self.process.wait()

    def wait(self, limit: float = WAIT_LIMIT) -> int:
        return self.process.wait(timeout=limit)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def report(self) -> dict[str, Any]:
        return dict(orjson.loads(self.stdout))


def wait_for(condition: Callable[[], bool], child: Child | None = None, step: float = 0.01) -> bool:
    """Poll ``condition`` until it holds (True) or the child exits first (False)."""
    deadline = time.monotonic() + WAIT_LIMIT
    while time.monotonic() < deadline:
        if condition():
            return True
        if child is not None and not child.running():
            return condition()
        time.sleep(step)
    raise AssertionError(f"nothing happened within {WAIT_LIMIT} s (hang guard)")


class Probe:
    """Reads the store as the invariants see it."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url, pool_size=1)

    def close(self) -> None:
        self.engine.dispose()

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(text(sql), params).all())

    def count(self, connector: str) -> int:
        return int(self.scalar("SELECT count(*) FROM appointment WHERE connector = :c", c=connector))

    def ids(self, connector: str) -> list[str]:
        return [r[0] for r in self.rows("SELECT external_id FROM appointment WHERE connector = :c", c=connector)]

    def cursor(self, connector: str) -> dict[str, Any] | None:
        value = self.scalar("SELECT cursor FROM connectorstate WHERE connector = :c", c=connector)
        return None if value is None else dict(orjson.loads(value))

    def quarantine(self, connector: str) -> list[tuple[str, str, str]]:
        return [(r[0], r[1], r[2]) for r in self.rows(
            "SELECT run_id, position, reason FROM quarantine WHERE connector = :c", c=connector)]

    def running_runs(self, connector: str) -> int:
        return int(self.scalar("SELECT count(*) FROM syncrun WHERE connector = :c AND status = 'running'",
                               c=connector))

    def events(self, connector: str) -> list[tuple[int, str, int]]:
        return [(r[0], r[1], r[2]) for r in self.rows(
            "SELECT e.appointment_id, e.kind, e.version FROM event e JOIN appointment a ON a.id = e.appointment_id "
            "WHERE a.connector = :c", c=connector)]


def rows_stored(drop: Drop, cursor: dict[str, Any] | None) -> int:
    """How many data rows of ``drop`` the cursor says are stored."""
    if cursor is None:
        return 0
    if drop.digest in cursor.get("done", {}):
        return len(drop.ids)
    current = cursor.get("current") or {}
    return int(current.get("rows", 0)) if current.get("hash") == drop.digest else 0


def assert_consistent(probe: Probe, connector: str, drop: Drop) -> int:
    """The delta-mode invariants at any moment, even right after a kill -9:
    the stored data is exactly the rows the cursor covers (a cursor never runs ahead of
    its data, and no batch is half-written), each appointment and each bad row is there
    once, and each appointment has exactly one `created` event. Returns the rows stored."""
    rows = rows_stored(drop, probe.cursor(connector))
    ids = probe.ids(connector)
    assert len(ids) == len(set(ids)), "an appointment is stored twice"
    assert set(ids) == drop.stored_through(rows), "stored appointments differ from what the cursor covers"
    positions = [position for _run, position, _reason in probe.quarantine(connector)]
    assert len(positions) == len(set(positions)), "a bad row was quarantined twice"
    assert set(positions) == drop.bad_positions_through(rows), "quarantine differs from what the cursor covers"
    events = probe.events(connector)
    assert len({(a, v) for a, _k, v in events}) == len(events), "an event is duplicated"
    assert sorted(a for a, kind, _v in events if kind == "created") == sorted(
        r[0] for r in probe.rows("SELECT id FROM appointment WHERE connector = :c", c=connector))
    return rows
