"""Four dispatcher processes share 10,000 due reminders on one PostgreSQL store
(FOR UPDATE SKIP LOCKED claims): the provider takes exactly 10,000 messages, one per
reminder, and every process really sent (the fake holds the first sends until all four
have arrived, each with a sender number of its own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import Child, Probe
from tests.reliability.reminders import assert_never_twice, phone, plan_reminders, reminder_settings, reminders
from tests.reliability.twilio_fake import TwilioFake

pytestmark = pytest.mark.postgres

ROWS, WORKERS = 10_000, 4
HANG_GUARD = 1200.0  # seconds per worker, for a crowded machine; no assertion depends on speed


def test_four_dispatcher_processes_send_10000_reminders_exactly_once(postgres_url: str, tmp_path: Path) -> None:
    fake = TwilioFake(parties=WORKERS).start()
    configs = []
    for n in range(WORKERS):  # the same settings but for the sending number, to tell the workers apart
        folder = tmp_path / f"worker{n}"
        folder.mkdir()
        configs.append(reminder_settings(folder, postgres_url, fake.notifier(from_number=f"+1500555{n:04d}"),
                                         workers=8))
    plan_reminders(configs[0], ROWS)
    probe = Probe(postgres_url)
    workers: list[Child] = []
    try:
        workers = [Child(config, "remind", "--once", "--json", tag="worker") for config in configs]
        codes = [w.wait(HANG_GUARD) for w in workers]
        assert codes == [0] * WORKERS, [w.stderr for w in workers]
        accepted = fake.settle()
        assert sum(accepted.values()) == ROWS and set(accepted) == {phone(n) for n in range(ROWS)}
        assert max(accepted.values()) == 1, "a reminder went out twice"
        rows = reminders(probe)
        assert_never_twice(rows, accepted)
        assert {r.status for r in rows} == {"sent"} and len(rows) == ROWS
        reports = [w.report() for w in workers]
        assert sum(r["sent"] for r in reports) == ROWS
        assert [r["sent"] > 0 for r in reports] == [True] * WORKERS
        assert sorted(fake.senders) == [f"+1500555{n:04d}" for n in range(WORKERS)]
        assert [fake.senders[f"+1500555{n:04d}"] for n in range(WORKERS)] == [r["sent"] for r in reports]
        deliveries = probe.scalar("SELECT count(*) FROM delivery WHERE outcome = 'sent'")
        assert deliveries == ROWS
    finally:
        for worker in workers:
            if worker.running():
                worker.kill()
        probe.close()
        fake.stop()
