"""Dispatchers as real processes: two of them against PostgreSQL never send a reminder
twice, and a process killed in the middle of a send leaves `unknown`, never re-sent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from tests.conftest import ROOT
from tests.sync.reminders.conftest import SettingsMaker, appointment, put
from tests.sync.reminders.fakes import read_log

BOOKED_AT = datetime(2026, 6, 1, 16, tzinfo=UTC)
START = datetime(2026, 6, 12, 14, tzinfo=UTC)
CONFIRMATIONS_ONLY = ("quiet_hours: null\nagenda: {enabled: false}\noffsets: []\nchannels: [sms]\n"
                      "routes: {sms: texts, email: mails}\nworkers: 4")


def remind(config: Path, site: Path, at: datetime) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    return subprocess.Popen(
        [sys.executable, "-c", "from sync.cli import app; app()", "--config", str(config), "--log-level", "warning",
         "remind", "--once", "--at", at.isoformat(), "--json"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def status_counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as connection:
        return dict(connection.execute(
            select(REMINDERS.c.status, func.count()).group_by(REMINDERS.c.status)).all())


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
# Each process holds up to two claimed batches (8 threads x 8) while waiting for the other:
# 400 leaves the second plenty to claim past the first's locks; 2,000 is the soak variant.
@pytest.mark.parametrize("count", [400, pytest.param(2000, marks=pytest.mark.soak)])
def test_two_dispatcher_processes_send_each_reminder_exactly_once(
        count: int, store: Store, reminder_settings: SettingsMaker, scripted: Path, tmp_path: Path) -> None:
    settings = reminder_settings(CONFIRMATIONS_ONLY.replace("workers: 4", "workers: 8"),
                                 notifier_keys=f"rendezvous: {tmp_path / 'met'}\nparties: 2")
    put(store, *(appointment(f"A{i}", START + timedelta(minutes=i), patient=f"P{i}", phone=f"+1212555{i:04d}")
                 for i in range(count)))
    assert plan(settings, store, BOOKED_AT).planned == count
    config = Path(settings.source)
    # Both processes wait for each other at their first send, so they really run side by side.
    processes = [remind(config, scripted, BOOKED_AT) for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err for _, err in outputs]
    reports = [json.loads(out) for out, _ in outputs]
    lines = read_log(tmp_path / "texts.jsonl")
    keys = Counter(line["key"] for line in lines)
    assert len(lines) == count and len(keys) == count and max(keys.values()) == 1
    assert sum(r["sent"] for r in reports) == count
    assert all(r["sent"] > 0 for r in reports)  # the work was shared
    assert len({line["pid"] for line in lines}) == 2
    assert status_counts(store) == {"sent": count}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_dispatcher_killed_during_a_send_leaves_unknown_and_nothing_is_resent(
        store: Store, reminder_settings: SettingsMaker, scripted: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    settings = reminder_settings(CONFIRMATIONS_ONLY.replace("workers: 4", "workers: 1"),
                                 outcomes='{"+12125550000": kill}')
    put(store, appointment("A0", START, patient="P0", phone="+12125550000"),
        appointment("A1", START + timedelta(minutes=30), patient="P1", phone="+12125550001"))
    plan(settings, store, BOOKED_AT)
    process = remind(Path(settings.source), scripted, BOOKED_AT)
    process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL
    assert status_counts(store) == {"sending": 2}  # one handed over, one only claimed
    # Once the lease has run out, the next dispatcher reports the first as unknown and sends the second.
    calm = load_settings(Path(reminder_settings(CONFIRMATIONS_ONLY).source))
    later = datetime.now(UTC) + timedelta(seconds=calm.reminders.lease_seconds + 1)
    report = Dispatcher(calm, store, BOOKED_AT, clock=lambda: later).run()
    assert (report.unknown, report.sent) == (1, 1)
    assert Dispatcher(calm, store, BOOKED_AT).run().as_dict() == {"sent": 0, "failed": 0, "skipped": 0,
                                                                  "unknown": 0}
    keys = Counter(line["key"] for line in read_log(tmp_path / "texts.jsonl"))
    assert keys == {"a1:patient:confirmation:v1": 1, "a2:patient:confirmation:v1": 1}
    run = cli(Path(calm.source))
    _, out, _ = run("reminders", "list", "--all", "--json", "--status", "unknown")
    [row] = json.loads(out)["items"]
    assert (row["appointment"], row["status"], row["channel"]) == ("c1:A0", "unknown", "sms")
    assert "lease ran out" in row["reason"]
    _, out, _ = run("status", "--json")
    assert json.loads(out)["reminders"]["unknown"] == 1
