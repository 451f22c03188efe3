"""`check` says plainly when reminders are planned but no notifier can send them (issue 57):
a settings file with `notifiers: []` (every reminder would be skipped "no reachable channel";
without the key, the dry-run outbox is the default and sends every channel, as files),
notifiers that send none of reminders.channels, or some channel nobody sends. The message
names the key and what to add; the dispatch's own routing decides what "sends" means. And
what `check` reads: a waitlist source, mapped as the waitlist stage maps it; an archived
export, sampled wide enough for the plausibility profile."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.rehearsal.support import csv_connector, mapping, row, visit_start, write_export

OUTBOX = "  - {name: outbox, kind: outbox, directory: outbox}\n"
SMTP = "  - {name: mail, kind: smtp, host: 127.0.0.1, port: 2525, security: none, sender: 'C <r@clinic.example>'}\n"


def notifier_findings(tmp_path: Path, drop_dir: Path, write_settings: Callable[..., Path], cli: Any,
                      extra: str) -> list[str]:
    write_export(drop_dir / "export.csv", [row(n, visit_start()) for n in range(3)])
    run = cli(write_settings(csv_connector(drop_dir, mapping(tmp_path)), extra=extra))
    _, out, _ = run("check", "--json", "--offline")  # a warning: check passes
    return [f["message"] for f in json.loads(out)["findings"] if f["part"] == "notifiers"]


def test_no_notifiers_at_all_is_named_with_the_key_and_the_fix(tmp_path: Path, drop_dir: Path,
                                                               write_settings: Callable[..., Path], cli: Any) -> None:
    (message,) = notifier_findings(tmp_path, drop_dir, write_settings, cli, "notifiers: []\n")
    assert "the settings name no notifier (`notifiers: []`" in message and "skipped 'no reachable channel'" in message
    assert "kind: outbox" in message and "reminders.channels: sms, email" in message
    # Without the key, the default dry-run outbox sends every channel (as files): nothing to name here.
    assert notifier_findings(tmp_path, drop_dir, write_settings, cli, "") == []


def test_an_outbox_sends_every_channel(tmp_path: Path, drop_dir: Path, write_settings: Callable[..., Path],
                                       cli: Any) -> None:
    assert notifier_findings(tmp_path, drop_dir, write_settings, cli, f"notifiers:\n{OUTBOX}") == []


def test_a_channel_no_notifier_sends_is_named(tmp_path: Path, drop_dir: Path, write_settings: Callable[..., Path],
                                              cli: Any) -> None:
    (message,) = notifier_findings(tmp_path, drop_dir, write_settings, cli, f"notifiers:\n{SMTP}")
    assert message.startswith("reminders.channels lists sms, which no notifier") and "mail (smtp)" in message
    only_sms = notifier_findings(tmp_path, drop_dir, write_settings, cli,
                                 f"notifiers:\n{SMTP}reminders: {{channels: [sms]}}\n")
    assert len(only_sms) == 1 and "every reminder would be skipped" in only_sms[0]


def test_no_reminders_no_word(tmp_path: Path, drop_dir: Path, write_settings: Callable[..., Path], cli: Any) -> None:
    assert notifier_findings(tmp_path, drop_dir, write_settings, cli, "reminders: {enabled: false}\n") == []


def test_a_waitlist_source_is_read_and_mapped_by_check(drop_dir: Path, write_settings: Callable[..., Path],
                                                       cli: Any) -> None:
    """A source whose mapping says `record: waitlist` is checked as the waitlist stage maps it:
    a row that would be quarantined there fails check, by field, with its position."""
    (drop_dir / "wl.csv").write_text("id,patient_id,windows\na,p1,mon-fri 09:00-12:00\nb,p2,whenever\n"
                                     "c,p3,tue 14:00-16:00\n", encoding="utf-8")
    run = cli(write_settings(f"- {{name: wl, kind: csv, mapping: csv_waitlist, drop_dir: {drop_dir}, "
                             "mode: snapshot, settle_seconds: 0}\n", extra=f"notifiers:\n{OUTBOX}"))
    _, out, _ = run("check", "--json", expect=1)
    (source,) = json.loads(out)["connectors"]
    assert source["sample"]["records"] == 3 and source["sample"]["mapped"] == 2
    (reason,) = source["sample"]["quarantined"]
    assert reason.startswith("windows:") and source["sample"]["examples"][reason] == "wl.csv:3"
    assert "waitlist source" in source["note"] and "2 of 3 entries map" in source["note"]
    assert (drop_dir / "wl.csv").exists()  # nothing archived
    (drop_dir / "wl.csv").write_text("id,patient_id,windows\na,p1,mon-fri 09:00-12:00\n", encoding="utf-8")
    run("check")


def test_an_archived_export_is_profiled_on_up_to_a_thousand_records(tmp_path: Path, drop_dir: Path,
                                                                     write_settings: Callable[..., Path],
                                                                     cli: Any) -> None:
    """A folder whose only file is archived gives a sample: big enough for the profile (not 20)."""
    archive = tmp_path / "archive"
    write_export(archive / "export.csv", [row(n, visit_start() + timedelta(hours=n % 8 - 7)) for n in range(1200)])
    connector = csv_connector(drop_dir, mapping(tmp_path)) + f"  archive_dir: {archive}\n"
    _, out, _ = cli(write_settings(connector, extra=f"notifiers:\n{OUTBOX}"))("check", "--json", expect=1)
    (source,) = json.loads(out)["connectors"]
    assert not source["sample"]["whole"] and source["sample"]["records"] == 1000
    profile = source["plausibility"]
    assert profile["visits"] == 1000 and "local start hours 00:00-23:59" not in profile["summary"]
    (finding,) = [f for f in profile["findings"] if f["level"] == "error"]
    # 08:00-15:59 written as UTC: New York's wall-clock times read as UTC (03:00-10:59 there)
    assert "times look shifted by -5 hours" in finding["message"] and "08:00-15:59" in finding["message"]
