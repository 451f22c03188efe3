"""kill -9 a reminder dispatcher (`remind --once` or `run`, alone or beside a second
`remind --once`) at random points, restart it, and check shared/DESIGN.md's invariants
2 and 3 at the fake provider and in the store: never twice (each reminder reaches Twilio
at most once, across every kill and restart), never lost (after the last restart every
reminder has ended: claims whose lease ran out are recovered), and a send a kill cut
short is `unknown`, reported, and sent again only with `--resend-unknown`."""

from __future__ import annotations

import json
import os
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.reliability.harness import WAIT_LIMIT, Child, Probe, soak_after_first, wait_for
from tests.reliability.reminders import TERMINAL, assert_never_twice, plan_reminders, reminder_settings, reminders
from tests.reliability.twilio_fake import TwilioFake

pytestmark = pytest.mark.postgres

ROWS = 240
LEASE = 2  # the shortest lease settings allow: the final restart waits for it to run out (a wait, not
# a proof: every never-twice guard is the claimant's token, not the clock)
SEEDS = [int(s) for s in os.environ.get("CLINICSYNC_DISPATCH_SEEDS", "21,22").split(",")]
KILLS_PER_SEED = int(os.environ.get("CLINICSYNC_DISPATCH_KILLS", "2"))
COMMANDS = (("remind", "--once", "--json"), ("run",))


def _count(probe: Probe, status: str) -> int:
    return int(probe.scalar("SELECT count(*) FROM reminder WHERE status = :s", s=status))


def _wait_out_leases(probe: Probe) -> None:
    """Sleep until every claim a kill left behind has expired (a wait, not an assertion)."""
    last: datetime | None = probe.scalar("SELECT max(lease_until) FROM reminder WHERE status = 'sending'")
    if last is not None:
        left = (last.replace(tzinfo=last.tzinfo or UTC) - datetime.now(UTC)).total_seconds()
        assert left <= WAIT_LIMIT, "a lease far in the future"
        time.sleep(max(0.0, left) + 0.5)


@pytest.mark.parametrize("seed", soak_after_first(SEEDS))
def test_kill_9_during_dispatch_then_restart(seed: int, postgres_url: str, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    fake = TwilioFake().start()
    config = reminder_settings(tmp_path, postgres_url, fake.notifier(), workers=8, lease_seconds=LEASE)
    plan_reminders(config, ROWS)
    probe = Probe(postgres_url)
    kills_in_flight = 0
    try:
        for round_ in range(KILLS_PER_SEED):
            pending, sent = _count(probe, "pending"), _count(probe, "sent")
            if not pending:
                break
            target = sent + rng.randint(1, max(1, pending // 2))
            child = Child(config, *rng.choice(COMMANDS), tag=f"killed{round_}")
            # Half the time a second dispatcher shares the work and outlives the killed one.
            partner = (Child(config, "remind", "--once", "--json", tag=f"partner{round_}")
                       if rng.random() < 0.5 else None)
            if wait_for(lambda target=target: _count(probe, "sent") >= target, child):
                time.sleep(rng.uniform(0, 0.05))  # land anywhere: claiming, handing over, sending, recording
                child.kill()
            else:
                assert child.wait() == 0, child.stderr
            if partner is not None:
                assert partner.wait() == 0, partner.stderr
            rows = reminders(probe)
            assert_never_twice(rows, fake.settle())
            kills_in_flight += any(r.status == "sending" for r in rows)

        # The last restart, once the leases the kills left have run out: it recovers them. What
        # they left is read after that wait: a statement a killed worker had already sent (its
        # "handing over" mark) may still commit on the server a moment after the kill.
        _wait_out_leases(probe)
        left = {r.key: r for r in reminders(probe) if r.status == "sending"}
        final = Child(config, "remind", "--once", "--json", tag="final")
        assert final.wait() == 0, final.stderr
        rows = reminders(probe)
        accepted = fake.settle()
        assert_never_twice(rows, accepted)
        assert len(rows) == ROWS
        assert {r.status for r in rows} <= {"sent", "unknown"} <= TERMINAL, "a reminder was left unfinished"
        status = {r.key: r.status for r in rows}
        for key, row in left.items():  # handed over -> unknown; only claimed -> sent now
            assert status[key] == ("unknown" if row.handed_over else "sent"), (key, row)
        unknown = {r.key for r in rows if r.status == "unknown"}
        assert final.report()["unknown"] == sum(r.handed_over for r in left.values())

        # Every unknown one is reported ...
        run = cli(config)
        _, out, _ = run("reminders", "list", "--all", "--json", "--status", "unknown")
        assert {r["key"] for r in json.loads(out)["items"]} == unknown
        assert all("may or may not have gone out" in r["reason"] for r in json.loads(out)["items"])
        _, out, _ = run("status", "--json")
        assert json.loads(out)["reminders"]["unknown"] == len(unknown)
        # ... and never sent again unless asked.
        _, out, _ = run("remind", "--once", "--json")
        assert json.loads(out) == {"sent": 0, "failed": 0, "skipped": 0, "unknown": 0, "retrying": 0, "deferred": 0}
        assert fake.settle() == accepted
        _, out, _ = run("remind", "--once", "--json", "--resend-unknown")
        assert json.loads(out)["sent"] == len(unknown)
        after = fake.settle()
        assert {r.status for r in reminders(probe)} == {"sent"}
        phones = {r.key: r.phone for r in rows}
        assert all(after[p] >= 1 for p in phones.values()), "a reminder never reached the provider"
        assert {p for p, n in after.items() if n > 1} <= {phones[k] for k in unknown}
    finally:
        probe.close()
        fake.stop()
    assert kills_in_flight >= 1, "no kill landed while reminders were being sent"
