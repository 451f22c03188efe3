"""A store the size of issue 31's import (50,000 appointments, 1,168 open quarantine items,
12,000 reminders, 250 set-aside items), built once per session (per worker) through the store's own bulk
path and plain multi-row INSERTs: no 50,000 API calls, a couple of seconds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import structlog
from sqlalchemy import insert
from typer.testing import CliRunner

from clinicsync.sync.cli import app
from clinicsync.sync.store import bulk
from clinicsync.sync.store.db import make_engine, upgrade
from clinicsync.sync.store.model import Appointment, Quarantine
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.setaside import SetAside

ZONE = "America/New_York"
APPOINTMENTS = 50_000
QUARANTINED = 1_168
REMINDER_ROWS = 12_000
SET_ASIDE = 250
NAMES = ("connector", "external_id", "status", "start_utc", "end_utc", "timezone", "type", "content_hash",
         "version", "created_at", "updated_at")


@dataclass(frozen=True)
class BigStore:
    settings: Path
    starts: list[datetime]  # every appointment's start, as written

    def in_window(self, first: datetime, end: datetime) -> int:
        return sum(1 for start in self.starts if first <= start < end)


def _starts(now: datetime) -> list[datetime]:
    """From 20 days ago to 80 days ahead, evenly: a default 7-day window holds ~3,500."""
    first, step = now - timedelta(days=20), timedelta(days=100) / APPOINTMENTS
    return [(first + step * i).replace(microsecond=0) for i in range(APPOINTMENTS)]


def build(folder: Path) -> BigStore:
    url = f"sqlite:///{folder / 'big.db'}"
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    starts = _starts(now)
    rows = [("emr", f"A{i}", "booked", start, start + timedelta(minutes=20), ZONE, "Follow-up", f"h{i}", 1, now, now)
            for i, start in enumerate(starts)]
    with engine.begin() as connection:
        bulk.insert_rows(connection, Appointment.__table__, NAMES, rows)  # type: ignore[attr-defined]
        connection.execute(insert(Quarantine.__table__), [  # type: ignore[attr-defined]
            {"run_id": "r1", "connector": "emr", "position": f"export.csv:{i + 2}", "record_id": f"B{i}",
             "field": "status", "reason": "unknown status word", "item_key": f"k{i}", "status": "open",
             "seen_count": 1, "created_at": now - timedelta(minutes=i), "last_seen": now - timedelta(minutes=i)}
            for i in range(QUARANTINED)])
        connection.execute(insert(REMINDERS), [
            {"key": f"r{i}", "appointment_id": i + 1, "connector": "emr", "recipient": "patient", "kind": "reminder",
             "offset": "1d", "version": 1, "due_at": starts[i] - timedelta(days=1),
             "status": "sent" if i % 3 else "pending", "channel": "sms", "created_at": now, "updated_at": now}
            for i in range(REMINDER_ROWS)])
        connection.execute(insert(SetAside.__table__), [  # type: ignore[attr-defined]
            {"stage": "calendar", "item": f"appointment:{i + 1}", "appointment_id": i + 1, "connector": "emr",
             "external_id": f"A{i}", "reason": "CalendarError: quota", "status": "open", "attempts": 1,
             "first_at": now, "last_at": now - timedelta(seconds=i)} for i in range(SET_ASIDE)])
    engine.dispose()
    settings = folder / "settings.yaml"
    settings.write_text(f"clinic:\n  timezone: {ZONE}\n  default_region: US\nstore:\n  url: \"{url}\"\n"
                        "logging:\n  level: warning\n", encoding="utf-8")
    return BigStore(settings, starts)


@pytest.fixture(scope="session")
def big(tmp_path_factory: pytest.TempPathFactory) -> BigStore:
    return build(tmp_path_factory.mktemp("big"))


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="session")
def run(big: BigStore) -> Run:
    """`clinicsync --config <big> ARGS`, in-process; stdout is not a terminal, as in a pipe."""
    runner = CliRunner()

    def invoke(*args: str, expect: int | None = 0) -> tuple[int, str, str]:
        try:
            result = runner.invoke(app, ["--config", str(big.settings), *args], catch_exceptions=False)
        finally:
            structlog.reset_defaults()
        if expect is not None:
            assert result.exit_code == expect, (args, result.exit_code, result.stdout[-2000:], result.stderr)
        return result.exit_code, result.stdout, result.stderr

    return invoke


def clinic_day(offset_days: int = 0) -> datetime:
    """Midnight in the clinic's zone, ``offset_days`` from today there, as UTC."""
    local = datetime.now(ZoneInfo(ZONE)).replace(hour=0, minute=0, second=0, microsecond=0)
    day = (local + timedelta(days=offset_days)).date()
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
