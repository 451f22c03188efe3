"""Four dispatcher processes share the due reminders on one PostgreSQL store (FOR UPDATE
SKIP LOCKED claims): the provider takes exactly one message per reminder, and every process
really sent (the fake holds the first sends until all four have arrived, each with a sender
number of its own).

The main suite runs it with 800 reminders: each process holds up to two claimed batches
(8 threads x 8 = 128 reminders) while the fake holds its sends, so three early processes can
hold 384 and the fourth still finds some to claim past their locks, which is what
exactly-once rests on. 10,000 reminders (82 s on 2 cores) is the soak variant
(``pytest -m soak``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import Child, Probe
from tests.reliability.reminders import assert_never_twice, phone, plan_reminders, reminder_settings, reminders
from tests.reliability.twilio_fake import TwilioFake

pytestmark = pytest.mark.postgres

WORKERS = 4
HANG_GUARD = 1200.0  # seconds per worker, for a crowded machine; no assertion depends on speed


@pytest.mark.parametrize("count", [800, pytest.param(10_000, marks=pytest.mark.soak)])
def test_four_dispatcher_processes_send_each_reminder_exactly_once(count: int, postgres_url: str,
                                                                   tmp_path: Path) -> None:
    fake = TwilioFake(parties=WORKERS).start()
    configs = []
    for n in range(WORKERS):  # the same settings but for the sending number, to tell the workers apart
        folder = tmp_path / f"worker{n}"
        folder.mkdir()
        configs.append(reminder_settings(folder, postgres_url, fake.notifier(from_number=f"+1500555{n:04d}"),
                                         workers=8))
    plan_reminders(configs[0], count)
    probe = Probe(postgres_url)
    workers: list[Child] = []
    try:
        workers = [Child(config, "remind", "--once", "--json", tag="worker") for config in configs]
        codes = [w.wait(HANG_GUARD) for w in workers]
        assert codes == [0] * WORKERS, [w.stderr for w in workers]
        accepted = fake.settle()
        assert sum(accepted.values()) == count and set(accepted) == {phone(n) for n in range(count)}
        assert max(accepted.values()) == 1, "a reminder went out twice"
        rows = reminders(probe)
        assert_never_twice(rows, accepted)
        assert {r.status for r in rows} == {"sent"} and len(rows) == count
        reports = [w.report() for w in workers]
        assert sum(r["sent"] for r in reports) == count
        assert [r["sent"] > 0 for r in reports] == [True] * WORKERS
        assert sorted(fake.senders) == [f"+1500555{n:04d}" for n in range(WORKERS)]
        assert [fake.senders[f"+1500555{n:04d}"] for n in range(WORKERS)] == [r["sent"] for r in reports]
        deliveries = probe.scalar("SELECT count(*) FROM delivery WHERE outcome = 'sent'")
        assert deliveries == count
    finally:
        for worker in workers:
            if worker.running():
                worker.kill()
        probe.close()
        fake.stop()
