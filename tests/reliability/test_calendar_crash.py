"""kill -9 `sync --once` or `run` while it pushes appointments to Google Calendar (the
loopback fake, driven by google-api-python-client), restart it, and check: no calendar
event is ever created twice (deterministic event ids: a re-sent insert meets 409 and
becomes an update), none is lost, and the store's links end settled, so a further sync
calls Google not at all."""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from clinicsync.sync.calendar.provider import event_id
from clinicsync.sync.store.db import make_engine, upgrade
from tests.reliability.harness import Child, Probe, soak_after_first, wait_for, write_drop, write_settings
from tests.sync.calendar.fake_google import FakeGoogle

pytestmark = pytest.mark.postgres

ROWS, BATCH = 600, 150  # four batches: kills land mid-push (was 1000 rows: 177 s of a loaded suite)
SEEDS = [int(s) for s in os.environ.get("CLINICSYNC_CALENDAR_SEEDS", "31").split(",")]
KILLS_PER_SEED = int(os.environ.get("CLINICSYNC_CALENDAR_KILLS", "2"))
COMMANDS = (("sync", "--once", "--json"), ("run",))


def _key_pair() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def _inserted(fake: FakeGoogle) -> Counter[str]:
    """Events Google created, per id (a refused second insert, 409, creates nothing)."""
    with fake.lock:
        return Counter(str((c.body or {}).get("id")) for c in fake.calls if c.method == "POST" and c.status == 200)


def _live(fake: FakeGoogle) -> list[str]:
    with fake.lock:
        return [e for calendar in list(fake.calendars) for e in fake.live(calendar)]


def _assert_no_duplicate(fake: FakeGoogle, expected: set[str]) -> None:
    inserted = _inserted(fake)
    assert max(inserted.values(), default=0) <= 1, "an event was created twice"
    live = _live(fake)
    assert len(live) == len(set(live)) and set(live) <= expected, "an event that no appointment owns"


@pytest.mark.parametrize("seed", soak_after_first(SEEDS))
def test_kill_9_during_calendar_push_then_restart(seed: int, postgres_url: str, tmp_path: Path) -> None:
    rng = random.Random(seed)
    private, public = _key_pair()
    fake = FakeGoogle(public).start()
    drop = write_drop(tmp_path / "drop", "export.csv", ROWS, prefix=f"C{seed}-")
    config = write_settings(tmp_path, postgres_url, [{"name": "emr", "drop_dir": str(tmp_path / "drop"),
                                                      "batch_size": BATCH}])
    settings = yaml.safe_load(config.read_text())
    settings["calendar"] = {"provider": "google", "google": {
        "key_file": str(fake.key_file(tmp_path, private)), "api_root": fake.url,
        "user_calls_per_minute": 1_000_000, "retry": {"attempts": 3, "initial_seconds": 0.001, "max_seconds": 0.01}}}
    config.write_text(yaml.safe_dump(settings))
    engine = make_engine(postgres_url)
    upgrade(engine)
    engine.dispose()
    expected = {event_id("emr", i) for i in drop.valid_ids}
    probe = Probe(postgres_url)
    kills_mid_push = 0
    try:
        for round_ in range(KILLS_PER_SEED):
            before = len(_live(fake))
            target = before + rng.randint(1, max(1, (len(expected) - before) // 2))
            child = Child(config, *rng.choice(COMMANDS), tag=f"killed{round_}")
            if wait_for(lambda target=target: len(_live(fake)) >= target, child, step=0.005):
                time.sleep(rng.uniform(0, 0.05))  # mid-batch, between batches, while recording outcomes
                child.kill()
                kills_mid_push += len(_live(fake)) < len(expected)
            else:
                assert child.wait() == 0, child.stderr
            _assert_no_duplicate(fake, expected)

        final = Child(config, "sync", "--once", "--json", tag="final")
        assert final.wait() == 0, final.stderr
        report = final.report()["calendar"]
        assert report["failed"] == 0, report
        _assert_no_duplicate(fake, expected)
        assert sorted(_live(fake)) == sorted(expected), "an appointment has no event"
        assert set(_inserted(fake)) == expected
        states = dict(probe.rows("SELECT state, count(*) FROM calendarlink GROUP BY state"))
        assert states == {"present": len(expected)}, states

        fake.reset_counts()
        again = Child(config, "sync", "--once", "--json", tag="again")
        assert again.wait() == 0, again.stderr
        assert orjson.loads(again.stdout)["calendar"]["unchanged"] == len(expected)
        assert fake.api_requests == [], "a settled calendar was called again"
    finally:
        probe.close()
        fake.stop()
    assert kills_mid_push >= 1, "no kill landed while events were being pushed"
