"""The commands, and the done-when on the embedded default settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ROOT


def files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def next_eight_in_new_york() -> datetime:
    now = datetime.now(ZoneInfo("America/New_York"))
    today = datetime.combine(now.date(), time(8, 0), now.tzinfo)
    return today if now < today else datetime.combine(now.date() + timedelta(days=1), time(8, 0), now.tzinfo)


def test_the_embedded_default_plans_on_sync_and_writes_due_messages_once(
        tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CLINICSYNC_STORE_URL", raising=False)
    settings = (ROOT / "settings.yaml").read_text()
    assert "drop_dir: examples/drop" in settings and "name: outbox" in settings
    (tmp_path / "settings.yaml").write_text(settings)  # relative paths: the sample and store live in tmp_path
    run = cli(tmp_path / "settings.yaml")
    run("demo", "reset")  # a fresh sample from tomorrow, so the test never ages
    _, out, _ = run("sync", "--once", "--json")
    planned = json.loads(out)["reminders"]
    assert planned["planned"] > 200 and planned["events"] > 200
    outbox = tmp_path / ".clinicsync" / "outbox"
    # The sample's appointments start tomorrow from 08:00 New York time, when the quiet hours end.
    # Send at the next 08:00 there: the confirmations made now (held by the quiet hours until
    # then) and the day-ahead reminders are due and in time, whatever the hour of the run (at
    # 00:30 in New York tomorrow's 08:00 would leave the confirmations 31 h late: skipped).
    at = next_eight_in_new_york()
    _, out, _ = run("remind", "--once", "--at", at.astimezone(UTC).isoformat(), "--json")
    first = json.loads(out)
    written = files(outbox)
    assert first["sent"] > 0 and first["failed"] == first["unknown"] == 0
    assert len(written) == first["sent"]
    assert {p.suffix for p in written} <= {".eml", ".json"} and {p.parent.name for p in written} >= {"sms", "email"}
    _, out, _ = run("remind", "--once", "--at", at.astimezone(UTC).isoformat(), "--json")
    assert json.loads(out) == {"sent": 0, "failed": 0, "skipped": 0, "unknown": 0, "retrying": 0, "deferred": 0}
    assert files(outbox) == written
    _, out, _ = run("reminders", "list", "--all", "--json", "--status", "sent")
    rows = json.loads(out)["items"]
    assert len(rows) == first["sent"]
    # The doctors' agendas of the day go at 08:00 too (sorted first when the run is late at night in New York).
    row = next(r for r in rows if r["recipient"] == "patient")
    assert row["appointment"].startswith("demo-csv:A")
    assert row["kind"] in {"confirmation", "reminder"} and row["channel"] in {"sms", "email", "whatsapp"}
    assert row["due_at"].endswith("Z") and row["status"] == "sent" and row["reason"] is None
    _, out, _ = run("status", "--json")
    counts = json.loads(out)["reminders"]
    assert counts["sent"] == first["sent"] and counts["unknown"] == 0
    _, out, _ = run("sync", "--once", "--json")  # nothing changed: nothing new planned
    assert json.loads(out)["reminders"] == {"planned": 0, "skipped": 0, "cancelled": 0, "events": 0, "replanned": 0}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_bad_input_exits_2_with_the_reason(write_settings, cli) -> None:  # type: ignore[no-untyped-def]
    run = cli(write_settings(extra="notifiers:\n  - {name: outbox, kind: outbox}\n"))
    assert run("remind", expect=2)[0] == 2
    _, _, err = run("remind", "--once", "--at", "next tuesday", expect=2)
    assert "--at" in err
    _, _, err = run("reminders", "list", "--status", "lost", expect=2)
    assert "unknown status" in err
    run = cli(write_settings(extra="notifiers:\n  - {name: outbox, kind: outbox}\nreminders:\n"
                                   "  routes: {sms: twilio}\n"))
    _, _, err = run("remind", "--once", expect=2)
    assert "reminders.routes.sms" in err and "twilio" in err
    run = cli(write_settings(extra="reminders:\n  offsets: [3d, 2 weeks]\n"))
    _, _, err = run("reminders", "list", expect=2)
    assert "reminders.offsets" in err and "bad offset" in err


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_an_unquoted_yaml_time_is_refused_not_misread(write_settings, cli) -> None:  # type: ignore[no-untyped-def]
    run = cli(write_settings(extra="reminders:\n  quiet_hours: {start: 21:00, end: '08:00'}\n"))
    _, _, err = run("reminders", "list", expect=2)
    assert "reminders.quiet_hours.start" in err and "in quotes" in err
