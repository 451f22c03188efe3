"""`clinicsync waitlist --once` and the `waitlist` stage of `sync --once`/`run`, in-process as a
user types them; a bad `waitlist:` value names its key."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from clinicsync.sync.config.config_loader import ConfigError
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.service.pipeline import run_once, stages
from clinicsync.sync.store.model.waitlist import FREED_SLOTS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.stage import run_waitlist
from tests.sync.reminders.conftest import SettingsMaker
from tests.waitlist.test_offers import DAY, PHONE, SERVER, make, rows, texts, waiting_patients, waitlist


def test_waitlist_once_runs_one_cycle_and_reports_it(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path, cli: Any) -> None:
    settings = make(reminder_settings)
    waiting_patients(store)
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY)
    run = cli(tmp_path / "settings.yaml")
    _, out, _ = run("waitlist", "--once", "--at", DAY.isoformat(), "--json")
    result = json.loads(out)
    assert result["freed"] == 1 and result["offered"] == 2 and result["sent"] == 2
    assert len(texts(tmp_path)) == 2 and [s.status for s in rows(store, FREED_SLOTS)] == ["open"]
    _, out, _ = run("waitlist", "--once", "--at", (DAY + timedelta(minutes=1)).isoformat())
    assert "sent 0" in out and len(texts(tmp_path)) == 2
    run("waitlist", expect=2)  # without --once


def test_the_stage_runs_after_the_others_in_each_cycle(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    assert [s.key for s in stages()][-1] == "waitlist"
    settings = reminder_settings("quiet_hours: null\nroutes: {sms: texts, email: mails}",
                                 extra_notifiers=SERVER + waitlist())
    waiting_patients(store)
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1")
    report = run_once(settings, store)  # no connectors: the stages only, at the real time
    assert report.extras["waitlist"]["freed"] == 1 and report.extras["waitlist"]["sent"] == 2
    assert sorted(m["to"] for m in texts(tmp_path)) == ["+12125550201", "+12125550202"]
    assert run_once(settings, store).extras["waitlist"]["sent"] == 0


def test_offers_without_a_public_url_are_a_configuration_error(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path, cli: Any) -> None:
    settings = reminder_settings("quiet_hours: null", extra_notifiers="waitlist:\n  enabled: true\n")
    waiting_patients(store)
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY)
    _, _, err = cli(tmp_path / "settings.yaml")("waitlist", "--once", "--at", DAY.isoformat(), expect=2)
    assert "server.public_url" in err and texts(tmp_path) == []


@pytest.mark.parametrize(("section", "key"), [
    ("lead_time: 4 hours", "waitlist.lead_time"), ("hold: 0m", "waitlist.hold"),
    ("strategy: random", "waitlist.strategy"), ("batch_size: 0", "waitlist.batch_size"),
    ("match: same_clinic", "waitlist.match"), ("max_offers: 3", "waitlist.max_offers"),
])
def test_a_bad_value_names_its_key(write_settings: Any, section: str, key: str) -> None:
    path = write_settings(extra=f"waitlist:\n  {section}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert key in str(raised.value)


def test_with_the_dry_run_outbox_offers_are_written_as_files(store: Store, write_settings: Any,
                                                            tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    path = write_settings(extra=f"notifiers:\n  - {{name: outbox, kind: outbox, directory: \"{outbox}\"}}\n"
                                + SERVER + "reminders:\n  quiet_hours: null\n" + waitlist())
    settings = load_settings(path)
    waiting_patients(store)
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY)
    assert run_waitlist(settings, store, DAY)["sent"] == 2
    written = sorted(p for p in outbox.rglob("*") if p.is_file())
    assert len(written) == 2 and all("waitlist" in p.name for p in written)
    bodies = [p.read_text(encoding="utf-8") for p in written]
    assert all("https://clinic.example.org/w/" in body for body in bodies)


def test_offers_without_links_are_one_error_not_one_per_run(
        store: Store, reminder_settings: SettingsMaker) -> None:
    """The stage's `waitlist.no_links` was an error at every run of
    `sync --once` (288 a day under cron) until the setting is fixed; now once, the runs after
    it at debug (sync/runs/standing.py), and `.resolved` once the links can be made."""
    from structlog.testing import capture_logs

    without = reminder_settings("quiet_hours: null", extra_notifiers="waitlist:\n  enabled: true\n")
    with capture_logs() as logs:
        for minute in range(3):
            assert "error" in run_waitlist(without, store, DAY + timedelta(minutes=minute))
        fixed = reminder_settings("quiet_hours: null", extra_notifiers=SERVER + waitlist())
        assert "error" not in run_waitlist(fixed, store, DAY + timedelta(minutes=3))
    assert [line["log_level"] for line in logs if line["event"] == "waitlist.no_links"] == ["error", "debug", "debug"]
    assert [line["stage"] for line in logs if line["event"] == "waitlist.no_links.resolved"] == ["waitlist"]
