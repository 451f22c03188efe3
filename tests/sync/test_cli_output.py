"""What the CLI prints, piped and on a terminal: times in the clinic's zone, named once on
the screen with its offset (--utc for UTC), whole values when piped (no 80-column cut), --format csv/json, `status` in
words, one error per bad setting, --version, and flags shown without a type."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clinicsync.common.shown_time import shown_moment
from clinicsync.sync.store.store import Store
from tests.conftest import Cli
from tests.sync.reminders.conftest import appointment, put

SQLITE = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
START = datetime(2030, 6, 12, 14, 0, tzinfo=UTC)  # 10:00 in New York (EDT, -04:00)
SHOWN = shown_moment(START, "America/New_York", "en-US")  # 'Wed, Jun 12, 2030, 10:00 AM' (babel's spaces)
LONG_TYPE = "Annual physical with fasting blood work and a long description that no terminal fits"


@pytest.fixture
def config(write_settings: Callable[..., Path], store: Store) -> Path:
    put(store, appointment("A1", START, type=LONG_TYPE))
    return write_settings()


@SQLITE
def test_piped_lists_are_whole_and_in_the_clinic_zone(config: Path, cli: Callable[[Path | None], Cli]) -> None:
    _, out, err = cli(config)("appointments", "list", "--from", "2030-06-01")
    assert SHOWN in out and SHOWN.startswith("Wed, Jun 12, 2030, 10:00")  # through shown_time
    assert LONG_TYPE in out and "…" not in out
    assert out.startswith("start ") and "┃" not in out and "│" not in out  # plain columns when piped
    # the total on stderr (the pipe gets rows only), with the zone the times are in, named once
    assert re.fullmatch(r"showing 1 of 1 appointments; times in America/New_York \((EST|EDT), UTC-0[45]:00\), "
                        r"unless a zone follows the time", err.strip())
    _, utc, utc_err = cli(config)("appointments", "list", "--all", "--utc")
    assert "2030-06-12 14:00Z" in utc and "start (UTC)" in utc
    assert utc_err.strip() == "showing 1 of 1 appointments; times in UTC"
    _, text, csv_err = cli(config)("appointments", "list", "--all", "--format", "csv")
    assert csv_err.strip() == "showing 1 of 1 appointments"  # CSV's moments are ISO UTC: no zone to name
    [header, row] = list(csv.reader(io.StringIO(text)))
    assert header[0] == "start (UTC)" and row[0] == "2030-06-12T14:00:00Z"  # CSV is for machines: ISO UTC
    assert header[3] == "answer" and row[header.index("type")] == LONG_TYPE
    _, data, _ = cli(config)("appointments", "list", "--all", "--format", "json")
    page = json.loads(data)
    assert page["items"][0]["start"] == "2030-06-12T14:00:00Z"  # machines get UTC
    assert (page["total"], page["shown"], page["limit"]) == (1, 1, None)
    _, reminders, _ = cli(config)("reminders", "list", "--format", "csv")
    assert reminders.splitlines()[0].startswith("due (UTC),kind,offset")


@SQLITE
def test_status_reads_as_words(config: Path, cli: Callable[[Path | None], Cli]) -> None:
    _, out, _ = cli(config)("status")
    assert "reminders: pending 0 · sending 0" in out and "writeback: pending 0" in out
    assert "{" not in out and "'" not in out
    assert out.splitlines()[-1].startswith("times in America/New_York (")  # the screen's times, labelled once
    _, in_utc, _ = cli(config)("status", "--utc")
    assert in_utc.splitlines()[-1] == "times in UTC"
    _, data, _ = cli(config)("status", "--format", "json")
    assert set(json.loads(data)) >= {"connectors", "reminders", "writeback"}


def test_a_bad_setting_is_reported_once(tmp_path: Path, cli: Callable[[Path | None], Cli]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("clinic:\n  timezone: Mars/Base\n", encoding="utf-8")
    code, _, err = cli(bad)("status", expect=None)
    assert code == 2 and err.count("unknown IANA time zone 'Mars/Base'") == 1
    assert "(e.g. America/New_York)" in err  # one line, not folded at 80 columns


def test_version_and_flag_help(cli: Callable[[Path | None], Cli]) -> None:
    _, out, _ = cli(None)("--version")
    assert re.fullmatch(r"clinicsync \d+\.\d+\.\d+\S*\n", out)
    _, helptext, _ = cli(None)("reminders", "list", "--help")
    assert "--utc" in helptext and "<table|plain|csv|json>" in helptext and "<bool>" not in helptext


@SQLITE
def test_on_a_terminal_a_table_in_the_clinic_zone(config: Path) -> None:
    main, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "200"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen([sys.executable, "-m", "clinicsync.sync.cli", "--config", str(config),
                                "appointments", "list", "--all"],
                               stdin=secondary, stdout=secondary, stderr=secondary, env=env, close_fds=True)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert process.wait(timeout=60) == 0
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode("utf-8", "replace"))
    assert "┏" in screen and SHOWN in screen
    caption = " ".join(screen.split())
    assert "showing 1 of 1 appointments; times in America/New_York (" in caption  # the table's caption
