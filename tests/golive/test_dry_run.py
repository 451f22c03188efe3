"""`sync --once --dry-run` shows what a run would store and send, and writes nothing: no
appointment, cursor, run, quarantine item or reminder; no file archived; no outbox file.
On SQLite and PostgreSQL stores."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

DAY = (date.today() + timedelta(days=10)).isoformat()
HEADER = "appointment_id,start,duration_minutes,status,patient_id,patient_phone\n"
SETTINGS = """
notifiers:
  - {name: outbox, kind: outbox, directory: %s}
reminders:
  offsets: [3d, 1d]
  routes: {sms: outbox, email: outbox, whatsapp: outbox}
  agenda: {enabled: false}
"""


def state(run: Any) -> dict[str, Any]:
    """Everything a run could have left behind, as the CLI shows it."""
    out = {}
    for key, args in {"appointments": ("appointments", "list", "--all", "--json", "--include-deleted"),
                      "status": ("status", "--json"),
                      "quarantine": ("quarantine", "list", "--history", "--all", "--json"),
                      "reminders": ("reminders", "list", "--all", "--json")}.items():
        out[key] = json.loads(run(*args)[1])
    return out


def test_a_dry_run_reports_the_run_and_leaves_no_trace(tmp_path: Path, drop_dir: Path,
                                                       write_settings: Callable[..., Path], cli: Any) -> None:
    (drop_dir / "a.csv").write_text(HEADER + "".join(
        f"A{n},{DAY} {9 + n}:00,30,{'Confirmd' if n == 3 else 'booked'},P{n},(212) 555-010{n}\n"
        for n in range(4)), encoding="utf-8")
    outbox, archive = tmp_path / "outbox", tmp_path / "archive"
    connector = (f"- name: front\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop_dir}\n"
                 f"  archive_dir: {archive}\n  settle_seconds: 0\n")
    run = cli(write_settings(connector, extra=SETTINGS % outbox))
    empty = state(run)

    _, out, _ = run("sync", "--once", "--dry-run", "--json")
    rehearsal = json.loads(out)
    counts = rehearsal["connectors"]["front"]
    assert (counts["created"], counts["quarantined"], counts["error"]) == (3, 1, None)
    assert rehearsal["would_send"] == {"pending": {"reminder": 6}, "skipped": {}}  # go-live: reminders, no confirmation
    assert rehearsal["dry_run"] == {"rolled_back": True}
    assert state(run) == empty
    assert (drop_dir / "a.csv").exists() and not archive.exists() and not outbox.exists()
    _, text, _ = run("sync", "--once", "--dry-run")
    assert "would plan 6 reminder" in text and "nothing was written" in text

    _, out, _ = run("sync", "--once", "--json")  # the real run does what the rehearsal said
    real = json.loads(out)
    assert real["connectors"]["front"] == counts
    assert real["reminders"]["planned"] == 6
    assert not (drop_dir / "a.csv").exists()  # archived by the real run
    after_real = state(run)

    (drop_dir / "b.csv").write_text(HEADER + f"A9,{DAY} 15:00,30,booked,P9,(212) 555-0199\n", encoding="utf-8")
    _, out, _ = run("sync", "--once", "--dry-run", "--json")
    rehearsal = json.loads(out)
    assert rehearsal["connectors"]["front"]["created"] == 1
    # a booking after go-live: confirmed
    assert rehearsal["would_send"] == {"pending": {"confirmation": 1, "reminder": 2}, "skipped": {}}
    assert state(run) == after_real  # the cursor did not move: the real run still finds the new file
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["connectors"]["front"]["created"] == 1
