"""The README's demo commands, typed at 02:30 UTC (9:30 pm the evening before in New York),
send the demo's confirmations. The README's old `--at "$(date -u -d tomorrow …T13:00:00Z)"`
took the UTC date: between 00:00 and 05:00 UTC it named the morning *after* the clinic's
tomorrow, and all 288 confirmations were skipped as too late ("sent 8, skipped 348")."""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from tests.conftest import ROOT

NIGHT = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)  # a Friday; 21:30 on Thursday in New York
# 03:30 in New York: the confirmations are held until 08:00 today, and "tomorrow 08:00" is
# exactly their latest moment (a notice's max_lateness, 1d, later).
AFTER_MIDNIGHT = datetime(2026, 11, 27, 8, 30, tzinfo=UTC)


def readme_commands() -> list[list[str]]:
    """The `clinicsync …` commands of the README's first command line and its remind example, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    first = blocks[0].strip()
    assert first == ("python3 -m pip install -q uv && uv sync --frozen --compile-bytecode && uv run --frozen "
                     "clinicsync demo reset && uv run --frozen clinicsync sync --once")
    remind = next(block.strip() for block in blocks if "clinicsync remind" in block)
    # The shell's `date -u` at that moment, as the old example ran it (the test that failed before).
    remind = remind.replace('"$(date -u -d tomorrow +%Y-%m-%dT13:00:00Z)"', "2026-11-28T13:00:00Z")
    commands = [part.strip() for part in first.split("&&")] + [remind]
    return [shlex.split(c)[4:] for c in commands
            if c.startswith("uv run --frozen clinicsync ")]


def test_the_readmes_remind_example_is_a_clinic_time_not_a_shell_date() -> None:
    commands = readme_commands()
    assert [c[:2] for c in commands] == [["demo", "reset"], ["sync", "--once"], ["remind", "--once"]]
    assert "date -u" not in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("moment", [NIGHT, AFTER_MIDNIGHT], ids=["0230Z", "0830Z"])
def test_the_readme_demo_at_night_sends_the_confirmations_and_a_later_at_says_what_it_skips(
        moment: datetime, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CLINICSYNC_STORE_URL", raising=False)
    (tmp_path / "settings.yaml").write_text((ROOT / "settings.yaml").read_text(encoding="utf-8"))
    run = cli(tmp_path / "settings.yaml")
    *setup, remind = readme_commands()
    with time_machine.travel(moment, tick=True):
        for command in setup:
            run(*command)
            for written in (tmp_path / "examples" / "drop").glob("*.csv"):  # the file system's clock is not faked
                os.utime(written, (time.time() - 60, time.time() - 60))
        _, out, err = run(*remind)
        written = [p for p in (tmp_path / ".clinicsync" / "outbox").rglob("*") if p.is_file()]
        _, skipped_rows, _ = run("reminders", "list", "--all", "--json", "--status", "skipped")
        # Then a rehearsal two mornings on: the Chicago confirmations still held are a day late by then.
        _, later, said = run("remind", "--once", "--at", "+2d")
    sent, skipped, deferred = (int(re.search(rf"{word} (\d+)", out)[1])  # type: ignore[index]
                               for word in ("sent", "skipped", "quiet hours"))
    # 08:00 in New York: the ~290 confirmations held by the quiet hours until then go, but for
    # the Chicago satellite's (07:00 there: still quiet, back to pending until 08:00 its time).
    assert sent >= 200 and sent + deferred >= 270, (out, err)
    assert len(written) == sent
    late = [row for row in json.loads(skipped_rows)["items"]
            if row["kind"] == "confirmation" and row["reason"] == "too late"]
    assert not late, late  # (reminders for visits early tomorrow may be late by then: said, counted)
    assert skipped < 60, (out, err)
    warned = re.search(r"is (\d+) h ahead of now: (\d+) message\(s\) .* skipped as too late", said)
    assert warned and int(warned[2]) >= deferred, said
    assert f"{warned[2]} too late" in later, later  # the summary's breakdown counts the same
